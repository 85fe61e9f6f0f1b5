using DinoFlow.Pipeline.Manifests;

namespace DinoFlow.Labeling;

/// <summary>
/// The labeling portal's state in SQLite (<c>.dinoflow/portal.db</c>): workers, jobs, items, assignments, labels.
/// Every change runs in one IMMEDIATE transaction, so concurrent workers never lose a label or get the same slot:
/// (job, item, worker) is the primary key of an assignment (nobody sees an image twice) and an item is handed out
/// only while it has fewer assignments than the job's annotators per image.
/// </summary>
/// <remarks>
/// One entry point over one database for the web host, the CLI and the label stage; the work is done by one part per
/// responsibility: <see cref="WorkerAccounts"/>, <see cref="JobCatalog"/>, <see cref="AssignmentQueue"/> (with
/// <see cref="AutoLabeling"/>), <see cref="ProgressReports"/> and <see cref="PortalExport"/>.
/// </remarks>
public sealed class PortalStore
{
    /// <summary>An assignment not labeled within this time goes back to the pool (a worker closed the tab).</summary>
    public static readonly TimeSpan Lease = TimeSpan.FromMinutes(30);

    /// <summary>How long an invite link can be redeemed.</summary>
    public static readonly TimeSpan InviteLifetime = TimeSpan.FromDays(7);

    /// <summary>The most characters a job's instructions may have.</summary>
    public const int MaxInstructions = 10_000;

    /// <summary>How many gaps between submits a pace needs before the labeling page shows a time left.</summary>
    public const int PaceSamples = 3;

    /// <summary>A gap between two submits longer than this is a break, not labeling time.</summary>
    public static readonly TimeSpan PaceBreak = TimeSpan.FromMinutes(5);

    private readonly WorkerAccounts _workers;
    private readonly JobCatalog _jobs;
    private readonly AssignmentQueue _queue;
    private readonly ProgressReports _reports;
    private readonly PortalExport _export;

    public PortalStore(string databasePath, TimeProvider? clock = null, int passwordIterations = PasswordHasher.DefaultIterations)
    {
        var database = new PortalDatabase(databasePath, clock ?? TimeProvider.System);
        DatabasePath = database.Path;
        _workers = new WorkerAccounts(database, passwordIterations);
        _jobs = new JobCatalog(database);
        _queue = new AssignmentQueue(database, _jobs);
        _reports = new ProgressReports(database, _jobs);
        _export = new PortalExport(database, _jobs);
    }

    public string DatabasePath { get; }

    /// <summary>The portal of a workspace (<c>.dinoflow/portal.db</c>): workers, jobs, assignments, labels.</summary>
    public static PortalStore ForWorkspace(string dinoflowRoot) => new(Path.Combine(dinoflowRoot, "portal.db"));

    // ---- workers -------------------------------------------------------------------------------------------

    /// <summary>Adds a worker with a password, or (password null) with a one-time invite token, which is returned.</summary>
    /// <param name="role"><see cref="PortalRoles.Worker"/> (labels only) or <see cref="PortalRoles.Admin"/>.</param>
    public string? AddWorker(string name, string? password, string role = PortalRoles.Worker) => _workers.AddWorker(name, password, role);

    public void SetPassword(string name, string password) => _workers.SetPassword(name, password);

    /// <summary>The worker's security stamp (sessions carry it); null for an unknown name.</summary>
    public string? SecurityStamp(string name) => _workers.SecurityStamp(name);

    /// <summary>Ends every session of the worker (logout).</summary>
    public void RenewSecurityStamp(string name) => _workers.RenewSecurityStamp(name);

    public void SetRole(string name, string role) => _workers.SetRole(name, role);

    /// <summary>The worker's role; null for an unknown name.</summary>
    public string? RoleOf(string name) => _workers.RoleOf(name);

    public bool VerifyPassword(string name, string password) => _workers.VerifyPassword(name, password);

    /// <summary>Redeems a one-time invite: sets the password and returns the worker's name; null for an unknown or used token.</summary>
    public string? RedeemInvite(string token, string password) => _workers.RedeemInvite(token, password);

    public bool IsInviteValid(string token) => _workers.IsInviteValid(token);

    public IReadOnlyList<(string Name, bool HasPassword, bool InvitePending, string Role)> ListWorkers() => _workers.ListWorkers();

    // ---- jobs ----------------------------------------------------------------------------------------------

    /// <param name="imported">
    /// Labels that already exist, by image key (from a Ground Truth output manifest): those images count as done,
    /// are never handed out, and are exported as they were imported (job name, human-annotated, date, confidence).
    /// </param>
    public PortalJob CreateJob(JobSpec spec, IReadOnlyList<JobImage> images, IReadOnlyDictionary<string, Prediction>? guesses = null,
        IReadOnlyDictionary<string, LabeledObject>? imported = null) => _jobs.CreateJob(spec, images, guesses, imported);

    public PortalJob GetJob(string name) => _jobs.GetJob(name);

    public PortalJob? FindJob(string name) => _jobs.FindJob(name);

    public IReadOnlyList<PortalJob> ListJobs() => _jobs.ListJobs();

    public PortalJob? FindJobForRun(string runId) => _jobs.FindJobForRun(runId);

    /// <summary>The image key of an item of the job, or null: images are served only by this lookup.</summary>
    public string? ImageKeyOf(string job, long itemId) => _jobs.ImageKeyOf(job, itemId);

    public bool IsImageOfJob(string job, string imageKey) => _jobs.IsImageOfJob(job, imageKey);

    /// <summary>A job that has this image, or null: an image meant for one job only is never given to a second.</summary>
    public string? JobOfImage(string imageKey) => _jobs.JobOfImage(imageKey);

    // ---- assignment and labels -----------------------------------------------------------------------------

    /// <summary>
    /// The worker's open assignments, topped up to <paramref name="count"/> with images the worker has never been
    /// given and that still need annotators (images already started by others first, to finish images early).
    /// </summary>
    public IReadOnlyList<Assignment> NextAssignments(string job, string worker, int count) => _queue.NextAssignments(job, worker, count);

    /// <summary>The images this worker has labeled, most recent last (for going back).</summary>
    public IReadOnlyList<Assignment> History(string job, string worker, int limit) => _queue.History(job, worker, limit);

    /// <summary>Records a label for one of the worker's assignments; labeling it again changes the label (see <see cref="AutoLabeling"/>).</summary>
    public SubmitResult Submit(string job, string worker, long itemId, string label) => _queue.Submit(job, worker, itemId, label);

    // ---- progress and export -------------------------------------------------------------------------------

    public JobProgress Progress(string job) => _reports.Progress(job);

    /// <summary>This worker's progress in the job and the job's, for the labeling page (see <see cref="WorkerOutlook"/>).</summary>
    public WorkerOutlook Outlook(string job, string worker) => _reports.Outlook(job, worker);

    /// <summary>
    /// Whether the labeling page preselects the model's guesses: the job says so (<see cref="JobSpec.PreselectGuesses"/>),
    /// or the model passed the auto-label check. Otherwise a guess is shown but the worker chooses.
    /// </summary>
    public bool PreselectsGuesses(string job) => _reports.PreselectsGuesses(job);

    /// <summary>
    /// The Ground Truth output manifest objects of the job's finished images (all human labels in, or auto-labeled),
    /// consolidated with <see cref="Pipeline.Labeling.Consolidation"/>; images still being labeled are left out and counted.
    /// </summary>
    public (IReadOnlyList<LabeledObject> Labeled, int Pending) Output(string job) => _export.Output(job);

    public string ExportManifest(string job) => _export.ExportManifest(job);
}
