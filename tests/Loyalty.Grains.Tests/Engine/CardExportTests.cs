using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Loyalty.Grains.Tests.Support;

namespace Loyalty.Grains.Tests.Engine;

/// <summary>The catalog export: every card once, in number order, with what a register may spend offline.</summary>
public sealed class CardExportTests : EngineTestBase
{
    protected override ProgramSettings Program => base.Program with { OfflineLimitPerCardKopecks = 300_00 };

    [Fact]
    public async Task The_export_gives_each_card_its_offline_spendable_amount_capped_and_nothing_to_blocked_held_out_or_indebted_cards()
    {
        await IssueWithBalanceAsync("7000001", 100_00);
        await IssueWithBalanceAsync("7000002", 500_00);                  // capped at the programme's 300.00
        var blocked = await IssueWithBalanceAsync("7000003", 100_00);
        await blocked.SetStatusAsync("block-3", CardStatus.Blocked, "lost");
        var held = await IssueWithBalanceAsync("7000004", 100_00);
        await held.RedeemAsync("hold-4", ReceiptOf(1, 200_00), 60_00);    // 40.00 left to spend
        var indebted = await IssueWithBalanceAsync("7000005", 10_00);
        await indebted.ApplyOfflineAsync("offline-5", ReceiptOf(2, 100_00), [50_00]);

        ExportWatermark? mark = null;
        var cards = new List<ExportedCard>();
        await foreach (var card in new CardExport(Engine.DataSource, Cards.Programs).StreamAsync(w => mark = w))
            cards.Add(card);

        Assert.Equal(["7000001", "7000002", "7000003", "7000004", "7000005"], cards.Select(c => c.Number));
        Assert.Equal([100_00L, 300_00L, 0L, 40_00L, 0L], cards.Select(c => c.OfflineSpendableKopecks));
        Assert.Equal(CardStatus.Blocked, cards[2].Status);
        Assert.True(cards[4].BalanceKopecks < 0);
        Assert.NotNull(mark);
        Assert.True(mark!.LedgerPosition > 0);
    }
}
