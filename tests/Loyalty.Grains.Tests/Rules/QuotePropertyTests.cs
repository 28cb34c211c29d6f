using Loyalty.Grains.Domain;
using Xunit.Abstractions;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>
/// Quote is the dry run of Redeem then Commit: over seeded random programmes, receipts and card
/// states (blocked, closed, in debt, pending accruals, lots about to expire, open holds, the receipt
/// held or committed already), Quote's figures equal what Redeem of the quoted amount then Commit
/// produce, or Quote refuses and so do they, with the same code.
/// </summary>
public sealed class QuotePropertyTests(ITestOutputHelper output)
{
    /// <summary>Random cases per seed; each builds a card through a random history, so this is the bulk of the test's time (about a second).</summary>
    private const int CasesPerSeed = 5_000;

    private static readonly string[] Categories = ["grocery", "dairy", "books", "tobacco", "promo"];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Quote_agrees_with_redeem_then_commit_on_random_programmes_receipts_and_card_states(int seed)
    {
        var random = new Random(seed);
        var outcomes = new Dictionary<string, int>();
        for (var i = 0; i < CasesPerSeed; i++)
        {
            var caseName = $"seed {seed}, case {i}";
            string kind;
            try { kind = CheckOneCase(random, caseName); }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException || !e.Message.Contains(caseName))
            {
                throw new Xunit.Sdk.XunitException($"{caseName}: {e}");
            }
            outcomes[kind] = outcomes.GetValueOrDefault(kind) + 1;
        }
        output.WriteLine($"seed {seed}: {CasesPerSeed} cases: " + string.Join(", ", outcomes.OrderBy(o => o.Key).Select(o => $"{o.Key} {o.Value}")));
        // The generator must reach both sides of the property, or it proves little.
        Assert.True(outcomes.GetValueOrDefault("quoted with redemption") > CasesPerSeed / 10, "too few cases redeemed anything");
        Assert.True(outcomes.Keys.Count(k => k.StartsWith("refused")) >= 3, "too few kinds of refusal were reached");
    }

    /// <summary>Checks the property on one random case; returns what kind of case it was, for the tally.</summary>
    private static string CheckOneCase(Random random, string caseName)
    {
        var program = RandomProgram(random);
        var card = new CardRun(program, R.T0, "7000" + random.Next(100_000, 999_999));
        var receipt = RandomReceipt(random, number: 1_000);
        var committed = BuildHistory(random, card, program, receipt);
        var state = card.State;
        var now = card.Now;
        var requested = random.Next(4) switch
        {
            0 => 0,
            1 => random.NextInt64(0, 100_00),
            2 => random.NextInt64(0, Math.Max(1, receipt.TotalKopecks)),
            _ => random.NextInt64(0, Limits.MaxAmountKopecks),
        };

        QuoteResult? quote = null;
        CardException? quoteRefusal = null;
        try { quote = Card.Quote(state, program, receipt, requested, committed, now); }
        catch (CardException e) { quoteRefusal = e; }

        if (quote is not null)
        {
            Assert.True(quote.RedeemKopecks <= quote.MaxRedeemKopecks && quote.RedeemKopecks <= requested, caseName);
            string? holdId = null;
            var afterHold = state;
            if (quote.RedeemKopecks > 0)
            {
                var hold = Card.Redeem(state, program, "redeem-op", receipt, quote.RedeemKopecks, committed, now);
                Assert.Equal(quote.LineDiscounts, hold.Reply.LineDiscounts);
                (afterHold, holdId) = (hold.State, hold.Reply.HoldId);
            }
            var commit = Card.Commit(afterHold, program, "commit-op", receipt, holdId, committed, now);
            Assert.True(quote.RedeemKopecks == commit.Reply.RedeemedKopecks, $"{caseName}: redeemed");
            Assert.True(quote.AccrualKopecks == commit.Reply.AccruedKopecks, $"{caseName}: accrued {quote.AccrualKopecks} vs {commit.Reply.AccruedKopecks}");
            Assert.Equal(quote.LineDiscounts, commit.ReceiptCreated!.Lines.Select(l => l.DiscountKopecks));
            Assert.Equal(quote.LineAccruals, commit.ReceiptCreated!.Lines.Select(l => l.AccrualKopecks));

            // The maximum is honest: a hold for it is granted, and one kopeck more is refused.
            if (quote.MaxRedeemKopecks > 0)
                Card.Redeem(state, program, "max-op", receipt, quote.MaxRedeemKopecks, committed, now);
            var overMax = Assert.Throws<CardException>(() => Card.Redeem(state, program, "over-op", receipt, quote.MaxRedeemKopecks + 1, committed, now));
            Assert.True(overMax.Code is CardErrorCode.LimitExceeded or CardErrorCode.InsufficientBonuses, $"{caseName}: {overMax.Message}");
            return quote.RedeemKopecks > 0 ? "quoted with redemption" : "quoted without redemption";
        }

        // Quote refused: Redeem of what was asked (within the receipt's limits) refuses with the same code, and so does Commit alone.
        var amount = Math.Min(requested, ProgramRules.RedeemCapacity(program, receipt));
        if (amount > 0)
        {
            var redeem = Record.Exception(() => Card.Redeem(state, program, "redeem-op", receipt, amount, committed, now)) as CardException
                ?? throw new Xunit.Sdk.XunitException($"{caseName}: quote refused ({quoteRefusal!.Message}) but a hold of {amount} was granted");
            Assert.True(quoteRefusal!.Code == redeem.Code, $"{caseName}: quote refused {quoteRefusal.Code} ({quoteRefusal.Message}), redeem {redeem.Code} ({redeem.Message})");
        }
        var commitAlone = Assert.Throws<CardException>(() => Card.Commit(state, program, "commit-op", receipt, null, committed, now));
        Assert.True(quoteRefusal!.Code == commitAlone.Code, $"{caseName}: quote refused {quoteRefusal.Code}, commit {commitAlone.Code}");
        return $"refused {quoteRefusal.Code}: {Shape(quoteRefusal.Message)}";
    }

    private static string Shape(string message) =>
        message.Contains("blocked") ? "blocked" : message.Contains("closed") ? "closed" : message.Contains("is held") ? "held"
        : message.Contains("already") ? "committed" : message.Contains("active holds") ? "hold limit" : "other";

    private static ProgramSettings RandomProgram(Random random) => new()
    {
        ProgramId = "p",
        AccrualBasisPoints = random.Next(3) == 0 ? 0 : random.Next(1, 2_000),
        CategoryRates = random.Next(2) == 0 ? new Dictionary<string, int>() : new Dictionary<string, int> { ["dairy"] = random.Next(0, 3_000), ["books"] = 1234 },
        ExcludedCategories = random.Next(2) == 0 ? new HashSet<string>() : new HashSet<string> { "tobacco" },
        MaxRedeemPercent = random.Next(4) == 0 ? 100 : random.Next(0, 101),
        MinLineAmountKopecks = random.Next(3) == 0 ? 0 : random.Next(1, 500),
        HoldTimeoutSeconds = random.Next(60, 3_600),
        AccrualDelayDays = random.Next(3) == 0 ? 0 : random.Next(1, 15),
        ExpiryDays = random.Next(3) == 0 ? 0 : random.Next(1, 60),
    };

    private static Receipt RandomReceipt(Random random, long number)
    {
        var lines = Enumerable.Range(0, random.Next(1, 7)).Select(i =>
        {
            var quantityMilli = random.Next(4) == 0 ? random.Next(1, 5_000) : 1000 * random.Next(1, 4);
            var amount = random.Next(10) == 0 ? 0 : random.NextInt64(1, 50_000);
            return R.Line($"SKU{i}", Categories[random.Next(Categories.Length)], amount, quantityMilli);
        }).ToArray();
        return new Receipt(new ReceiptRef("S", "R", 7, number), lines);
    }

    /// <summary>
    /// Drives the card through a random history: credits, sales with accrual (pending or spendable),
    /// holds left open, offline redemptions beyond the balance (debt), time passing so lots release and
    /// come close to or past their expiry, and sometimes a block, a close or the receipt under test held
    /// or committed (with this card or another). Returns the receipt's committed record, if any.
    /// </summary>
    private static ReceiptRecord? BuildHistory(Random random, CardRun card, ProgramSettings program, Receipt receipt)
    {
        long next = 1;
        if (random.Next(10) < 7) card.Adjust(random.NextInt64(1, 500_00));
        for (var step = random.Next(0, 12); step > 0; step--)
        {
            try
            {
                switch (random.Next(6))
                {
                    case 0: card.Adjust(random.NextInt64(1, 200_00)); break;
                    case 1: card.Commit(RandomReceipt(random, next++)); break;
                    case 2:
                        var other = RandomReceipt(random, next++);
                        var q = card.Quote(other, random.NextInt64(1, 100_00));
                        if (q.RedeemKopecks > 0) card.Redeem(other, q.RedeemKopecks);
                        break;
                    case 3:
                        var offline = RandomReceipt(random, next++);
                        card.ApplyOffline(offline, [.. offline.Lines.Select(l => random.NextInt64(0, l.AmountKopecks + 1))]);
                        break;
                    default:
                        card.Advance(TimeSpan.FromSeconds(random.NextInt64(1, 40L * 24 * 3600)));
                        break;
                }
            }
            catch (CardException)
            {
                // A refused step is part of history too: nothing changed.
            }
        }

        try { return FinalStep(random, card, program, receipt); }
        catch (CardException) { return card.Committed(receipt.Ref); } // refused: nothing changed
    }

    private static ReceiptRecord? FinalStep(Random random, CardRun card, ProgramSettings program, Receipt receipt)
    {
        switch (random.Next(12))
        {
            case 0:
                card.Apply(s => Card.SetStatus(s, program, CardStatus.Blocked, "lost", card.Now));
                break;
            case 1:
                var target = new CardRun(program, card.Now, "8000000001");
                card.Apply(s => Card.Transfer(s, target.State, program, program, "move", "replaced", "tester", card.Now).Source);
                break;
            case 2:
                var q = card.Quote(receipt, random.NextInt64(1, 50_00));
                if (q.RedeemKopecks > 0) card.Redeem(receipt, q.RedeemKopecks);
                break;
            case 3:
                card.Commit(receipt);
                break;
            case 4:
                // Committed with another card: the receipt key is global.
                var otherCard = new CardRun(program, card.Now, "9000000001");
                otherCard.Commit(receipt);
                return otherCard.Committed(receipt.Ref);
            case 5:
                // Lots about to burn: stop just before, at or just after the nearest expiry.
                if (card.State.Lots.Where(l => l.ExpiresAt is not null).Select(l => l.ExpiresAt!.Value).DefaultIfEmpty().Min() is var expiry && expiry != default)
                    card.Advance(expiry - card.Now + TimeSpan.FromSeconds(random.Next(-1, 2)));
                break;
            case 6:
                // A hold left open that times out exactly now, or a second before.
                if (card.State.Holds.FirstOrDefault() is { } open)
                    card.Advance(open.ExpiresAt - card.Now - TimeSpan.FromSeconds(random.Next(0, 2)));
                break;
            case 7:
                // Holds up to the card's limit.
                for (var i = 0; i < Limits.MaxActiveHoldsPerCard && card.State.AvailableKopecks > 0; i++)
                {
                    var small = new Receipt(new ReceiptRef("S", "R", 8, 100 + i), [R.Line("X", "grocery", 100_00)]);
                    try { card.Redeem(small, 1); } catch (CardException) { break; }
                }
                break;
        }
        return card.Committed(receipt.Ref);
    }
}
