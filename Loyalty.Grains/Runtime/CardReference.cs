using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;

namespace Loyalty.Grains.Runtime;

/// <summary>
/// The card grain as callers see it: each method takes the card's turn, loads its state if needed,
/// and applies one command of <see cref="Domain.Card"/>. No balance rule lives here.
/// </summary>
internal sealed class CardReference(GrainRuntime runtime, string number) : ICardGrain
{
    public string Number => number;

    public Task<CardView> GetAsync(CancellationToken cancellationToken = default) =>
        Read(cancellationToken, async card => CardView.Of(Card.Settled(card, await runtime.ProgramOf(card), runtime.Now)));

    public Task<QuoteResult> QuoteAsync(Receipt receipt, long requestedKopecks, CancellationToken cancellationToken = default) =>
        Read(cancellationToken, async card => Card.Quote(card, await runtime.ProgramOf(card), receipt, requestedKopecks, await CommittedAsync(card, receipt), runtime.Now));

    public Task<HoldResult> RedeemAsync(string operationId, Receipt receipt, long amountKopecks, CancellationToken cancellationToken = default) =>
        Write(operationId, "redeem", new { number, receipt, amountKopecks }, cancellationToken,
            async card => Card.Redeem(card, await runtime.ProgramOf(card), operationId, receipt, amountKopecks, committed: null, runtime.Now));

    public Task<CommitResult> CommitAsync(string operationId, Receipt receipt, string? holdId, CancellationToken cancellationToken = default) =>
        Write(operationId, "commit", new { number, receipt, holdId = holdId ?? "" }, cancellationToken,
            async card => Card.Commit(card, await runtime.ProgramOf(card), operationId, receipt, holdId, committed: null, runtime.Now));

    public Task<CancelResult> CancelAsync(string operationId, string holdId, CancellationToken cancellationToken = default, string? storeId = null) =>
        Write(operationId, "cancel", new { holdId }, cancellationToken,
            async card => Card.Cancel(card, await runtime.ProgramOf(card), operationId, holdId, runtime.Now, storeId));

    public Task<RefundResult> RefundAsync(string operationId, ReceiptRef original, IReadOnlyList<ReturnedLine> lines, CancellationToken cancellationToken = default) =>
        Write(operationId, "refund", new { number, original, lines }, cancellationToken, async card =>
        {
            Validate.ReceiptRef(original);
            // Receipts of a card change only through this card's writes, which are version-checked,
            // so reading the receipt inside the turn is consistent with the card state.
            var committed = await runtime.Store.LoadReceiptAsync(original);
            return Card.Refund(card, await runtime.ProgramOf(card), operationId, original, committed, lines, runtime.Now);
        });

    public Task<CardView> AdjustAsync(string operationId, long amountKopecks, string reason, string actor, CancellationToken cancellationToken = default) =>
        Write(operationId, "adjust", new { number, amountKopecks, reason, actor }, cancellationToken,
            async card => Card.Adjust(card, await runtime.ProgramOf(card), operationId, amountKopecks, reason, actor, runtime.Now));

    public Task<CardView> SetStatusAsync(string operationId, CardStatus status, string reason, CancellationToken cancellationToken = default) =>
        Write(operationId, "status", new { number, status, reason }, cancellationToken,
            async card => Card.SetStatus(card, await runtime.ProgramOf(card), status, reason, runtime.Now));

    public Task<CommitResult> ApplyOfflineAsync(string operationId, Receipt receipt, IReadOnlyList<long> lineDiscounts, CancellationToken cancellationToken = default) =>
        Write(operationId, "offline-receipt", new { number, receipt, lineDiscounts }, cancellationToken,
            async card => Card.ApplyOffline(card, await runtime.ProgramOf(card), operationId, receipt, lineDiscounts, committed: null, runtime.Now));

