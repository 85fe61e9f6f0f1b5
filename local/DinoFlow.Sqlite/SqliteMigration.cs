using Microsoft.Data.Sqlite;

namespace DinoFlow.Sqlite;

/// <summary>
/// One step of a database's schema. A database's migrations are a list: the first brings an empty file to version 1,
/// the n-th brings version n-1 to n. Each runs once, in order, inside the transaction that records the new
/// <c>PRAGMA user_version</c>. A file made before versions were recorded reads as version 0, so migration 1 must also
/// take the schema that code made to version 1 (CREATE … IF NOT EXISTS, <see cref="Sql.AddColumnIfMissing"/>).
/// </summary>
public sealed record SqliteMigration(string Description, Action<SqliteConnection> Apply)
{
    /// <summary>A migration that is one SQL script (one or more statements).</summary>
    public static SqliteMigration Script(string description, string sql) => new(description, connection => Sql.Execute(connection, sql));
}
