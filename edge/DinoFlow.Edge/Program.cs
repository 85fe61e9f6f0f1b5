// The DinoFlow edge component (Greengrass v2 runs this; `dinoflow edge` hosts the same worker).
return await DinoFlow.Edge.EdgeHost.RunAsync(args).ConfigureAwait(false);