    public Task<CardView> IssueAsync(string programId, string? phone, string? email, CancellationToken cancellationToken = default)
    {
        Validate.CardNumber(number);
        Validate.Identifier(programId, "programme id");
        // Issuing is idempotent by card number: the operation id is the number itself.
        var operationId = $"issue-{number}";
        return runtime.InvokeAsync([number], cancellationToken, async cards =>
        {
            try
            {
                return await runtime.WriteAsync(cards, operationId, "issue", new { number, programId, phone = phone ?? "", email = email ?? "" }, async () =>
                {
                    if (cards[0].State is { } existing)
                        throw new CardException(CardErrorCode.CardExists, $"Card {number} exists already ({existing.Status}).");
                    var program = await runtime.Programs.GetAsync(programId);
                    return Card.Issue(number, program, phone, email, runtime.Now);
                });
            }
            catch (CardException e) when (e.Code == CardErrorCode.OperationExistsWithDifferentPayload)
            {
                throw new CardException(CardErrorCode.CardExists, $"Card {number} exists already, issued with other details.");
            }
        });
    }

    public Task<StatementPage> GetStatementAsync(int pageSize, string? pageToken, CancellationToken cancellationToken = default) =>
        Read(cancellationToken, card => runtime.Store.GetStatementAsync([card.Number, .. card.Predecessors], pageSize, pageToken));

    /// <summary>
    /// The receipt's committed record, for Quote's dry run (<see cref="ReceiptLifecycle"/>). Writes do
    /// not read it first: the database refuses them in the same transaction instead (the receipts
    /// table's key for a commit, <see cref="Decision{TReply}.RequiresOpenReceipt"/> for a hold), and
    /// the refusal names the committed receipt; so a sale reads nothing more than before. A receipt
    /// this card holds cannot have been committed, so Quote skips the read for it.
    /// </summary>
    private async Task<ReceiptRecord?> CommittedAsync(CardState card, Receipt receipt)
    {
        Validate.Receipt(receipt); // before the lookup, so bad input is refused without a query
        return ReceiptLifecycle.OpenHold(card, receipt.Ref) is not null ? null : await runtime.Store.LoadReceiptAsync(receipt.Ref);
    }

    private Task<T> Read<T>(CancellationToken cancellationToken, Func<CardState, Task<T>> read)
    {
        Validate.CardNumber(number);
        return runtime.InvokeAsync([number], cancellationToken, cards => read(cards[0].State ?? throw GrainRuntime.NotFound(number)), read: true);
    }

    /// <summary>Applies a receipt of a shift report under the id reconciliation derived from its key (reserved: no client can send it).</summary>
    internal Task<CommitResult> ApplyFromShiftAsync(string operationId, Receipt receipt, IReadOnlyList<long> lineDiscounts, CancellationToken cancellationToken) =>
        Write(operationId, "offline-receipt", new { number, receipt, lineDiscounts }, cancellationToken,
            async card => Card.ApplyOffline(card, await runtime.ProgramOf(card), operationId, receipt, lineDiscounts, committed: null, runtime.Now), system: true);

    /// <summary>A return of a shift report, like an online refund, under the id reconciliation derived from its key.</summary>
    internal Task<RefundResult> RefundFromShiftAsync(string operationId, ReceiptRef original, IReadOnlyList<ReturnedLine> lines, CancellationToken cancellationToken) =>
        Write(operationId, "refund", new { number, original, lines }, cancellationToken, async card =>
            Card.Refund(card, await runtime.ProgramOf(card), operationId, original, await runtime.Store.LoadReceiptAsync(original), lines, runtime.Now), system: true);

    /// <summary>Voids a hold left open by a closed shift, under the id reconciliation derived from it.</summary>
    internal Task<CancelResult> VoidFromShiftAsync(string operationId, string holdId, CancellationToken cancellationToken) =>
        Write(operationId, "cancel", new { holdId }, cancellationToken,
            async card => Card.Cancel(card, await runtime.ProgramOf(card), operationId, holdId, runtime.Now), system: true);

    private Task<T> Write<T>(string operationId, string kind, object payload, CancellationToken cancellationToken, Func<CardState, Task<Decision<T>>> decide, bool system = false)
    {
        Validate.CardNumber(number);
        Validate.OperationId(operationId, system);
        return runtime.InvokeAsync([number], cancellationToken, cards =>
            runtime.WriteAsync(cards, operationId, kind, payload, () => decide(cards[0].State ?? throw GrainRuntime.NotFound(number)), system));
    }
}
