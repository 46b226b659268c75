using System.Runtime.InteropServices;

namespace HybridSharp.Cli;

/// <summary>A cancellation raised by the first SIGINT or SIGTERM while it is alive (<see cref="Cli.CancelOnStopSignal"/>).</summary>
public sealed class StopSignal : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly PosixSignalRegistration[] _registrations;

    internal StopSignal(Action<PosixSignal> onFirst)
    {
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle),
        ];

        void Handle(PosixSignalContext context)
        {
            if (_cts.IsCancellationRequested) return;   // a second signal: the default action ends the process
            context.Cancel = true;
            onFirst(context.Signal);
            _cts.Cancel();
        }
    }

    public CancellationToken Token => _cts.Token;
    public bool IsCancellationRequested => _cts.IsCancellationRequested;

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _cts.Dispose();
    }
}
