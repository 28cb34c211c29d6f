using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;

namespace Loyalty.Grains.Runtime;

/// <summary>
/// One bonus card, an Orleans grain keyed by its number (<c>GetGrain&lt;ICardGrain&gt;(number)</c>). One
/// activation in the whole cluster takes its calls one at a time, in arrival order (the grain is not
/// reentrant); a call that changes the balance returns only once its effect is durable. Every write
/// carries a client-made operation id: the same id with the same request returns the first answer
/// (even after a restart or on another server), the same id with a different request is refused.
/// Refusals are <see cref="CardException"/>s whose <see cref="CardException.Code"/> survives a call
/// that crosses servers.
/// The cancellation token only bounds the wait for the card's turn (a queued call cancelled before it
/// starts never runs): once a write has started its outcome is always seen through, so a caller that
/// gives up never leaves it half-done.
/// </summary>
public interface ICardGrain : IGrainWithStringKey
{
    /// <summary>The card's balance figures now (expired holds and burnt lots already excluded).</summary>
    Task<CardView> GetAsync(CancellationToken cancellationToken = default);

    /// <summary>The most the receipt may be paid with bonuses, the spread of <paramref name="requestedKopecks"/> (capped) and the accrual it would earn.</summary>
    Task<QuoteResult> QuoteAsync(Receipt receipt, long requestedKopecks, CancellationToken cancellationToken = default);

    /// <summary>An open hold of this card: its receipt and per-line discounts (the office print queue checks a sale against it). AlreadyResolved or NotFound otherwise.</summary>
    Task<OpenHoldView> GetOpenHoldAsync(string holdId, CancellationToken cancellationToken = default);

    /// <summary>Gives an open hold to the print job that prints its receipt (only that job then commits or cancels it); idempotent by <paramref name="operationId"/>.</summary>
    Task<bool> BindHoldToPrintJobAsync(string operationId, string holdId, string printJobId, CancellationToken cancellationToken = default);

    /// <summary>Holds bonuses for a receipt until commit, cancel or the programme's hold timeout.</summary>
    Task<HoldResult> RedeemAsync(string operationId, Receipt receipt, long amountKopecks, CancellationToken cancellationToken = default);

    /// <summary>Commits a receipt: posts its hold (none: accrual only) and accrues on the part paid with money.</summary>
    Task<CommitResult> CommitAsync(string operationId, Receipt receipt, string? holdId, CancellationToken cancellationToken = default);

    /// <summary>Voids a hold of this card; with <paramref name="storeId"/>, only a hold for a receipt of that store.</summary>
    Task<CancelResult> CancelAsync(string operationId, string holdId, string? storeId = null, CancellationToken cancellationToken = default);

    /// <summary>Refunds returned lines of an earlier receipt of this card.</summary>
    Task<RefundResult> RefundAsync(string operationId, ReceiptRef original, ReturnedLine[] lines, CancellationToken cancellationToken = default);

    /// <summary>A manual correction: signed amount, mandatory reason, who did it.</summary>
    Task<CardView> AdjustAsync(string operationId, long amountKopecks, string reason, string actor, CancellationToken cancellationToken = default);

    /// <summary>Issues this card number in a programme. Issuing it again with the same details answers the same; with others, it is refused.</summary>
    Task<CardView> IssueAsync(string programId, string? phone, string? email, CancellationToken cancellationToken = default);

    /// <summary>Blocks (reason required) or unblocks the card.</summary>
    Task<CardView> SetStatusAsync(string operationId, CardStatus status, string reason, CancellationToken cancellationToken = default);

    /// <summary>Applies a receipt the register closed offline; never refused for lack of bonuses (the shortfall is flagged debt).</summary>
    Task<CommitResult> ApplyOfflineAsync(string operationId, Receipt receipt, long[] lineDiscounts, CancellationToken cancellationToken = default);

    /// <summary>The card's ledger rows (and those of cards it replaced or absorbed), newest first.</summary>
    Task<StatementPage> GetStatementAsync(int pageSize, string? pageToken, CancellationToken cancellationToken = default);

    // The server's own operations, under ids in the reserved "sys:" space that no client can send.

    /// <summary>Applies a receipt of a shift report under the id reconciliation derived from its key.</summary>
    Task<CommitResult> ApplyFromShiftAsync(string operationId, Receipt receipt, long[] lineDiscounts, CancellationToken cancellationToken = default);

    /// <summary>A return of a shift report, like an online refund, under the id reconciliation derived from its key.</summary>
    Task<RefundResult> RefundFromShiftAsync(string operationId, ReceiptRef original, ReturnedLine[] lines, CancellationToken cancellationToken = default);

    /// <summary>Voids a hold left open by a closed shift, under the id reconciliation derived from it.</summary>
    Task<CancelResult> VoidFromShiftAsync(string operationId, string holdId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes the time-driven changes that are due (holds timed out, accruals released, lots burnt) to
    /// the ledger under an id derived from the card and its version, so a repeated sweep writes once.
    /// Returns true when something was written. Called by the sweeper for cards nobody touches.
    /// </summary>
    Task<bool> SettleAsync(CancellationToken cancellationToken = default);

    /// <summary>Drops what the activation holds in memory; the next call reads the card from the database (after a transfer written outside the grain).</summary>
    Task ReloadAsync();
}
