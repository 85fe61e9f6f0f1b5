using DinoFlow.Sqlite;
using Microsoft.Data.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Sqlite.Tests;

public sealed class SqliteDatabaseTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dinoflow-sqlite-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string File(string name) => Path.Combine(_dir, name);

    private static SqliteMigration Counted(string description, string sql, List<string> applied) =>
        new(description, connection =>
        {
            applied.Add(description);
            Execute(connection, sql);
        });

    [Fact]
    public void A_new_database_gets_every_migration_once_and_records_its_version()
    {
        var applied = new List<string>();
        IReadOnlyList<SqliteMigration> migrations =
        [
            Counted("things", "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", applied),
            Counted("colour", "ALTER TABLE things ADD COLUMN colour TEXT", applied),
        ];

        var database = new SqliteDatabase(File("a.db"), "test database", migrations);
        _ = new SqliteDatabase(File("a.db"), "test database", migrations);

        Assert.Equal(["things", "colour"], applied);
        Assert.Equal(2, database.Version);
        using var connection = database.Open();
        Assert.Equal(2, SqliteDatabase.UserVersion(connection));
        Assert.Equal(1, Execute(connection, "INSERT INTO things (name, colour) VALUES ('box', 'red')"));
    }

    [Fact]
    public void A_later_migration_applies_only_itself_to_an_existing_database()
    {
        var applied = new List<string>();
        var first = Counted("things", "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL)", applied);
        using (var connection = new SqliteDatabase(File("a.db"), "test database", [first]).Open())
            Execute(connection, "INSERT INTO things (name) VALUES ('box')");

        var database = new SqliteDatabase(File("a.db"), "test database", [first, Counted("colour", "ALTER TABLE things ADD COLUMN colour TEXT DEFAULT 'red'", applied)]);

        Assert.Equal(["things", "colour"], applied);
        using var reopened = database.Open();
        Assert.Equal(2, SqliteDatabase.UserVersion(reopened));
        Assert.Equal("box red", Scalar<string>(reopened, "SELECT name || ' ' || colour FROM things"));
    }

    [Fact]
    public void A_database_made_before_versions_were_recorded_is_taken_as_version_1_and_upgraded()
    {
        // What the old code made: its tables, user_version 0, rows in its time format, a column it added later missing.
        using (var old = new SqliteConnection($"Data Source={File("old.db")};Pooling=False"))
        {
            old.Open();
            Execute(old, "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL, seen_at TEXT NOT NULL); INSERT INTO things (name, seen_at) VALUES ('box', '2026-11-30T03:07:51.123456Z')");
        }

        IReadOnlyList<SqliteMigration> migrations =
        [
            // Version 1 takes whatever the old code made to the same schema: CREATE IF NOT EXISTS, columns if missing.
            new("things", connection =>
            {
                Execute(connection, "CREATE TABLE IF NOT EXISTS things (id INTEGER PRIMARY KEY, name TEXT NOT NULL, seen_at TEXT NOT NULL)");
                AddColumnIfMissing(connection, "things", "colour", "TEXT");
            }),
            SqliteMigration.Script("times in the one format", "UPDATE things SET seen_at = substr(seen_at, 1, 26) || '0Z' WHERE length(seen_at) = 27"),
        ];
        var database = new SqliteDatabase(File("old.db"), "test database", migrations);

        using var connection = database.Open();
        Assert.Equal(2, SqliteDatabase.UserVersion(connection));
        Assert.Equal("2026-11-30T03:07:51.1234560Z", Scalar<string>(connection, "SELECT seen_at FROM things WHERE name = 'box'"));
        Assert.Equal(1, Scalar<long>(connection, "SELECT count(*) FROM pragma_table_info('things') WHERE name = 'colour'"));
        Assert.Equal("wal", Scalar<string>(connection, "PRAGMA journal_mode"));
    }

    [Fact]
    public void A_failing_migration_leaves_the_database_at_its_version_with_nothing_of_it_applied()
    {
        SqliteMigration first = SqliteMigration.Script("things", "CREATE TABLE things (id INTEGER PRIMARY KEY)");
        _ = new SqliteDatabase(File("a.db"), "test database", [first]);

        Assert.ThrowsAny<SqliteException>(() => new SqliteDatabase(File("a.db"), "test database",
            [first, SqliteMigration.Script("broken", "CREATE TABLE more (id INTEGER); INSERT INTO nosuchtable VALUES (1)")]));

        var database = new SqliteDatabase(File("a.db"), "test database", [first]);
        using var connection = database.Open();
        Assert.Equal(1, SqliteDatabase.UserVersion(connection));
        Assert.Equal(0, Scalar<long>(connection, "SELECT count(*) FROM sqlite_master WHERE name = 'more'"));
    }

    [Fact]
    public void A_database_from_a_newer_version_is_refused_with_its_file_named()
    {
        _ = new SqliteDatabase(File("a.db"), "test database", [SqliteMigration.Script("a", "CREATE TABLE a (x)"), SqliteMigration.Script("b", "CREATE TABLE b (x)")]);

        var error = Assert.Throws<InvalidDataException>(() => new SqliteDatabase(File("a.db"), "test database", [SqliteMigration.Script("a", "CREATE TABLE a (x)")]));
        Assert.Contains(File("a.db"), error.Message, StringComparison.Ordinal);
        Assert.Contains("schema version 2", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("empty")]
    [InlineData("garbage")]
    [InlineData("truncated")]
    public void A_damaged_file_fails_with_an_error_that_names_it(string damage)
    {
        var path = File("a.db");
        IReadOnlyList<SqliteMigration> migrations = [SqliteMigration.Script("things", "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)")];
        using (var connection = new SqliteDatabase(path, "test database", migrations).Open())
        {
            for (var i = 0; i < 2000; i++) Execute(connection, "INSERT INTO things (name) VALUES ($name)", ("$name", new string('x', 100)));
        }

        var bytes = System.IO.File.ReadAllBytes(path);
        System.IO.File.WriteAllBytes(path, damage switch
        {
            "empty" => [],
            "garbage" => [.. Enumerable.Repeat((byte)0x5A, 100), .. bytes[100..]],
            _ => bytes[..(bytes.Length / 2)],
        });

        var error = Assert.Throws<InvalidDataException>(() => new SqliteDatabase(path, "test database", migrations, new SqliteDatabaseOptions(CheckIntegrity: true, RecoveryNote: "Nothing else is lost.")));
        Assert.Contains($"the test database {path} is damaged", error.Message, StringComparison.Ordinal);
        Assert.Contains("move it away", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("Nothing else is lost.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_connection_has_the_same_pragmas()
    {
        var database = new SqliteDatabase(File("a.db"), "test database", [SqliteMigration.Script("a", "CREATE TABLE a (x)")]);

        using var connection = database.Open();
        Assert.Equal("wal", Scalar<string>(connection, "PRAGMA journal_mode"));
        Assert.Equal(30000, Scalar<long>(connection, "PRAGMA busy_timeout"));
        Assert.Equal(1, Scalar<long>(connection, "PRAGMA foreign_keys"));
        Assert.Equal(2, Scalar<long>(connection, "PRAGMA synchronous")); // FULL
    }
}
