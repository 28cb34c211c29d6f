using System.Text.Json;
using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>Fixed clock, programmes and receipt builders shared by the rule tests.</summary>
internal static class R
{
    /// <summary>The clock of every test: a fixed instant in UTC; tests advance it by hand.</summary>
    public static readonly DateTimeOffset T0 = new(2025, 3, 1, 10, 0, 0, TimeSpan.Zero);

    public const string CardNumber = "7000123400001111";

    /// <summary>5 % base, dairy 7 %, books 12.34 %, tobacco and alcohol excluded; 30 % cap, 1-rouble minimum per line; no delay, no expiry.</summary>
    public static ProgramSettings Standard() => new()
    {
        ProgramId = "std",
        AccrualBasisPoints = 500,
        CategoryRates = new Dictionary<string, int> { ["dairy"] = 700, ["books"] = 1234, ["promo"] = 0 },
        ExcludedCategories = new HashSet<string> { "tobacco", "alcohol" },
        MaxRedeemPercent = 30,
        MinLineAmountKopecks = 100,
        HoldTimeoutSeconds = 900,
        AccrualDelayDays = 0,
        ExpiryDays = 0,
    };

    /// <summary>Bonuses may pay everything: no cap, no line minimum, no exclusions.</summary>
    public static ProgramSettings PayAll() => new()
    {
        ProgramId = "all",
        AccrualBasisPoints = 0,
        MaxRedeemPercent = 100,
        MinLineAmountKopecks = 0,
        HoldTimeoutSeconds = 900,
    };

    public static ReceiptRef Ref(long number, long shift = 1) => new("S01", "R01", shift, number);

    public static ReceiptLine Line(string sku, string category, long amountKopecks, long quantityMilli = 1000) =>
        new(sku, category, sku, quantityMilli, quantityMilli == 1000 || quantityMilli <= 0 ? amountKopecks : (long)((Int128)amountKopecks * 1000 / quantityMilli), amountKopecks);

    public static Receipt Receipt(long number, params ReceiptLine[] lines) => new(Ref(number), lines);

    /// <summary>A receipt from a compact spec: "category:amount,category:amount"; SKUs are L1, L2, …</summary>
    public static Receipt Parse(string spec, long number = 1) =>
        Receipt(number, spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select((part, i) =>
            {
                var p = part.Split(':');
                return Line($"L{i + 1}", p[0], long.Parse(p[1]));
            }).ToArray());

    public static long[] Longs(string csv) =>
        csv.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();

    /// <summary>A deep, order-preserving picture of a state, to prove a refused command changed nothing.</summary>
    public static string Snapshot(CardState state) => JsonSerializer.Serialize(state);
}

/// <summary>
/// One card driven through a chain of decisions: keeps the latest state, the clock and every ledger
/// row written since the card was issued, so tests can check that the figures are the sums of the rows.
/// </summary>
internal sealed class CardRun
{
    private int _operation;

    public CardRun(ProgramSettings program, DateTimeOffset? now = null, string number = R.CardNumber)
    {
        Program = program;
        Now = now ?? R.T0;
        State = Card.Issue(number, program, null, null, Now).State;
    }

    public ProgramSettings Program { get; }
    public DateTimeOffset Now { get; private set; }
    public CardState State { get; private set; }
    public List<LedgerEntry> Entries { get; } = [];
    /// <summary>The rows of the last accepted decision.</summary>
    public IReadOnlyList<LedgerEntry> LastEntries { get; private set; } = [];
    public Dictionary<ReceiptRef, ReceiptRecord> Receipts { get; } = [];

    public string NextOperationId() => $"op-{++_operation}";

    public void Advance(TimeSpan by) => Now += by;

    public CardState Settled => Card.Settled(State, Program, Now);

    /// <summary>Applies an accepted decision; a refused command throws and leaves everything as it was.</summary>
    public T Apply<T>(Func<CardState, Decision<T>> command)
    {
        var decision = command(State);
        State = decision.State;
        Entries.AddRange(decision.Entries);
        LastEntries = decision.Entries;
        if (decision.ReceiptCreated is { } created) Receipts[created.Ref] = created;
        if (decision.ReceiptUpdated is { } updated) Receipts[updated.Ref] = updated;
        return decision.Reply;
    }

    public CardView Adjust(long amount, string reason = "goodwill") =>
        Apply(s => Card.Adjust(s, Program, NextOperationId(), amount, reason, "tester", Now));

    public HoldResult Redeem(Receipt receipt, long amount) =>
        Apply(s => Card.Redeem(s, Program, NextOperationId(), receipt, amount, Committed(receipt.Ref), Now));

    public CommitResult Commit(Receipt receipt, string? holdId = null) =>
        Apply(s => Card.Commit(s, Program, NextOperationId(), receipt, holdId, Committed(receipt.Ref), Now));

    public CancelResult Cancel(string holdId) =>
        Apply(s => Card.Cancel(s, Program, NextOperationId(), holdId, Now));

    public RefundResult Refund(ReceiptRef receipt, params ReturnedLine[] lines) =>
        Apply(s => Card.Refund(s, Program, NextOperationId(), receipt, Committed(receipt), lines, Now));

    public CommitResult ApplyOffline(Receipt receipt, params long[] discounts) =>
        Apply(s => Card.ApplyOffline(s, Program, NextOperationId(), receipt, discounts, Committed(receipt.Ref), Now));

    /// <summary>The dry run of Redeem then Commit on the current state; changes nothing.</summary>
    public QuoteResult Quote(Receipt receipt, long requested) =>
        Card.Quote(State, Program, receipt, requested, Committed(receipt.Ref), Now);

    /// <summary>The receipt's committed record, as the runtime would load it by its key.</summary>
    public ReceiptRecord? Committed(ReceiptRef receipt) => Receipts.GetValueOrDefault(receipt);

    /// <summary>A write that moves nothing by itself, so the rows it carries are the ones time wrote.</summary>
    public CardView Touch() =>
        Apply(s => Card.SetStatus(s, Program, CardStatus.Active, "", Now));

    public long SumAmounts => Entries.Sum(e => e.AmountKopecks);
    public long SumHeld => Entries.Sum(e => e.HeldDeltaKopecks);
    public long SumPending => Entries.Sum(e => e.PendingDeltaKopecks);

    /// <summary>The card's figures are the sums of its ledger columns, and its lots and holds add up to them.</summary>
    public void AssertLedgerConsistent()
    {
        var s = State;
        Assert.Equal(SumAmounts, s.BalanceKopecks);
        Assert.Equal(SumHeld, s.HeldKopecks);
        Assert.Equal(SumPending, s.PendingKopecks);
        Assert.Equal(s.Lots.Sum(l => l.RemainingKopecks) + s.Holds.Sum(h => h.Takes.Sum(t => t.AmountKopecks)) - s.DebtKopecks, s.BalanceKopecks);
        Assert.Equal(s.Holds.Sum(h => h.AmountKopecks), s.HeldKopecks);
        Assert.Equal(s.Lots.Where(l => !l.Released).Sum(l => l.RemainingKopecks), s.PendingKopecks);
        long running = 0;
        foreach (var e in Entries)
        {
            running += e.AmountKopecks;
            Assert.Equal(running, e.BalanceAfterKopecks);
        }
        if (Entries.Count > 0)
        {
            Assert.Equal(s.BalanceKopecks, Entries[^1].BalanceAfterKopecks);
            Assert.Equal(s.AvailableKopecks, Entries[^1].AvailableAfterKopecks);
        }
    }
}
