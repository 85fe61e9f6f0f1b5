// The `dinoflow` command: the local back end's CLI. Commands are thin: parse, call the core, print.
return await DinoFlow.Cli.CliApp.RunAsync(args).ConfigureAwait(false);
