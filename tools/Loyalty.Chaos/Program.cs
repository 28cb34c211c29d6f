using Loyalty.Chaos;

ChaosOptions options;
try
{
    options = ChaosOptions.Parse(args);
}
catch (HelpRequestedException)
{
    Console.WriteLine(ChaosOptions.Usage);
    return 0;
}
catch (ArgumentException error)
{
    Console.Error.WriteLine(error.Message);
    Console.Error.WriteLine(ChaosOptions.Usage);
    return 2;
}

using var interrupted = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C ends the load early; the run still resolves, stops and checks.
    e.Cancel = true;
    interrupted.Cancel();
};
try
{
    var report = await ChaosRun.RunAsync(options with { }, line => Console.Error.WriteLine($"{DateTime.Now:HH:mm:ss} {line}"), interrupted.Token);
    Report.WriteTable(report, Console.Out);
    if (options.CsvPath is not null) await Report.WriteCsvAsync(report, options.CsvPath);
    if (options.HtmlPath is not null) await Report.WriteHtmlAsync(report, options.HtmlPath);
    return report.AllHold ? 0 : 1;
}
catch (Exception error) when (error is InvalidOperationException or TimeoutException)
{
    Console.Error.WriteLine($"The chaos run could not be carried out: {error.Message}");
    return 2;
}
