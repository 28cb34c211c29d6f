using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>The card's figures are always the sums of the ledger rows it wrote, whatever the sequence of commands.</summary>
public sealed class LedgerConsistencyTests
{
    [Fact]
    public void A_scripted_day_of_every_kind_of_movement_keeps_the_figures_equal_to_the_ledger_sums()
    {
        var card = new CardRun(R.Standard() with { AccrualDelayDays = 14, ExpiryDays = 30 });
        var first = R.Receipt(1, R.Line("A", "grocery", 10_000, 2_000), R.Line("B", "dairy", 5_000));

        card.Adjust(20_000); card.AssertLedgerConsistent();
        var hold = card.Redeem(first, 4_000); card.AssertLedgerConsistent();
        card.Commit(first, hold.HoldId); card.AssertLedgerConsistent();
        card.Refund(first.Ref, new ReturnedLine("A", 1_000)); card.AssertLedgerConsistent();
        var second = R.Parse("grocery:5000", number: 2);
        var cancelled = card.Redeem(second, 1_000); card.AssertLedgerConsistent();
        card.Cancel(cancelled.HoldId); card.AssertLedgerConsistent();
        card.Redeem(second, 500); card.AssertLedgerConsistent();
        card.Advance(TimeSpan.FromHours(1));
        card.ApplyOffline(R.Parse("grocery:3000", number: 3), 900); card.AssertLedgerConsistent();
        card.Advance(TimeSpan.FromDays(14));
        card.Touch(); card.AssertLedgerConsistent();
        card.Refund(first.Ref, new ReturnedLine("A", 1_000), new ReturnedLine("B", 1_000)); card.AssertLedgerConsistent();
        card.Adjust(-1_000, "correction"); card.AssertLedgerConsistent();
        card.Advance(TimeSpan.FromDays(60));
        card.Touch(); card.AssertLedgerConsistent();

        var kinds = card.Entries.Select(e => e.Kind).ToHashSet();
        foreach (var kind in Enum.GetValues<LedgerKind>().Where(k => k is not (LedgerKind.TransferIn or LedgerKind.TransferOut)))
            Assert.Contains(kind, kinds);
        Assert.Equal(0, card.State.BalanceKopecks); // everything burnt in the end
    }

