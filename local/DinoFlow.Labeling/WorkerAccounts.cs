using Microsoft.Data.Sqlite;
using static DinoFlow.Sqlite.Sql;

namespace DinoFlow.Labeling;

/// <summary>
/// The portal's accounts: workers and admins, their password hashes, one-time invites, and the security stamp that
/// ends a worker's sessions when it changes.
/// </summary>
internal sealed class WorkerAccounts(PortalDatabase database, int passwordIterations)
{
    public string? AddWorker(string name, string? password, string role)
    {
        PortalDatabase.ValidateName(name, "worker name");
        PortalRoles.Validate(role);
        var (token, tokenHash) = password is null ? PasswordHasher.NewToken() : default;
        var hash = password is null ? null : PasswordHasher.Hash(password, passwordIterations);
        using var connection = database.Open();
        try
        {
            Execute(connection, "INSERT INTO workers (name, password_hash, invite_hash, created_at, role, stamp, invite_expires_at) VALUES ($name, $hash, $invite, $now, $role, $stamp, $expires)",
                ("$name", name), ("$hash", hash), ("$invite", tokenHash), ("$now", database.Now()), ("$role", role), ("$stamp", NewStamp()),
                ("$expires", tokenHash is null ? null : Time(database.Clock.GetUtcNow() + PortalStore.InviteLifetime)));
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 19)
        {
            throw new PortalException($"worker '{name}' already exists");
        }

        return token;
    }

    public void SetPassword(string name, string password)
    {
        var hash = PasswordHasher.Hash(password, passwordIterations);
        using var connection = database.Open();
        if (Execute(connection, "UPDATE workers SET password_hash = $hash, invite_hash = NULL, stamp = $stamp WHERE name = $name", ("$hash", hash), ("$stamp", NewStamp()), ("$name", name)) == 0)
            throw new PortalException($"no worker '{name}'");
    }

    public string? SecurityStamp(string name)
    {
        using var connection = database.Open();
        return Scalar<string>(connection, "SELECT stamp FROM workers WHERE name = $name", ("$name", name));
    }

    public void RenewSecurityStamp(string name)
    {
        using var connection = database.Open();
        Execute(connection, "UPDATE workers SET stamp = $stamp WHERE name = $name", ("$stamp", NewStamp()), ("$name", name));
    }

    public void SetRole(string name, string role)
    {
        PortalRoles.Validate(role);
        using var connection = database.Open();
        if (Execute(connection, "UPDATE workers SET role = $role, stamp = $stamp WHERE name = $name", ("$role", role), ("$stamp", NewStamp()), ("$name", name)) == 0)
            throw new PortalException($"no worker '{name}'");
    }

    public string? RoleOf(string name)
    {
        using var connection = database.Open();
        return Scalar<string>(connection, "SELECT role FROM workers WHERE name = $name", ("$name", name));
    }

    public bool VerifyPassword(string name, string password)
    {
        using var connection = database.Open();
        var stored = Scalar<string>(connection, "SELECT password_hash FROM workers WHERE name = $name", ("$name", name));
        return PasswordHasher.Verify(password, stored);
    }

    public string? RedeemInvite(string token, string password)
    {
        var hash = PasswordHasher.Hash(password, passwordIterations);
        using var connection = database.Open();
        using var writing = database.WriteLock.EnterScope();
        using var transaction = connection.BeginTransaction();
        var name = Scalar<string>(connection, "SELECT name FROM workers WHERE invite_hash = $token AND invite_expires_at > $now", ("$token", PasswordHasher.TokenHash(token)), ("$now", database.Now()));
        if (name is null) return null;
        Execute(connection, "UPDATE workers SET password_hash = $hash, invite_hash = NULL, stamp = $stamp WHERE name = $name", ("$hash", hash), ("$stamp", NewStamp()), ("$name", name));
        transaction.Commit();
        return name;
    }

    public bool IsInviteValid(string token)
    {
        using var connection = database.Open();
        return Scalar<string>(connection, "SELECT name FROM workers WHERE invite_hash = $token AND invite_expires_at > $now",
            ("$token", PasswordHasher.TokenHash(token)), ("$now", database.Now())) is not null;
    }

    public IReadOnlyList<(string Name, bool HasPassword, bool InvitePending, string Role)> ListWorkers()
    {
        using var connection = database.Open();
        using var command = Command(connection, "SELECT name, password_hash IS NOT NULL, invite_hash IS NOT NULL, role FROM workers ORDER BY name");
        using var reader = command.ExecuteReader();
        var list = new List<(string, bool, bool, string)>();
        while (reader.Read()) list.Add((reader.GetString(0), reader.GetBoolean(1), reader.GetBoolean(2), reader.GetString(3)));
        return list;
    }

    private static string NewStamp() => Guid.NewGuid().ToString("N");
}
