using Microsoft.Data.Sqlite;

namespace DinoFlow.Sqlite;

/// <summary>
/// A SQLite file of DinoFlow's (runs, portal, edge): made and migrated to its newest version when constructed, then
/// opened per call with the same pragmas everywhere: WAL (readers never wait for the writer), a 30 s busy timeout,
/// foreign keys on, synchronous FULL (a committed label or step survives a power cut, not only a crash).
/// Times are stored with <see cref="SqliteTime"/>.
/// A damaged file fails with an <see cref="InvalidDataException"/> that names it and the way out.
/// </summary>
public sealed class SqliteDatabase
{
    private readonly string _connectionString;
    private readonly string _name;
    private readonly string? _recoveryNote;

    /// <param name="path">The database file; its folder is created.</param>
    /// <param name="name">What it is called in errors ("run database").</param>
    /// <param name="migrations">The schema's versions in order (see <see cref="SqliteMigration"/>).</param>
    /// <param name="options">Integrity check on open, connection pooling, a note for the damaged-file error.</param>
    public SqliteDatabase(string path, string name, IReadOnlyList<SqliteMigration> migrations, SqliteDatabaseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(migrations);
        options ??= new SqliteDatabaseOptions();
        Path = System.IO.Path.GetFullPath(path);
        _name = name;
        _recoveryNote = options.RecoveryNote;
        Version = migrations.Count;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _connectionString = new SqliteConnectionStringBuilder { DataSource = Path, Pooling = options.Pooling, DefaultTimeout = 30 }.ToString();
        // SQLite takes a 0-byte file for a new, empty database: that would silently show nothing.
        if (File.Exists(Path) && new FileInfo(Path).Length == 0) throw Damaged("it is empty (0 bytes)");
        try
        {
            using var connection = Open();
            Sql.Execute(connection, "PRAGMA journal_mode = WAL");
            Migrate(connection, migrations);
            if (options.CheckIntegrity)
            {
                // A truncated file can still open; its missing pages show only when a query reaches them.
                if (Sql.Scalar<string>(connection, "PRAGMA quick_check(1)") is { } result && result != "ok") throw Damaged(result);
            }
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 11 or 26) // SQLITE_CORRUPT, SQLITE_NOTADB
        {
            throw Damaged(e.Message);
        }
    }

    /// <summary>The database file (full path).</summary>
    public string Path { get; }

    /// <summary>The schema version this code writes: the number of migrations.</summary>
    public int Version { get; }

    /// <summary>A new open connection with the pragmas set; the caller disposes it.</summary>
    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            Sql.Execute(connection, "PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;");
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>The schema version recorded in the file (<c>PRAGMA user_version</c>).</summary>
    public static int UserVersion(SqliteConnection connection) => (int)Sql.Scalar<long>(connection, "PRAGMA user_version");

    private void Migrate(SqliteConnection connection, IReadOnlyList<SqliteMigration> migrations)
    {
        if (UserVersion(connection) == migrations.Count) return;
        // IMMEDIATE (Microsoft.Data.Sqlite's default): a second process that opens the file now waits, then sees the new version.
        using var transaction = connection.BeginTransaction();
        var current = UserVersion(connection);
        if (current > migrations.Count)
        {
            throw new InvalidDataException(
                $"the {_name} {Path} has schema version {current}, newer than this DinoFlow knows ({migrations.Count}): use the DinoFlow that wrote it");
        }

        for (var version = current; version < migrations.Count; version++) migrations[version].Apply(connection);
        Sql.Execute(connection, $"PRAGMA user_version = {migrations.Count}");
        transaction.Commit();
    }

    /// <summary>What a damaged database says: the file, the cause and the way out.</summary>
    private InvalidDataException Damaged(string cause) => new(
        $"the {_name} {Path} is damaged ({cause}). To recover, move it away (mv '{Path}' '{Path}.damaged') and run again: a new one is made."
        + (_recoveryNote is null ? "" : " " + _recoveryNote));
}

/// <param name="CheckIntegrity">Run <c>PRAGMA quick_check</c> on open (reads the whole file: for small databases).</param>
/// <param name="Pooling">
/// Keep connections open between calls. Off by default: each call's connection closes, so a process that ends leaves
/// a checkpointed file and no -wal behind. A long-running host with many small requests (the portal) turns it on.
/// </param>
/// <param name="RecoveryNote">Appended to the damaged-file error: what is lost and what stays.</param>
public sealed record SqliteDatabaseOptions(bool CheckIntegrity = false, bool Pooling = false, string? RecoveryNote = null);
