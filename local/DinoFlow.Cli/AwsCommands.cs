using System.CommandLine;
using System.Text.Json;
using DinoFlow.Aws.Tools;
using DinoFlow.Aws;
using DinoFlow.Aws.Steps;

namespace DinoFlow.Cli;

/// <summary>aws render: the AWS back end's API requests for a sample run, without an AWS account.</summary>
public static class AwsCommands
{
    public static Command Build()
    {
        var aws = new Command("aws", "The AWS back end (SAM app in template.yaml; see docs/AWS.md)");
        var output = new Option<DirectoryInfo>("--out") { Description = "Folder to write the requests to (one <service>.<Operation>.json per call)", Required = true };
        var config = new Option<FileInfo?>("--config") { Description = "JSON file of stack settings (camelCase names of AwsSettings); sample values otherwise" };
        var render = new Command("render", "Write every AWS API request the pipeline would send for a sample run, with the APIs' own parameter names");
        render.Options.Add(output);
        render.Options.Add(config);
        render.SetAction(async (parse, cancellationToken) =>
        {
            AwsSettings settings;
            try
            {
                settings = await ReadSettingsAsync(parse.GetValue(config), cancellationToken).ConfigureAwait(false);
                var result = await AwsRequestRenderer.RenderAsync(settings, cancellationToken).ConfigureAwait(false);
                var directory = parse.GetValue(output)!.FullName;
                await AwsRequestRenderer.WriteAsync(result, directory, cancellationToken).ConfigureAwait(false);
                foreach (var request in result.Requests) Console.WriteLine(Path.Combine(directory, request.FileName));
                Console.Error.WriteLine($"{result.Requests.Count} requests and {result.Documents.Count} bucket documents written to {directory}");
                return 0;
            }
            catch (Exception e) when (e is AwsConfigurationException or JsonException or FileNotFoundException or AwsRequestException)
            {
                return RunCommands.Fail(e.Message);
            }
        });
        aws.Subcommands.Add(render);
        return aws;
    }

    private static async Task<AwsSettings> ReadSettingsAsync(FileInfo? file, CancellationToken cancellationToken)
    {
        if (file is null) return new AwsSettings();
        if (!file.Exists) throw new FileNotFoundException($"config file '{file.FullName}' does not exist");
        var stream = file.OpenRead();
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                return await JsonSerializer.DeserializeAsync(stream, AwsJsonContext.Default.AwsSettings, cancellationToken).ConfigureAwait(false)
                    ?? throw new AwsConfigurationException(file.Name, "the file is empty");
            }
            catch (JsonException e)
            {
                throw new AwsConfigurationException(e.Path ?? file.Name, $"{file.FullName}: {e.Message}");
            }
        }
    }
}