    [Fact]
    public void A_transfer_moves_balance_pending_and_debt_and_both_ledgers_still_add_up()
    {
        var program = R.Standard() with { AccrualDelayDays = 14 };
        var source = new CardRun(program, number: "1111");
        var target = new CardRun(program, number: "2222");
        source.Adjust(1_000);
        source.Commit(R.Parse("grocery:10000"));                 // 500 pending
        source.ApplyOffline(R.Parse("grocery:5000", number: 2), 1_500); // 500 into debt
        target.Adjust(300);

        var (from, to) = Card.Transfer(source.State, target.State, program, program, "op-merge", "merge", "tester", source.Now);
        source.Apply(_ => from);
        target.Apply(_ => to);

        Assert.Equal(CardStatus.Closed, source.State.Status);
        Assert.Equal((0L, 0L, 0L), (source.State.BalanceKopecks, source.State.PendingKopecks, source.State.DebtKopecks));
        Assert.Equal(300 + 1_000 + 500 - 1_500 + 175, target.State.BalanceKopecks);
        Assert.Equal(500 + 175, target.State.PendingKopecks);
        Assert.Equal(200, target.State.DebtKopecks);           // the target's own 300 repaid the moved debt of 500 as far as it went
        Assert.Equal(-200, target.State.AvailableKopecks);
        source.AssertLedgerConsistent();
        target.AssertLedgerConsistent();
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    public void Ledger_sums_equal_the_figures_after_every_step_of_random_command_sequences(int seed, bool withOffline)
    {
        var random = new Random(seed * 7919);
        var all = new List<LedgerEntry>();
        for (var sequence = 0; sequence < 60; sequence++)
        {
            var program = R.Standard() with
            {
                AccrualDelayDays = new[] { 0, 0, 3, 14 }[random.Next(4)],
                ExpiryDays = new[] { 0, 5, 30 }[random.Next(3)],
                HoldTimeoutSeconds = 900,
                MaxRedeemPercent = random.Next(2) == 0 ? 30 : 100,
                MinLineAmountKopecks = random.Next(2) == 0 ? 100 : 0,
            };
            var card = new CardRun(program);
            RunRandomSequence(card, random, steps: 80, withOffline, $"seed {seed}, sequence {sequence}");
            all.AddRange(card.Entries);
        }

        // A guard on the walk itself, not on the domain: it must have reached every movement it claims to check.
        var kinds = all.Select(e => e.Kind).ToHashSet();
        var expected = new[] { LedgerKind.Accrual, LedgerKind.AccrualRelease, LedgerKind.Hold, LedgerKind.HoldPost, LedgerKind.HoldVoid,
            LedgerKind.HoldExpired, LedgerKind.RefundReversal, LedgerKind.RefundRestore, LedgerKind.Expiry, LedgerKind.Adjustment };
        Assert.Empty(expected.Except(kinds));
    }

    private static void RunRandomSequence(CardRun card, Random random, int steps, bool withOffline, string name)
    {
        var holds = new List<(string Id, Receipt Receipt)>();
        var receiptNumber = 0L;
        var log = new List<string>();

        for (var step = 0; step < steps; step++)
        {
            var before = card.State;
            var entriesBefore = card.Entries.Count;
            var online = true;
            string action;
            try
            {
                switch (random.Next(withOffline ? 8 : 7))
                {
                    case 0:
                    {
                        var available = card.Settled.AvailableKopecks;
                        var amount = available > 0 && random.Next(3) == 0 ? -random.NextInt64(1, available + 1) : random.NextInt64(1, 100_000);
                        action = $"adjust {amount}";
                        card.Adjust(amount);
                        break;
                    }
                    case 1:
                    {
                        var receipt = RandomReceipt(random, ++receiptNumber);
                        var max = ProgramRules.MaxRedeem(card.Program, receipt, card.Settled.AvailableKopecks);
                        var amount = max > 0 ? random.NextInt64(1, max + 1) : 1 + random.Next(100);
                        action = $"redeem {amount} of max {max} on {receipt.Ref}";
                        var hold = card.Redeem(receipt, amount);
                        holds.Add((hold.HoldId, receipt));
                        break;
                    }
                    case 2 when holds.Count > 0:
                    {
                        var (id, receipt) = holds[random.Next(holds.Count)];
                        action = $"commit hold {id}";
                        card.Commit(receipt, id);
                        break;
                    }
                    case 2:
                    case 3:
                    {
                        var receipt = RandomReceipt(random, ++receiptNumber);
                        action = $"commit {receipt.Ref} without a hold";
                        card.Commit(receipt);
                        break;
                    }
                    case 4 when holds.Count > 0:
                    {
                        var (id, _) = holds[random.Next(holds.Count)];
                        action = $"cancel hold {id}";
                        card.Cancel(id);
                        break;
                    }
                    case 4:
                    case 5 when card.Receipts.Count > 0:
                    {
                        if (card.Receipts.Count == 0) { action = "nothing to refund"; break; }
                        var record = card.Receipts.Values.ElementAt(random.Next(card.Receipts.Count));
                        var line = record.Lines[random.Next(record.Lines.Count)];
                        var left = line.QuantityMilli - line.ReturnedQuantityMilli;
                        var quantity = left > 0 && random.Next(5) > 0 ? random.NextInt64(1, left + 1) : left + 1;
                        action = $"refund {quantity} of {line.Sku} of {record.Ref}";
                        card.Refund(record.Ref, new ReturnedLine(line.Sku, quantity));
                        break;
                    }
                    case 5:
                    case 6:
                    {
                        var by = random.Next(2) == 0 ? TimeSpan.FromSeconds(random.Next(0, 2_000)) : TimeSpan.FromHours(random.Next(0, 24 * 20));
                        action = $"advance {by}";
                        card.Advance(by);
                        if (random.Next(2) == 0) card.Touch();
                        break;
                    }
                    default:
                    {
                        online = false;
                        var receipt = RandomReceipt(random, ++receiptNumber);
                        var discounts = receipt.Lines.Select(l => random.Next(3) == 0 ? random.NextInt64(0, l.AmountKopecks + 1) : 0).ToArray();
                        action = $"offline {receipt.Ref} with {discounts.Sum()} off";
                        card.ApplyOffline(receipt, discounts);
                        break;
                    }
                }
            }
            catch (CardException ex)
            {
                action = $"refused: {ex.Code}: {ex.Message}";
                Assert.Same(before, card.State);
                Assert.Equal(entriesBefore, card.Entries.Count);
            }

            log.Add(action);
            var where = $"{name}, step {step}: {string.Join(" | ", log.TakeLast(6))}";
            try
            {
                card.AssertLedgerConsistent();
            }
            catch (Exception ex)
            {
                throw new Xunit.Sdk.XunitException($"{where}\n{ex.Message}");
            }
            if (online && !withOffline)
                Assert.True(card.State.AvailableKopecks >= 0, $"{where}: available {card.State.AvailableKopecks}");
        }
    }

    private static Receipt RandomReceipt(Random random, long number)
    {
        var categories = new[] { "grocery", "grocery", "dairy", "books", "tobacco" };
        var count = random.Next(1, 5);
        var lines = Enumerable.Range(1, count)
            .Select(i => R.Line($"S{i}", categories[random.Next(categories.Length)], random.NextInt64(50, 20_000), 1_000 * random.Next(1, 4)))
            .ToArray();
        return R.Receipt(number, lines);
    }
}
