using System.Globalization;
using Microsoft.Data.Sqlite;

namespace DinoFlow.Sqlite;

/// <summary>Commands with named parameters (<c>$name</c>) and typed reads; import with <c>using static DinoFlow.Sqlite.Sql;</c>.</summary>
public static class Sql
{
    /// <summary>A command with its parameters; a null value is SQL NULL.</summary>
    public static SqliteCommand Command(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var command = connection.CreateCommand();
#pragma warning disable CA2100 // SQL text is the caller's constant; values are parameters.
        command.CommandText = sql;
#pragma warning restore CA2100
        SetParameters(command, parameters);
        return command;
    }

    /// <summary>Replaces a prepared command's parameters (one command run for many rows).</summary>
    public static void SetParameters(SqliteCommand command, params (string Name, object? Value)[] parameters)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(parameters);
        command.Parameters.Clear();
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
    }

    /// <summary>Runs a statement (or several); returns the rows changed.</summary>
    public static int Execute(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        return command.ExecuteNonQuery();
    }

    /// <summary>The first column of the first row, converted to <typeparamref name="T"/>; default when there is no row or it is NULL.</summary>
    public static T? Scalar<T>(SqliteConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, sql, parameters);
        var value = command.ExecuteScalar();
        if (value is null or DBNull) return default;
        var type = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return (T)Convert.ChangeType(value, type, CultureInfo.InvariantCulture);
    }

    /// <summary>A time in the one format (<see cref="SqliteTime"/>).</summary>
    public static string Time(DateTimeOffset time) => SqliteTime.Format(time);

    public static DateTimeOffset? NullableTime(SqliteDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.IsDBNull(ordinal) ? null : SqliteTime.Parse(reader.GetString(ordinal));
    }

    public static string? NullableString(SqliteDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
    }

    /// <summary>For a migration that brings a database made before the column to the same schema (SQLite has no ADD COLUMN IF NOT EXISTS).</summary>
    public static void AddColumnIfMissing(SqliteConnection connection, string table, string column, string definition)
    {
        if (Scalar<long>(connection, $"SELECT count(*) FROM pragma_table_info('{table}') WHERE name = $column", ("$column", column)) == 0)
            Execute(connection, $"ALTER TABLE {table} ADD COLUMN {column} {definition}");
    }
}
