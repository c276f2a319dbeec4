using System.Runtime.InteropServices;
using Wetware.Cli;

// SIGINT and SIGTERM stop pid0 gracefully (cli.md): the first one starts the stop, the process
// keeps running until pid0 is done; a second one is left to the default handler.
using var stop = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    if (!stop.IsCancellationRequested)
    {
        context.Cancel = true;
        stop.Cancel();
    }
}
using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
return await WwCli.RunAsync(args, WwIo.Console(), stop.Token);
