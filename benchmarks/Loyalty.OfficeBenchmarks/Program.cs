// The office register's queue, measured (issue 13): N drivers (pos keys of one store) submit receipts
// at once to one office register through the real server; the office adapter takes them from the
// feed and prints them one after another on the emulated ATOL web server (each receipt takes
// --print-ms on the "printer"). The printer is the limit; the queue's cost per receipt is how long
// the printer stands idle between two receipts waiting for the server: from finishing one receipt
// to holding the next from the feed (the result report goes while the next receipt prints, as in
// OfficeAdapter.RunAsync; its round trip is shown apart). Progress on stderr, the table on stdout.
// Usage: ./office-bench.sh [--drivers 50] [--receipts-per-driver 4] [--print-ms 100]
using System.Diagnostics;
using System.Globalization;
using Loyalty.AtolEmulator;
using Loyalty.Benchmarks;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Fiscal;
using Loyalty.PosAdapter.Office;
using Loyalty.Protos.V1;
using Loyalty.Silo;

var drivers = 50;
var perDriver = 4;
var printMs = 100;
for (var i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
    switch (args[i])
    {
        case "--drivers": drivers = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--receipts-per-driver": perDriver = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        case "--print-ms": printMs = int.Parse(Next(), CultureInfo.InvariantCulture); break;
        default:
            Console.Error.WriteLine("usage: ./office-bench.sh [--drivers N (1..200, default 50)] [--receipts-per-driver N (1..100, default 4)] [--print-ms N (0..2000, default 100)]");
            return 2;
    }
}
if (drivers is < 1 or > 200 || perDriver is < 1 or > 100 || printMs is < 0 or > 2000)
{
    Console.Error.WriteLine("--drivers must be 1..200, --receipts-per-driver 1..100, --print-ms 0..2000.");
    return 2;
}

void Log(string line) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}");
using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(20)); // bounded: stops by itself
await using var database = await BenchDatabase.OpenAsync(Log, stop.Token);
var connection = await database.CreateDatabaseAsync("office_bench", stop.Token);
var dataDirectory = BenchDatabase.CreateTempDirectory("loyalty-office-bench");
await using var server = await LoyaltyServer.StartAsync([], new Dictionary<string, string?>
{
    [SiloOptions.DataDirectoryVariable] = dataDirectory,
    [SiloOptions.DatabaseVariable] = connection,
    [SiloOptions.GrpcUrlVariable] = "http://127.0.0.1:0",
    [SiloOptions.HttpUrlVariable] = "http://127.0.0.1:0",
    ["Logging:LogLevel:Default"] = "Warning",
}, stop.Token);
var adminKey = (await File.ReadAllTextAsync(server.Options.AdminKeyPath, stop.Token)).Trim();
using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), adminKey, TimeSpan.FromSeconds(30));
const string Store = "OFFICE-STORE";
const string Register = "OFFICE-1";
async Task<LoyaltyClient> PosAsync(string name, string officeRegister = "") => LoyaltyClient.Create(server.GrpcAddress.ToString(),
    (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = "pos", StoreId = Store, Name = name, OfficeRegisterId = officeRegister }, cancellationToken: stop.Token)).ApiKey, TimeSpan.FromSeconds(30));

await using var printer = await AtolWebServerEmulator.StartAsync(new AtolEmulatorOptions { MaxJobs = 100_000 });
printer.SetTaskDuration("sell", TimeSpan.FromMilliseconds(printMs));
var journal = Path.Combine(dataDirectory, "office");
using var officeClient = await PosAsync("office register", officeRegister: Register);
await using var adapter = OfficeAdapter.Open(new OfficeAdapterOptions
{
    StoreId = Store, RegisterId = Register,
    // Polled every 10 ms so the driver's own polling does not hide the queue's cost behind it.
    Printer = new AtolDriverOptions { BaseAddress = printer.BaseAddress, DataDirectory = journal, PollInterval = TimeSpan.FromMilliseconds(10) },
}, officeClient);
var driverClients = new List<LoyaltyClient>();
for (var d = 0; d < drivers; d++) driverClients.Add(await PosAsync($"driver {d}"));
// Each driver's connection opened and key verified before the clock starts (a driver's app stays connected).
await Task.WhenAll(driverClients.Select(async c =>
{
    try { await c.GetPrintJobAsync("pj_warm_up", cancellationToken: stop.Token); }
    catch (RpcException missing) when (missing.StatusCode == Loyalty.Protos.StatusCode.NotFound) { }
}));
var total = drivers * perDriver;
Log($"server on {server.GrpcAddress}, printer on {printer.BaseAddress} ({printMs} ms per receipt); {drivers} drivers × {perDriver} receipts");

