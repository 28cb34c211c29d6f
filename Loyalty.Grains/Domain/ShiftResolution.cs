using System.Security.Cryptography;
using System.Text;

namespace Loyalty.Grains.Domain;

/// <summary>What an accountant decides for a receipt reconciliation left waiting (online only, mismatch).</summary>
public enum ResolutionKind
{
    /// <summary>The register's report is right: the difference between its figures and the online ones is applied to the card(s).</summary>
    AcceptReport,
    /// <summary>The online figures are right: nothing moves; the receipt is marked resolved.</summary>
    KeepOnline,
    /// <summary>A signed amount on the receipt's card with the accountant's reason.</summary>
    Adjustment,
}

/// <summary>One balance movement a resolution writes: on a card, signed kopecks, under an operation id of its own.</summary>
public sealed record ResolutionMovement(string CardNumber, long AmountKopecks, string OperationId, string Reason);

/// <summary>
/// A receipt's bonus effect on a card, on one side (online or report): what it accrued less what it
/// redeemed, in kopecks.
/// </summary>
public sealed record ReceiptEffect(string CardNumber, long RedeemedKopecks, long AccruedKopecks)
{
    public long NetKopecks => AccruedKopecks - RedeemedKopecks;
}

/// <summary>
/// The rules of resolving a reconciled receipt, next to <see cref="ShiftReconciliation"/>: which
/// receipts may be resolved, the operation id of a resolution (from shift, receipt and resolution, so
/// a form posted twice applies once), and the movements each resolution writes. Accepting the report
/// applies, per card, the report's effect less the online effect (a receipt the report cancelled or
/// lacks has no report effect: its online redemption is given back and its accrual taken back; a
/// receipt on another card moves to it). Movements are adjustments with the accountant's name, so the
/// ledger's kinds and the liability statement's lines stay as they are.
/// </summary>
public static class ShiftResolution
{
    /// <summary>Longest reason an accountant may give (the ledger row's reason also names the receipt).</summary>
    public const int MaxReasonLength = 160;

    /// <summary>
    /// The outcomes an accountant resolves; the others need no decision. Online-only and mismatched
    /// receipts take any resolution; a return that matched no sale and a receipt the card refused
    /// take an adjustment or are kept as they are (there are no online figures to replace).
    /// </summary>
    public static bool NeedsResolution(ReceiptOutcome outcome) =>
        outcome is ReceiptOutcome.OnlineOnly or ReceiptOutcome.Mismatch or ReceiptOutcome.ReturnUnmatched or ReceiptOutcome.NotApplied;

    public static ResolutionKind? Parse(string? text) => text?.Trim().ToLowerInvariant().Replace("_", "-") switch
    {
        "accept-report" or "acceptreport" or "report" => ResolutionKind.AcceptReport,
        "keep-online" or "keeponline" or "online" => ResolutionKind.KeepOnline,
        "adjustment" or "adjust" => ResolutionKind.Adjustment,
        _ => null,
    };

    public static string Name(ResolutionKind kind) => kind switch
    {
        ResolutionKind.AcceptReport => "accept-report",
        ResolutionKind.KeepOnline => "keep-online",
        _ => "adjustment",
    };

    /// <summary>
    /// The resolution's operation id: a hash of (receipt, resolution), and for an adjustment its
    /// amount and reason too, so the same form posted again names the same operation and the card
    /// answers it once. Not reserved (<c>sys:</c>): the movements are adjustments made by a person.
    /// </summary>
    public static string OperationIdFor(ReceiptRef receipt, ResolutionKind kind, long amountKopecks, string reason)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{receipt}\n{Name(kind)}\n{amountKopecks}\n{reason}"));
        return $"resolve:{Convert.ToHexStringLower(hash, 0, 16)}";
    }

    /// <summary>
    /// Checks a resolution request against the receipt's reconciliation: only online-only and mismatch
    /// receipts are resolved; an adjustment needs a non-zero amount and a reason. Throws
    /// <see cref="CardException"/> (invalid argument, or already resolved for a receipt that needs none).
    /// </summary>
    public static void Validate(ReceiptRef receipt, ReceiptOutcome outcome, ResolutionKind kind, long amountKopecks, string? reason)
    {
        if (!NeedsResolution(outcome))
            throw new CardException(CardErrorCode.AlreadyResolved,
                $"Receipt {receipt} was reconciled as {outcome}; only online-only, mismatched, unmatched-return and not-applied receipts wait for an accountant.");
        if (kind == ResolutionKind.AcceptReport && outcome is not (ReceiptOutcome.OnlineOnly or ReceiptOutcome.Mismatch))
            throw new CardException(CardErrorCode.AlreadyResolved,
                $"Receipt {receipt} was reconciled as {outcome}: there are no online figures for the report's to replace; resolve it with an adjustment or keep it as it is.");
        if (reason is { Length: > MaxReasonLength })
            throw Domain.Validate.Invalid($"The reason is {reason.Length} characters long; at most {MaxReasonLength} are allowed.");
        if (kind == ResolutionKind.Adjustment)
        {
            if (amountKopecks == 0) throw Domain.Validate.Invalid("An adjustment needs a non-zero amount.");
            Domain.Validate.SignedAmount(amountKopecks, "adjustment");
            Domain.Validate.Text(reason, "reason of the adjustment", required: true);
        }
        else
        {
            if (amountKopecks != 0) throw Domain.Validate.Invalid($"Only an adjustment takes an amount; {Name(kind)} was given {amountKopecks} kopecks.");
            Domain.Validate.Text(reason, "reason", required: false);
        }
    }

    /// <summary>
    /// The movements of a resolution: none to keep the online figures; one on the card for an
    /// adjustment; for accepting the report, per card, report effect − online effect (non-zero ones only).
    /// </summary>
    public static IReadOnlyList<ResolutionMovement> Movements(ReceiptRef receipt, ResolutionKind kind, long amountKopecks, string? reason,
        ReceiptEffect? online, ReceiptEffect? report)
    {
        var operationId = OperationIdFor(receipt, kind, amountKopecks, reason ?? "");
        switch (kind)
        {
            case ResolutionKind.KeepOnline:
                return [];
            case ResolutionKind.Adjustment:
                var card = online?.CardNumber ?? report?.CardNumber
                    ?? throw Domain.Validate.Invalid($"Receipt {receipt} has no card on either side; there is nothing to adjust.");
                return [new ResolutionMovement(card, amountKopecks, operationId, $"receipt {receipt}: {reason}")];
            default:
                var net = new SortedDictionary<string, long>(StringComparer.Ordinal);
                if (report is not null) net[report.CardNumber] = net.GetValueOrDefault(report.CardNumber) + report.NetKopecks;
                if (online is not null) net[online.CardNumber] = net.GetValueOrDefault(online.CardNumber) - online.NetKopecks;
                return [.. net.Where(n => n.Value != 0).Select((n, i) => new ResolutionMovement(n.Key, n.Value, i == 0 ? operationId : $"{operationId}:{i}",
                    $"receipt {receipt}: the register's report accepted"))];
        }
    }
}
