using Loyalty.Api.Tests.Support;
using Loyalty.AtolEmulator;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Fiscal;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests;

/// <summary>
/// Hold → print → commit against the real server and an emulated ATOL web server: bonuses are booked
/// only for a fiscalised receipt, a refused receipt gives them back, and a sale run again after a
/// crash or a paper change prints once and books once.
/// </summary>
public sealed class BonusFiscalSaleTests(ServerFixture server) : IClassFixture<ServerFixture>, IAsyncLifetime
{
    private AtolWebServerEmulator _printer = null!;
    private string _journal = "";
    private LoyaltyClient _loyalty = null!;

    public async Task InitializeAsync()
    {
        _printer = await AtolWebServerEmulator.StartAsync();
        _journal = Path.Combine(Path.GetTempPath(), "loyalty-fiscal-sale-" + Guid.NewGuid().ToString("N"));
        _loyalty = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        _loyalty.Dispose();
        await _printer.DisposeAsync();
        if (Directory.Exists(_journal)) Directory.Delete(_journal, recursive: true);
    }

    private AtolFiscalDriver OpenPrinter() => AtolFiscalDriver.Open(new AtolDriverOptions
    {
        BaseAddress = _printer.BaseAddress, DataDirectory = _journal,
        RequestTimeout = TimeSpan.FromSeconds(1), PollInterval = TimeSpan.FromMilliseconds(40), MaxWait = TimeSpan.FromSeconds(6),
    });

    private async Task<BonusSale> SaleAsync(long bonusKopecks, long balanceKopecks = 100_00)
    {
        var run = Guid.NewGuid().ToString("N")[..10];
        var card = $"F{run}";
        await _loyalty.IssueCardAsync(new IssueCardRequest { CardNumber = card });
        await _loyalty.AdjustAsync(new AdjustRequest { OperationId = $"{run}-open", CardNumber = card, Amount = balanceKopecks, Reason = "opening balance" });
        return new BonusSale(card, $"S{run}", "R1", 1, 1,
            [new BonusSaleLine("MILK", "dairy", "Молоко 3,2 %", 2000, 89_90, 179_80, VatRate.Vat10), new BonusSaleLine("BREAD", "bakery", "Хлеб", 1000, 45_50, 45_50, VatRate.Vat10)],
            bonusKopecks, FiscalPaymentType.Electronically);
    }

    [Fact]
    public async Task A_fiscalised_receipt_books_its_bonuses_and_prints_them_as_exact_line_discounts()
    {
        var sale = await SaleAsync(30_00);
        await using var printer = OpenPrinter();

        var outcome = await new BonusFiscalSale(_loyalty, printer).RunAsync(sale);

        Assert.Equal(FiscalState.Printed, outcome.Fiscal.State);
        Assert.True(outcome.Booked);
        Assert.Equal(30_00, outcome.RedeemedKopecks);
        var printed = Assert.Single(_printer.Receipts);
        Assert.Equal(179_80 + 45_50 - 30_00, printed.TotalKopecks);
        var card = await _loyalty.GetCardAsync(sale.CardNumber);
        Assert.Equal(100_00 - 30_00 + outcome.AccruedKopecks, card.Balance);
        Assert.Equal(0, card.Held);
    }

    [Fact]
    public async Task A_receipt_the_printer_refuses_for_good_gives_the_held_bonuses_back_and_books_nothing()
    {
        var sale = await SaleAsync(30_00);
        _printer.FailNextTask(task => task["type"]?.GetValue<string>() == "sell", 66, "Неверная цена");
        await using var printer = OpenPrinter();

        var outcome = await new BonusFiscalSale(_loyalty, printer).RunAsync(sale);

        Assert.Equal(FiscalState.Failed, outcome.Fiscal.State);
        Assert.False(outcome.Booked);
        Assert.Empty(_printer.Receipts);
        var card = await _loyalty.GetCardAsync(sale.CardNumber);
        Assert.Equal(100_00, card.Balance);
        Assert.Equal(0, card.Held);
    }

    [Fact]
    public async Task Paper_out_keeps_the_bonuses_held_and_the_sale_run_again_by_a_new_process_prints_once_and_books_once()
    {
        var sale = await SaleAsync(20_00);
        _printer.PaperPresent = false;
        await using (var first = OpenPrinter())
        {
            var waiting = await new BonusFiscalSale(_loyalty, first).RunAsync(sale);
            Assert.Equal(FiscalState.NeedsAttention, waiting.Fiscal.State);
            Assert.Equal(AttentionReason.PaperOut, waiting.Fiscal.Attention);
            Assert.Equal(20_00, (await _loyalty.GetCardAsync(sale.CardNumber)).Held);
        }

        _printer.PaperPresent = true;
        await using var second = OpenPrinter();   // the adapter restarted; its journal is on disk
        var done = await new BonusFiscalSale(_loyalty, second).RunAsync(sale);
        var again = await new BonusFiscalSale(_loyalty, second).RunAsync(sale);

        Assert.Equal(FiscalState.Printed, done.Fiscal.State);
        Assert.Equal(done.Fiscal.Fiscal, again.Fiscal.Fiscal);
        Assert.Single(_printer.Receipts);
        var card = await _loyalty.GetCardAsync(sale.CardNumber);
        Assert.Equal(100_00 - 20_00 + done.AccruedKopecks, card.Balance);
        Assert.Equal(0, card.Held);
    }

    [Fact]
    public async Task A_hold_the_loyalty_server_refuses_prints_nothing()
    {
        var sale = await SaleAsync(500_00, balanceKopecks: 10_00);
        await using var printer = OpenPrinter();

        var refused = await Assert.ThrowsAsync<RpcException>(() => new BonusFiscalSale(_loyalty, printer).RunAsync(sale));

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Empty(_printer.Receipts);
    }
}
