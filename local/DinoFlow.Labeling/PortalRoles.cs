namespace DinoFlow.Labeling;

/// <summary>Who may do what on the local web host.</summary>
public static class PortalRoles
{
    /// <summary>Labels images of the jobs.</summary>
    public const string Worker = "worker";

    /// <summary>Also sees the dashboard (fleet, runs), retries runs and creates labeling jobs.</summary>
    public const string Admin = "admin";

    public static void Validate(string role)
    {
        if (role is not (Worker or Admin)) throw new PortalException($"role '{role}' is not one of {Worker}, {Admin}");
    }
}
