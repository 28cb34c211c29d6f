using Loyalty.AtolEmulator;
using Loyalty.PosAdapter.Fiscal;

namespace Loyalty.PosAdapter.Tests.Fiscal;

/// <summary>An emulated ATOL web server, a data directory and a driver with short timings, disposed together.</summary>
internal sealed class DriverHarness : IAsyncDisposable
{
    public required AtolWebServerEmulator Emulator { get; init; }
    public required string DataDirectory { get; init; }
    public required AtolDriverOptions Options { get; init; }
    public AtolFiscalDriver Driver { get; private set; } = null!;

    public static async Task<DriverHarness> StartAsync(Func<AtolDriverOptions, AtolDriverOptions>? configure = null, AtolEmulatorOptions? emulatorOptions = null)
    {
        var emulator = await AtolWebServerEmulator.StartAsync(emulatorOptions);
        var directory = Path.Combine(Path.GetTempPath(), "loyalty-fiscal-" + Guid.NewGuid().ToString("N"));
        var options = new AtolDriverOptions
        {
            BaseAddress = emulator.BaseAddress,
            DataDirectory = directory,
            RequestTimeout = TimeSpan.FromSeconds(1),
            PollInterval = TimeSpan.FromMilliseconds(40),
            MaxWait = TimeSpan.FromSeconds(6),
        };
        if (configure is not null) options = configure(options);
        var harness = new DriverHarness { Emulator = emulator, DataDirectory = directory, Options = options };
        harness.Driver = AtolFiscalDriver.Open(options);
        return harness;
    }

    /// <summary>Plays a crash: the driver goes away (its calls cancelled, journal closed) and a new one opens the same journal.</summary>
    public async Task<AtolFiscalDriver> RestartDriverAsync()
    {
        await Driver.DisposeAsync();
        Driver = AtolFiscalDriver.Open(Options);
        return Driver;
    }

    public async ValueTask DisposeAsync()
    {
        await Driver.DisposeAsync();
        await Emulator.DisposeAsync();
        try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { }
    }

    /// <summary>A one-line receipt: <paramref name="amountKopecks"/> before bonuses, <paramref name="bonusKopecks"/> off, the rest paid by card.</summary>
    public static FiscalReceipt Receipt(string key, long amountKopecks, long bonusKopecks = 0, FiscalCustomer? customer = null) => new()
    {
        ReceiptKey = key,
        Lines = [new FiscalLine("Вода питьевая 19 л", 1000, amountKopecks, amountKopecks, bonusKopecks, VatRate.Vat20)],
        Payments = [new FiscalPayment(FiscalPaymentType.Electronically, amountKopecks - bonusKopecks)],
        Customer = customer,
        Operator = new FiscalOperator("Кассир Петрова А.В."),
    };

    /// <summary>How many receipts the FN holds for this total.</summary>
    public int ReceiptsFor(long totalKopecks) => Emulator.Receipts.Count(d => d.TotalKopecks == totalKopecks);
}
