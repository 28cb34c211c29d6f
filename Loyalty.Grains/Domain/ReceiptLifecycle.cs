namespace Loyalty.Grains.Domain;

/// <summary>Where a receipt is in its life. See <see cref="ReceiptLifecycle"/>.</summary>
public enum ReceiptStage
{
    /// <summary>Nothing is held or committed for it: it may take a hold, be committed, or be applied from a shift report.</summary>
    Open,
    /// <summary>A card holds bonuses for it: it may be committed with that hold, or the hold cancelled (or left to time out).</summary>
    Held,
    /// <summary>Committed online or applied from a shift report: it may only be returned.</summary>
    Committed,
    /// <summary>Committed, and some of its lines returned since.</summary>
    PartlyReturned,
    /// <summary>Committed, and every line returned: nothing more can happen to it.</summary>
    FullyReturned,
}

/// <summary>
/// A receipt's life, in one place. A receipt is known by its key (store, register, shift, receipt
/// number), the key registers print and shift reports carry:
/// <code>
///   Open ──Redeem──▶ Held ──Commit(hold)──▶ Committed ──Refund──▶ PartlyReturned ──Refund──▶ FullyReturned
///    ▲                 │                        ▲
///    └─Cancel/timeout──┘                        │
///   Open ──Commit (no hold) / ApplyOffline──────┘      Held ──ApplyOffline (the hold is voided)──▶ Committed
/// </code>
/// Every command that touches a receipt asks here first. A refusal is
/// <see cref="CardErrorCode.AlreadyResolved"/> (FAILED_PRECONDITION) and says the stage and what the
/// caller needs to recover: the open hold's id (to commit or cancel it), or the operation that
/// committed the receipt (to repeat it and get its answer, or to refund the receipt).
///
/// The stage is read from two sources: the card's active holds (held), and the committed receipt's
/// record (committed, returned), which the caller loads by the receipt key. The record is global, so
/// a receipt committed with one card takes no hold on another card either.
/// </summary>
public static class ReceiptLifecycle
{
    /// <summary>The stage of <paramref name="receipt"/> for <paramref name="card"/>, given its committed record if there is one.</summary>
    public static ReceiptStage StageOf(CardState card, ReceiptRef receipt, ReceiptRecord? committed) =>
        committed is not null ? StageOf(committed)
        : OpenHold(card, receipt) is not null ? ReceiptStage.Held
        : ReceiptStage.Open;

    /// <summary>The stage of a committed receipt: committed, partly or fully returned.</summary>
    public static ReceiptStage StageOf(ReceiptRecord committed) =>
        committed.FullyReturned ? ReceiptStage.FullyReturned
        : committed.AnyReturned ? ReceiptStage.PartlyReturned
        : ReceiptStage.Committed;

    /// <summary>The card's active hold for the receipt, if any (at most one: a second is refused).</summary>
    public static Hold? OpenHold(CardState card, ReceiptRef receipt) =>
        card.Holds.FirstOrDefault(h => h.Receipt.Ref == receipt);

    /// <summary>Redeem: only an open receipt takes a hold.</summary>
    public static void RequireOpenForHold(CardState card, ReceiptRef receipt, ReceiptRecord? committed)
    {
        if (committed is not null)
            throw Refused(receipt, committed, "a committed receipt takes no new hold; refund it, or start a new receipt");
        if (OpenHold(card, receipt) is { } hold)
            throw HeldRefusal(receipt, hold, card.Number);
    }

    /// <summary>
    /// Commit: with a hold, the receipt must be held by it (the hold itself is checked by the card);
    /// without one, the receipt must be open, neither held nor committed.
    /// </summary>
    public static void RequireCommittable(CardState card, ReceiptRef receipt, string? holdId, ReceiptRecord? committed)
    {
        if (committed is not null)
            throw Refused(receipt, committed, "repeat that operation id to get its answer, or refund the receipt");
        if (string.IsNullOrEmpty(holdId) && OpenHold(card, receipt) is { } hold)
            throw HeldRefusal(receipt, hold, card.Number);
    }

