using System.Text.Json;
using System.Text.Json.Serialization;
using Loyalty.PosAdapter.Cli;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Formats;
using Polly;
using Polly.CircuitBreaker;

namespace Loyalty.PosAdapter.Adapter;

/// <summary>One register's exchange folder: where its catalog load file goes and where its sales reports appear.</summary>
/// <param name="Id">Our register id (the server's receipt keys use it).</param>
/// <param name="Format">kassir, frontol (reports and catalog) or csv (catalog only).</param>
/// <param name="CatalogPath">The catalog load file the register loads (written atomically).</param>
/// <param name="ReportsDirectory">Where the register writes its closed shifts' sales reports.</param>
/// <param name="ReportPattern">Which files there are reports (glob, e.g. <c>*.txt</c>).</param>
/// <param name="BonusPaymentTypes">Payment type codes that mean "paid with bonuses" (default none).</param>
/// <param name="LineDiscountsAreBonuses">Frontol: read line discounts as bonuses (<see cref="ReportReadOptions.LineDiscountsAreBonuses"/>; default false).</param>
public sealed record RegisterFolder(
    string Id, string Format, string CatalogPath, string? ReportsDirectory = null, string ReportPattern = "*.txt", IReadOnlyList<string>? BonusPaymentTypes = null,
    bool LineDiscountsAreBonuses = false);

/// <summary>
/// The store adapter's configuration, a JSON file (camelCase):
/// <c>{"server": "http://10.0.0.5:5080", "keyFile": "/etc/loyalty/till.key", "store": "MSK-01",
/// "dataDirectory": "/var/lib/loyalty-adapter", "exportEverySeconds": 300, "scanEverySeconds": 10,
/// "registers": [{"id": "R1", "format": "frontol", "catalogPath": "/exchange/r1/in/cards.txt",
/// "reportsDirectory": "/exchange/r1/out"}]}</c>.
/// </summary>
public sealed record AdapterConfig
{
    public required string Server { get; init; }
    public required string KeyFile { get; init; }
    public required string Store { get; init; }
    public required string DataDirectory { get; init; }
    public int ExportEverySeconds { get; init; } = 300;
    public int ScanEverySeconds { get; init; } = 10;
    public required IReadOnlyList<RegisterFolder> Registers { get; init; }

    /// <summary>Files larger than this are refused by the readers before reading (<see cref="ReportLimits.MaxFileBytes"/>).</summary>
    public const int MaxRegisters = 64;

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    /// <summary>Reads and checks a configuration file; errors name the file and the setting.</summary>
    public static AdapterConfig Load(string path)
    {
        AdapterConfig? config;
        try
        {
            config = JsonSerializer.Deserialize<AdapterConfig>(File.ReadAllText(path), Json);
        }
        catch (Exception error) when (error is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new CommandLineInputException($"{path}: {error.Message}");
        }
        if (config is null) throw new CommandLineInputException($"{path}: the file is empty.");
        if (config.Registers.Count is 0 or > MaxRegisters) throw new CommandLineInputException($"{path}: 'registers' must list 1 to {MaxRegisters} registers.");
        if (config.ExportEverySeconds < 10 || config.ScanEverySeconds < 1) throw new CommandLineInputException($"{path}: 'exportEverySeconds' must be at least 10 and 'scanEverySeconds' at least 1.");
        foreach (var register in config.Registers)
            if (register.Format is not ("kassir" or "frontol" or "csv"))
                throw new CommandLineInputException($"{path}: register {register.Id}: 'format' must be kassir, frontol or csv, not '{register.Format}'.");
        return config;
    }
}

/// <summary>What <c>loyalty adapter status</c> shows; written atomically after every pass.</summary>
public sealed record AdapterState(
    DateTimeOffset? LastExportAt, long LastExportCards, DateTimeOffset? CardsAsOf, bool LinkUp, string? LastError,
    int QueuedReports, int UploadedReports, int BrokenReports, DateTimeOffset UpdatedAt);

