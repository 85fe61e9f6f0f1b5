using DinoFlow.Edge.Greengrass;

namespace DinoFlow.Edge.Tests.Support;

/// <summary>What the nucleus sets for a component it starts: the IPC socket and the component's token (process-wide, so edge tests run one at a time).</summary>
public sealed class ComponentEnvironment : IDisposable
{
    public ComponentEnvironment(string socket, string token)
    {
        Environment.SetEnvironmentVariable(GreengrassIpcLink.SocketVariable, socket);
        Environment.SetEnvironmentVariable(GreengrassIpcLink.TokenVariable, token);
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable(GreengrassIpcLink.SocketVariable, null);
        Environment.SetEnvironmentVariable(GreengrassIpcLink.TokenVariable, null);
    }
}