    /// <summary>
    /// ApplyOffline (a receipt the register closed while offline, from its shift report): an open
    /// receipt is committed; a held one too, and the online hold it no longer needs is voided (the
    /// register's close is what happened); a committed one is refused, since the server saw it
    /// online: the shift's reconciliation matches it instead. Returns the hold to void, if any.
    /// </summary>
    public static Hold? RequireApplicableOffline(CardState card, ReceiptRef receipt, ReceiptRecord? committed)
    {
        if (committed is not null)
            throw Refused(receipt, committed, "the shift's reconciliation matches it with the report instead of applying it again");
        return OpenHold(card, receipt);
    }

    /// <summary>Refund: only a committed receipt that still has something left to return.</summary>
    public static ReceiptRecord RequireRefundable(string cardNumber, IReadOnlyCollection<string> predecessors, ReceiptRef receipt, ReceiptRecord? committed)
    {
        if (committed is null || (committed.CardNumber != cardNumber && !predecessors.Contains(committed.CardNumber)))
            throw new CardException(CardErrorCode.NotFound, $"Receipt {receipt} was not committed with card {cardNumber}.");
        if (StageOf(committed) == ReceiptStage.FullyReturned)
            throw new CardException(CardErrorCode.AlreadyResolved,
                $"Receipt {receipt}, committed at {committed.CommittedAt:u} by operation {committed.OperationId}, was already refunded in full; nothing is left to refund.")
            {
                Details = Describe(ReceiptStage.FullyReturned, CardException.OperationIdDetail, committed.OperationId),
            };
        return committed;
    }

    /// <summary>
    /// The refusal of any command on a receipt found committed only when its write reached the
    /// database (the receipts table's key): committed with another card, or by another server in the
    /// same instant.
    /// </summary>
    public static CardException AlreadyCommitted(ReceiptRecord committed) =>
        Refused(committed.Ref, committed, "repeat that operation id to get its answer, or refund the receipt");

    private static CardException HeldRefusal(ReceiptRef receipt, Hold hold, string cardNumber) =>
        new(CardErrorCode.AlreadyResolved,
            $"Receipt {receipt} is held: hold {hold.Id} of {hold.AmountKopecks} kopecks on card {cardNumber}, made by operation {hold.OperationId}, open until {hold.ExpiresAt:u}; commit it with that hold id, or cancel the hold first.")
        {
            Details = Describe(ReceiptStage.Held, CardException.HoldIdDetail, hold.Id),
        };

    /// <summary>The stage as the API names it (snake case, as proto enums and gRPC metadata are), and the one id that recovers.</summary>
    private static Dictionary<string, string> Describe(ReceiptStage stage, string idName, string id) => new()
    {
        [CardException.ReceiptStageDetail] = stage switch
        {
            ReceiptStage.Open => "open",
            ReceiptStage.Held => "held",
            ReceiptStage.Committed => "committed",
            ReceiptStage.PartlyReturned => "partly_returned",
            _ => "fully_returned",
        },
        [idName] = id,
    };

    private static CardException Refused(ReceiptRef receipt, ReceiptRecord committed, string whatToDo)
    {
        var stage = StageOf(committed) switch
        {
            ReceiptStage.FullyReturned => " and refunded in full since",
            ReceiptStage.PartlyReturned => " and partly refunded since",
            _ => "",
        };
        var how = committed.Offline ? "applied from a shift report" : "committed";
        return new CardException(CardErrorCode.AlreadyResolved,
            $"Receipt {receipt} was already {how} at {committed.CommittedAt:u} by operation {committed.OperationId} with card {committed.CardNumber}{stage}; {whatToDo}.")
        {
            Details = Describe(StageOf(committed), CardException.OperationIdDetail, committed.OperationId),
        };
    }
}
