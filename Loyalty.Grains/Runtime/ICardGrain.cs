using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;

namespace Loyalty.Grains.Runtime;

/// <summary>
/// One bonus card, addressed by its number. Calls to one card run one at a time, in arrival order;
/// a call that changes the balance returns only once its effect is durable. Every write carries a
/// client-made operation id: the same id with the same request returns the first answer (even after
/// a restart), the same id with a different request is refused.
/// The cancellation token only bounds the wait for the card's turn: once a write has started its
/// outcome is always seen through, so a caller that gives up never leaves it half-done.
/// </summary>
public interface ICardGrain
{
    string Number { get; }

    /// <summary>The card's balance figures now (expired holds and burnt lots already excluded).</summary>
    Task<CardView> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>The most the receipt may be paid with bonuses, the spread of <paramref name="requestedKopecks"/> (capped) and the accrual it would earn.</summary>
    Task<QuoteResult> QuoteAsync(Receipt receipt, long requestedKopecks, CancellationToken cancellationToken = default);

    /// <summary>Holds bonuses for a receipt until commit, cancel or the programme's hold timeout.</summary>
    Task<HoldResult> RedeemAsync(string operationId, Receipt receipt, long amountKopecks, CancellationToken cancellationToken = default);

    /// <summary>Commits a receipt: posts its hold (none: accrual only) and accrues on the part paid with money.</summary>
    Task<CommitResult> CommitAsync(string operationId, Receipt receipt, string? holdId, CancellationToken cancellationToken = default);

    /// <summary>Voids a hold of this card; with <paramref name="storeId"/>, only a hold for a receipt of that store.</summary>
    Task<CancelResult> CancelAsync(string operationId, string holdId, CancellationToken cancellationToken = default, string? storeId = null);

    /// <summary>Refunds returned lines of an earlier receipt of this card.</summary>
    Task<RefundResult> RefundAsync(string operationId, ReceiptRef original, IReadOnlyList<ReturnedLine> lines, CancellationToken cancellationToken = default);

    /// <summary>A manual correction: signed amount, mandatory reason, who did it.</summary>
    Task<CardView> AdjustAsync(string operationId, long amountKopecks, string reason, string actor, CancellationToken cancellationToken = default);

    /// <summary>Issues this card number in a programme. Issuing it again with the same details answers the same; with others, it is refused.</summary>
    Task<CardView> IssueAsync(string programId, string? phone, string? email, CancellationToken cancellationToken = default);

    /// <summary>Blocks (reason required) or unblocks the card.</summary>
    Task<CardView> SetStatusAsync(string operationId, CardStatus status, string reason, CancellationToken cancellationToken = default);

    /// <summary>Applies a receipt the register closed offline; never refused for lack of bonuses (the shortfall is flagged debt).</summary>
    Task<CommitResult> ApplyOfflineAsync(string operationId, Receipt receipt, IReadOnlyList<long> lineDiscounts, CancellationToken cancellationToken = default);

    /// <summary>The card's ledger rows (and those of cards it replaced or absorbed), newest first.</summary>
    Task<StatementPage> GetStatementAsync(int pageSize, string? pageToken, CancellationToken cancellationToken = default);
}
