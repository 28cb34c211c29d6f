// ./atol-emulator.sh [--port N] [--print-ms N]: the emulated ATOL web server ("АТОЛ. Web Requests",
// REST API v2, tests/Loyalty.AtolEmulator) on 127.0.0.1 only, for trying the office adapter
// (`./loyalty office run --atol URL ...`) without a register. Prints its URL, then one line per
// document its emulated fiscal drive closes (FD number, type, total); Ctrl+C or SIGTERM stops it.
// Nothing it prints is fiscal: the FN, FD numbers and signs are made up, and they live in memory only.
using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Loyalty.AtolEmulator;

const int DefaultPort = 16732; // the real ATOL web server's default port
const int MaxPrintMs = 60_000;

var port = new Option<int>("--port") { Description = $"The port on 127.0.0.1 (default {DefaultPort}, the real web server's; 0: any free port).", DefaultValueFactory = _ => DefaultPort };
var printMs = new Option<int>("--print-ms") { Description = $"How long each receipt takes to print, in milliseconds (0..{MaxPrintMs}, default 0).", };
var root = new RootCommand("An emulated ATOL web server (REST API v2) on 127.0.0.1 for trying './loyalty office run' without a register. " +
    "Prints its URL, then a line per fiscal document; Ctrl+C or SIGTERM stops it. Nothing it prints is fiscal.") { port, printMs };
root.SetAction(async (parseResult, cancellationToken) =>
{
    var portValue = parseResult.GetValue(port);
    var printMsValue = parseResult.GetValue(printMs);
    if (portValue is < 0 or > 65535 || printMsValue is < 0 or > MaxPrintMs)
    {
        await Console.Error.WriteLineAsync($"error: --port must be 0..65535 and --print-ms 0..{MaxPrintMs}.");
        return 2;
    }

    using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    // SIGTERM (and SIGINT, which System.CommandLine also handles) end the wait below; the emulator then stops its listener.
    using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
    using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.Cancel(); });

    AtolWebServerEmulator emulator;
    try
    {
        emulator = await AtolWebServerEmulator.StartAsync(new AtolEmulatorOptions
        {
            Port = portValue,
            // Under the emulator's lock, on its worker: one short line to a console that flushes each write.
            DocumentClosed = document => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{DateTimeOffset.Now:HH:mm:ss} FD {document.FiscalDocumentNumber} {document.Type}{(document.IsReceipt ? $" total {document.TotalKopecks / 100m:0.00} shift {document.ShiftNumber} receipt {document.ReceiptNumber}" : $" shift {document.ShiftNumber}")} FP {document.FiscalSign}")),
        });
    }
    catch (IOException busy)
    {
        // Kestrel's "address already in use" and the like: one sentence, not a stack trace.
        await Console.Error.WriteLineAsync($"error: cannot listen on 127.0.0.1:{portValue}: {busy.Message}");
        return 1;
    }
    await using (emulator)
    {
        foreach (var type in (string[])["sell", "sellReturn", "buy", "buyReturn"])
            emulator.SetTaskDuration(type, TimeSpan.FromMilliseconds(printMsValue));
        Console.WriteLine($"ATOL web server emulator on {emulator.BaseAddress} (try: ./loyalty office run --atol {emulator.BaseAddress} --store S --register R). Ctrl+C stops it.");
        try { await Task.Delay(Timeout.Infinite, stop.Token); }
        catch (OperationCanceledException) { }
    }
    Console.WriteLine("Stopped.");
    return 0;
});
return await root.Parse(args).InvokeAsync();
