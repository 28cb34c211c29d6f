using Loyalty.Api.Tests.Support;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests;

/// <summary>
/// The Dinect flow with the .NET client: online while the server answers, offline from the last
/// export when it does not (also after a restart of the till), and the shift's receipts reach the
/// server once when the link is back: online ones match, offline ones are applied.
/// </summary>
public sealed class OfflineTillTests(ServerFixture server) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "loyalty-till-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_data)) Directory.Delete(_data, recursive: true);
    }

    private static TillLine[] Lines(long amount) => [new TillLine("MILK", "dairy", "Milk", 1000, amount, amount)];

    [Fact]
    public async Task A_till_sells_online_then_offline_from_the_last_export_and_its_shift_is_reconciled_once_when_the_link_is_back()
    {
        var store = "TILL" + Guid.NewGuid().ToString("N")[..6];
        var card = "C" + Guid.NewGuid().ToString("N")[..10];
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        await admin.IssueCardAsync(new IssueCardRequest { CardNumber = card });
        await admin.AdjustAsync(new AdjustRequest { OperationId = $"{card}-open", CardNumber = card, Amount = 50_00, Reason = "opening balance" });

        using (var online = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30)))
        {
            var till = new OfflineTill(online, store, "R1", 1, _data);
            await till.RefreshCatalogAsync();
            var sale = await till.SellAsync(1, card, Lines(100_00), 10_00);
            Assert.False(sale.Offline);
            Assert.Equal(10_00, sale.RedeemedKopecks);
        }

        // The link goes down; the till is restarted too: it decides from the export it kept on disk.
        using (var down = LoyaltyClient.Create(ClosedPort.Address(), server.AdminKey, TimeSpan.FromSeconds(2)))
        {
            var till = new OfflineTill(down, store, "R1", 1, _data);
            var first = await till.SellAsync(2, card, Lines(100_00), 30_00);
            var second = await till.SellAsync(3, card, Lines(100_00), 30_00);
            Assert.True(first.Offline);
            Assert.Equal(30_00, first.RedeemedKopecks);          // the export said 50.00
            Assert.Equal(20_00, second.RedeemedKopecks);         // what is left of it offline
            await Assert.ThrowsAsync<RpcException>(() => till.CloseShiftAsync());
        }

        using (var back = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30)))
        {
            var till = new OfflineTill(back, store, "R1", 1, _data);
            Assert.Equal(3, till.ReceiptCount);
            var shift = await till.CloseShiftAsync();
            var again = await till.CloseShiftAsync();

            Assert.Equal([ReceiptOutcome.Matched, ReceiptOutcome.AppliedFromReport, ReceiptOutcome.AppliedFromReport], shift.Receipts.Select(r => r.Outcome));
            Assert.Equal(shift, again);
            var balance = 50_00 - 10_00 - 30_00 - 20_00 + shift.Receipts.Sum(r => r.AppliedAccrued) + 4_50; // + 5 % of the 90.00 paid online
            Assert.Equal(balance, (await back.GetCardAsync(card)).Balance);
        }
        Assert.Empty(await server.Server.Engine.CheckInvariantsAsync());
    }
}
