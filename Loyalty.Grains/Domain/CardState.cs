using System.Collections.Immutable;

namespace Loyalty.Grains.Domain;

public enum CardStatus { Active, Blocked, Closed }

/// <summary>
/// Bonuses that arrived together and share a date of becoming spendable and of burning.
/// Redemptions consume released lots nearest-expiry first.
/// </summary>
public sealed record Lot(long Id, long RemainingKopecks, DateTimeOffset AvailableAt, DateTimeOffset? ExpiresAt, bool Released, string? SourceReceipt);

/// <summary>The part of a lot a hold took; a void gives it back with its original dates.</summary>
public sealed record LotTake(long AmountKopecks, DateTimeOffset AvailableAt, DateTimeOffset? ExpiresAt);

/// <summary>
/// A pending redemption: bonuses set aside for one receipt until it is committed, cancelled, or times out.
/// <paramref name="PrintJobId"/> is set once an office register's print job has the receipt: the job
/// alone then commits or cancels the hold (<see cref="PrintQueue.IsBonusStepOf"/>).
/// </summary>
public sealed record Hold(
    string Id, string OperationId, long AmountKopecks, Receipt Receipt, IReadOnlyList<long> LineDiscounts,
    DateTimeOffset ExpiresAt, IReadOnlyList<LotTake> Takes, string? PrintJobId = null);

public enum HoldResolution { Committed, Cancelled, Expired }

public sealed record ResolvedHold(string Id, long AmountKopecks, HoldResolution Resolution, DateTimeOffset At);

/// <summary>
/// A card's whole state. Immutable: every command produces a new one, which replaces the old only
/// once it is durable. Always true: Balance = Σ lots + Σ hold takes − Debt; Held = Σ holds;
/// Pending = Σ unreleased lots; Available = Balance − Held − Pending = Σ released lots − Debt.
/// </summary>
public sealed record CardState
{
    public required string Number { get; init; }
    public required string ProgramId { get; init; }
    public CardStatus Status { get; init; } = CardStatus.Active;
    public string? StatusReason { get; init; }
    /// <summary>Grows by one with every durable write; the optimistic-concurrency token across processes.</summary>
    public long Version { get; init; }
    public long BalanceKopecks { get; init; }
    public long HeldKopecks { get; init; }
    public long PendingKopecks { get; init; }
    /// <summary>What offline redemptions spent beyond the balance; repaid by the next credits.</summary>
    public long DebtKopecks { get; init; }
    public ImmutableList<Lot> Lots { get; init; } = [];
    public ImmutableList<Hold> Holds { get; init; } = [];
    public ImmutableList<ResolvedHold> ResolvedHolds { get; init; } = [];
    public long NextLotId { get; init; } = 1;
    public string? Phone { get; init; }
    public string? Email { get; init; }
    /// <summary>Where a replaced or merged card's balance went.</summary>
    public string? MovedTo { get; init; }
    /// <summary>Cards whose balance and history moved into this one (replace, merge).</summary>
    public ImmutableList<string> Predecessors { get; init; } = [];
    public DateTimeOffset IssuedAt { get; init; }

    public long AvailableKopecks => BalanceKopecks - HeldKopecks - PendingKopecks;

    public static CardState Issued(string number, string programId, string? phone, string? email, DateTimeOffset now) => new()
    {
        Number = number, ProgramId = programId, Phone = phone, Email = email, IssuedAt = now,
    };
}

/// <summary>What the POS and the admin see of a card.</summary>
[Orleans.Immutable]
public sealed record CardView(
    string Number, CardStatus Status, long BalanceKopecks, long AvailableKopecks, long HeldKopecks, long PendingKopecks,
    string ProgramId, long Version, string? Phone, string? Email, string? MovedTo)
{
    public static CardView Of(CardState s) => new(
        s.Number, s.Status, s.BalanceKopecks, s.AvailableKopecks, s.HeldKopecks, s.PendingKopecks,
        s.ProgramId, s.Version, s.Phone, s.Email, s.MovedTo);
}