/// <summary>
/// One store's adapter: refreshes each register's catalog load file from the server's cards on a
/// schedule, picks up the sales reports the registers write, uploads each once and archives it,
/// moves a broken or refused one aside with a reason file, and keeps working through a server
/// outage (reports wait in their folder; a circuit breaker stops hammering a dead link). Uploads are
/// safe to repeat (the server reconciles a report once and answers the same), so a crash between
/// upload and archive only means the file is uploaded again on the next pass, answered the same.
/// </summary>
public sealed class StoreAdapter(AdapterConfig config, LoyaltyClient client, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private AdapterState _state = new(null, 0, null, true, null, 0, 0, 0, DateTimeOffset.MinValue);
    private DateTimeOffset _nextExport = DateTimeOffset.MinValue;

    /// <summary>Retries a failed server call a few times, then the breaker opens for a while so an outage costs one probe per pass.</summary>
    private readonly ResiliencePipeline _server = new ResiliencePipelineBuilder()
        .AddCircuitBreaker(new CircuitBreakerStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<RpcException>(e => e.IsRetryable),
            FailureRatio = 1.0, MinimumThroughput = 2, SamplingDuration = TimeSpan.FromSeconds(30), BreakDuration = TimeSpan.FromSeconds(15),
        })
        .Build();

    public static string StatePath(AdapterConfig config) => Path.Combine(config.DataDirectory, "state.json");

    /// <summary>Runs until cancelled: a pass every <see cref="AdapterConfig.ScanEverySeconds"/>.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            await PassAsync(cancellationToken);
            try { await Task.Delay(TimeSpan.FromSeconds(config.ScanEverySeconds), _time, cancellationToken); }
            catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>One pass: the catalog files if due (or <paramref name="exportNow"/>), then every waiting report. Returns the state it wrote.</summary>
    public async Task<AdapterState> PassAsync(CancellationToken cancellationToken, bool exportNow = false)
    {
        Directory.CreateDirectory(config.DataDirectory);
        if (exportNow || _time.GetUtcNow() >= _nextExport)
        {
            if (await TryAsync(() => ExportAsync(cancellationToken)))
                _nextExport = _time.GetUtcNow().AddSeconds(config.ExportEverySeconds);
        }
        var queued = 0;
        foreach (var register in config.Registers.Where(r => r.ReportsDirectory is not null && r.Format != "csv"))
        {
            if (!Directory.Exists(register.ReportsDirectory)) continue;
            foreach (var file in Directory.EnumerateFiles(register.ReportsDirectory!, register.ReportPattern).Order(StringComparer.Ordinal))
            {
                var done = await UploadAsync(register, file, cancellationToken);
                if (!done) queued++;
            }
        }
        _state = _state with { QueuedReports = queued, UpdatedAt = _time.GetUtcNow() };
        await WriteStateAsync();
        return _state;
    }

    private async Task ExportAsync(CancellationToken cancellationToken)
    {
        // One export from the server feeds every register: the cards are the store's, the files per register.
        var cards = new List<CatalogCard>();
        var asOf = DateTimeOffset.MinValue;
        await _server.ExecuteAsync(async token =>
        {
            cards.Clear();
            await foreach (var card in StoreExchange.CatalogCardsAsync(client, config.Store, w => asOf = w, token))
                cards.Add(card);
        }, cancellationToken);
        foreach (var register in config.Registers)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(register.CatalogPath))!);
            await StoreExchange.WriteCatalogAsync(register.Format, register.CatalogPath, CatalogFileParts.AsAsync(cards), cancellationToken);
        }
        _state = _state with { LastExportAt = _time.GetUtcNow(), LastExportCards = cards.Count, CardsAsOf = asOf };
    }

    /// <summary>Uploads one report; true when it is dealt with (archived or moved aside), false when it must wait for the link.</summary>
    private async Task<bool> UploadAsync(RegisterFolder register, string file, CancellationToken cancellationToken)
    {
        ShiftReport report;
        try
        {
            var options = new ReportReadOptions
            {
                StoreId = config.Store, RegisterId = register.Id,
                BonusPaymentTypeCodes = (register.BonusPaymentTypes ?? []).ToHashSet(StringComparer.Ordinal),
                LineDiscountsAreBonuses = register.LineDiscountsAreBonuses,
            };
            report = StoreExchange.ReadReport(register.Format, file, options, cancellationToken);
        }
        catch (RegisterFileException broken) when (broken.Error == RegisterFileError.ShiftNotClosed)
        {
            return false; // the register is still writing this shift: wait for its Z record
        }
        catch (RegisterFileException broken)
        {
            MoveAside(register, file, broken.Message);
            _state = _state with { BrokenReports = _state.BrokenReports + 1 };
            return true;
        }

        var ok = false;
        if (await TryAsync(async () =>
        {
            await _server.ExecuteAsync(async token => await client.UploadShiftReportAsync(ReportConversion.ToWire(report, LoyaltyCommandLine.DefaultReportCategory), cancellationToken: token), cancellationToken);
            ok = true;
        }, refused: reason => MoveAside(register, file, reason)))
        {
            if (ok)
            {
                Archive(register, file);
                _state = _state with { UploadedReports = _state.UploadedReports + 1 };
            }
            else
            {
                _state = _state with { BrokenReports = _state.BrokenReports + 1 };
            }
            return true;
        }
        return false;
    }

    /// <summary>Runs a server step: true when it finished or was refused for good (<paramref name="refused"/> told), false when the link is down.</summary>
    private async Task<bool> TryAsync(Func<Task> step, Action<string>? refused = null)
    {
        try
        {
            await step();
            _state = _state with { LinkUp = true, LastError = null };
            return true;
        }
        catch (Exception error) when (error is BrokenCircuitException || error is RpcException { IsRetryable: true } || error is RpcException { StatusCode: Protos.StatusCode.ResourceExhausted })
        {
            _state = _state with { LinkUp = false, LastError = error.Message };
            return false;
        }
        catch (RpcException error) when (refused is not null)
        {
            refused($"{error.StatusCode.ToWireName()}: {error.Message}");
            _state = _state with { LinkUp = true, LastError = error.Message };
            return true;
        }
        catch (RpcException error)
        {
            _state = _state with { LinkUp = true, LastError = error.Message };
            return false;
        }
    }

    private static void Archive(RegisterFolder register, string file)
    {
        var archive = Path.Combine(register.ReportsDirectory!, "archive");
        Directory.CreateDirectory(archive);
        File.Move(file, UniquePath(archive, Path.GetFileName(file)));
    }

    /// <summary>Moves a report the adapter cannot upload into <c>broken/</c>, with <c>NAME.reason.txt</c> saying why (file, line and field for a broken file).</summary>
    private static void MoveAside(RegisterFolder register, string file, string reason)
    {
        var broken = Path.Combine(register.ReportsDirectory!, "broken");
        Directory.CreateDirectory(broken);
        var target = UniquePath(broken, Path.GetFileName(file));
        File.Move(file, target);
        File.WriteAllText(target + ".reason.txt", reason + Environment.NewLine);
    }

    private static string UniquePath(string directory, string name)
    {
        var path = Path.Combine(directory, name);
        for (var n = 1; File.Exists(path); n++) path = Path.Combine(directory, $"{Path.GetFileNameWithoutExtension(name)}.{n}{Path.GetExtension(name)}");
        return path;
    }

    private async Task WriteStateAsync()
    {
        var path = StatePath(config);
        var temp = path + ".tmp";
        await File.WriteAllTextAsync(temp, JsonSerializer.Serialize(_state, AdapterConfig.Json));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>The last state a running (or stopped) adapter wrote, or null if it never ran.</summary>
    public static AdapterState? ReadState(AdapterConfig config) =>
        File.Exists(StatePath(config)) ? JsonSerializer.Deserialize<AdapterState>(File.ReadAllText(StatePath(config)), AdapterConfig.Json) : null;
}