// The office side: the adapter's loop, its steps timed (print through the ATOL driver; the result
// report goes off the printer's path, at most MaxReportsInFlight at once, as OfficeAdapter.RunAsync does).
var gaps = new List<double>();
var reports = new System.Collections.Concurrent.ConcurrentBag<double>();
var prints = new List<double>();
var officeDone = new TaskCompletionSource();
var maxInFlight = new OfficeAdapterOptions { StoreId = "", RegisterId = "", Printer = null! }.MaxReportsInFlight;
var office = Task.Run(async () =>
{
    var clock = Stopwatch.StartNew();
    double? finishedAt = null;
    var handled = 0;
    var inFlight = new List<Task>();
    await foreach (var task in officeClient.ReceivePrintJobsAsync(Store, Register, cancellationToken: stop.Token))
    {
        var got = clock.Elapsed.TotalMilliseconds;
        if (finishedAt is { } f) gaps.Add(got - f);
        var outcome = await adapter.Printer.PrintAsync(OfficeAdapter.ToFiscalReceipt(task), stop.Token);
        var printed = clock.Elapsed.TotalMilliseconds;
        prints.Add(printed - got);
        if (outcome.State != FiscalState.Printed) throw new InvalidOperationException($"Job {task.JobId}: {outcome.State} {outcome.Message}");
        inFlight.RemoveAll(t => t.IsCompleted);
        if (inFlight.Count >= maxInFlight) await Task.WhenAny(inFlight);
        inFlight.Add(Task.Run(async () =>
        {
            var sent = Stopwatch.GetTimestamp();
            await officeClient.ReportPrintResultAsync(OfficeAdapter.ToReport(task.JobId, outcome), cancellationToken: stop.Token);
            reports.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
        }));
        finishedAt = clock.Elapsed.TotalMilliseconds;
        if (++handled == total) { await Task.WhenAll(inFlight); officeDone.SetResult(); return; }
    }
});

// The drivers: each submits its receipts one after another, all drivers at once.
var submits = new List<double>[drivers];
var run = Stopwatch.StartNew();
await Task.WhenAll(Enumerable.Range(0, drivers).Select(d => Task.Run(async () =>
{
    submits[d] = [];
    for (var n = 0; n < perDriver; n++)
    {
        var amount = 500_00 + d * 100 + n;
        var sale = new SubmitReceiptRequest
        {
            OperationId = $"bench-{d}-{n}", OfficeRegisterId = Register, Delivery = ReceiptDelivery.Paper,
            Receipt = new Receipt { Ref = new ReceiptRef { StoreId = Store, RegisterId = $"DRIVER-{d}", ShiftNumber = 1, ReceiptNumber = n + 1 } },
        };
        sale.Receipt.Lines.Add(new ReceiptLine { Sku = "WATER19", Category = "water", Name = "Вода 19 л", QuantityMilli = 1000, Price = amount, Amount = amount });
        sale.Payments.Add(new FiscalPaymentPart { Type = FiscalPaymentKind.Cash, Amount = amount });
        var started = Stopwatch.GetTimestamp();
        await driverClients[d].SubmitReceiptAsync(sale, cancellationToken: stop.Token);
        submits[d].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }
})));
var submitted = run.Elapsed;
await officeDone.Task.WaitAsync(stop.Token);
var elapsed = run.Elapsed;
await office;
foreach (var client in driverClients) client.Dispose();

var printedReceipts = printer.Receipts.Count;
if (printedReceipts != total) throw new InvalidOperationException($"The printer holds {printedReceipts} receipts for {total} submitted.");

static string Ms(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);
static double Pct(List<double> values, double p) { var s = values.Order().ToList(); return s.Count == 0 ? 0 : s[Math.Min(s.Count - 1, (int)Math.Ceiling(p * s.Count) - 1)]; }
var reportTimes = reports.ToList();
var allSubmits = submits.SelectMany(s => s).ToList();
var laterSubmits = submits.SelectMany(s => s.Skip(1)).ToList();
Console.WriteLine($"Office register: {drivers} drivers × {perDriver} receipts = {total}, printer {printMs} ms per receipt, {Environment.ProcessorCount} cores");
Console.WriteLine();
Console.WriteLine("| measure | mean | p50 | p99 |");
Console.WriteLine("|---|---:|---:|---:|");
Console.WriteLine($"| receipts/s (all {total}, first submit to last report) | {(total / elapsed.TotalSeconds).ToString("0.0", CultureInfo.InvariantCulture)} | | |");
Console.WriteLine($"| printer ceiling, receipts/s (1000 / print-ms) | {(printMs == 0 ? "∞" : (1000.0 / printMs).ToString("0.0", CultureInfo.InvariantCulture))} | | |");
Console.WriteLine($"| print through the ATOL driver, ms/receipt | {Ms(prints.Average())} | {Ms(Pct(prints, 0.5))} | {Ms(Pct(prints, 0.99))} |");
Console.WriteLine($"| queue added per receipt: printer idle from one receipt to the next, ms | {Ms(gaps.Average())} | {Ms(Pct(gaps, 0.5))} | {Ms(Pct(gaps, 0.99))} |");
Console.WriteLine($"| result report round trip (off the printer's path), ms | {Ms(reportTimes.Average())} | {Ms(Pct(reportTimes, 0.5))} | {Ms(Pct(reportTimes, 0.99))} |");
Console.WriteLine($"| driver submit (durable in PostgreSQL), ms | {Ms(allSubmits.Average())} | {Ms(Pct(allSubmits, 0.5))} | {Ms(Pct(allSubmits, 0.99))} |");
Console.WriteLine($"| driver submit, each driver's first left out, ms | {Ms(laterSubmits.Average())} | {Ms(Pct(laterSubmits, 0.5))} | {Ms(Pct(laterSubmits, 0.99))} |");
Console.WriteLine($"| all submitted after, s | {submitted.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} | | |");
Console.WriteLine($"| receipts in the emulated FN | {printedReceipts} | | |");
try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
return 0;
