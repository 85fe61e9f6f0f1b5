using System.CommandLine;
using DinoFlow.Local.Runner;
using DinoFlow.Fleet;

namespace DinoFlow.Cli;

/// <summary>fleet: device logins for the embedded MQTT broker and the deployment key devices pin.</summary>
public static class FleetCommands
{
    public static void Register(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var fleet = new Command("fleet", "Fleet security: device logins for the embedded MQTT broker, the deployment signing key");
        var device = new Command("device", "Device logins (each device publishes only under dinoflow/<its name>/)");
        device.Subcommands.Add(Add());
        device.Subcommands.Add(Remove());
        device.Subcommands.Add(List());
        fleet.Subcommands.Add(device);
        fleet.Subcommands.Add(Key());
        root.Subcommands.Add(fleet);
    }

    private static Command Add()
    {
        var name = new Argument<string>("NAME") { Description = "Device id (its MQTT client id and user name; letters, digits, '.', '_', '-')" };
        var command = new Command("add", "Add a device (or give it a new password): prints its MQTT password once; it is stored hashed") { name };
        command.SetAction(parse =>
        {
            var credentials = FleetCredentials.ForWorkspace(Root(parse));
            var id = parse.GetValue(name)!;
            if (FleetCredentials.ValidDeviceName(id) is { } problem) return RunCommands.Fail(problem);
            var password = credentials.AddDevice(id);
            using (credentials.Signer())
            {
            }

            Console.WriteLine(password);
            Console.Error.WriteLine($"Device '{id}': give it this password (shown once) as DINOFLOW_Edge__Mqtt__Password or in a file named by --Edge:Mqtt:PasswordFile,");
            Console.Error.WriteLine($"and pin the deployment key: --Edge:TrustedKey={credentials.TrustedKeyPath} (copy the file to the device).");
            return 0;
        });
        return command;
    }

    private static Command Remove()
    {
        var name = new Argument<string>("NAME");
        var command = new Command("remove", "Remove a device's login (it can no longer connect to the embedded broker)") { name };
        command.SetAction(parse =>
        {
            var id = parse.GetValue(name)!;
            if (!FleetCredentials.ForWorkspace(Root(parse)).RemoveDevice(id)) return RunCommands.Fail($"no device '{id}'");
            Console.WriteLine($"Device '{id}' removed");
            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var command = new Command("list", "List the devices that have a login");
        command.SetAction(parse =>
        {
            foreach (var id in FleetCredentials.ForWorkspace(Root(parse)).Devices()) Console.WriteLine(id);
            return 0;
        });
        return command;
    }

    private static Command Key()
    {
        var command = new Command("key", "Print the deployment public key (PEM) devices pin as Edge:TrustedKey; creates the key pair on first use");
        command.SetAction(parse =>
        {
            var credentials = FleetCredentials.ForWorkspace(Root(parse));
            using var signer = credentials.Signer();
            Console.Write(signer.PublicKeyPem);
            Console.Error.WriteLine($"(the file: {credentials.TrustedKeyPath})");
            return 0;
        });
        return command;
    }

    private static string Root(ParseResult parse) => Path.Combine(parse.GetValue(CliApp.WorkdirOption)!.FullName, LocalWorkspace.FolderName);
}
