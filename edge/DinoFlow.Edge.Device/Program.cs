// The DinoFlow edge program (Greengrass v2 runs this; `dinoflow edge` hosts the same worker from the library).
return await DinoFlow.Edge.EdgeHost.RunAsync(args).ConfigureAwait(false);
