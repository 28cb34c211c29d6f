using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Loyalty.Protos.V1;

namespace Loyalty.PosAdapter.Cli;

/// <summary>The human form of each reply: amounts in roubles, enums as words, times in UTC.</summary>
public static class ReplyWriter
{
    public static void WriteCard(Output output, Card card) => output.KeyValues(CardRows(card));

    public static List<(string Key, string Value)> CardRows(Card card)
    {
        var rows = new List<(string, string)>
        {
            ("card", card.CardNumber),
            ("status", Output.Words(card.Status)),
            ("balance", Money.Format(card.Balance)),
            ("available", Money.Format(card.Available)),
            ("held", Money.Format(card.Held)),
            ("pending", Money.Format(card.Pending)),
            ("programme", card.ProgramId.Length > 0 ? card.ProgramId : "(default)"),
            ("version", Output.Number(card.Version)),
        };
        if (card.Phone.Length > 0) rows.Add(("phone", card.Phone));
        if (card.Email.Length > 0) rows.Add(("email", card.Email));
        if (card.MovedTo.Length > 0) rows.Add(("moved to", card.MovedTo));
        return rows;
    }

    public static void WriteApiKeys(Output output, ListApiKeysReply reply)
    {
        if (reply.Keys.Count == 0)
        {
            output.Line("No API keys.");
            return;
        }
        output.Table(
            ["key id", "role", "store", "office register", "name", "created (UTC)", "revoked (UTC)"],
            reply.Keys.Select(key => (IReadOnlyList<string>)
            [
                key.KeyId,
                key.Role,
                key.StoreId,
                key.OfficeRegisterId,
                key.Name,
                FormatTime(key.CreatedAt),
                key.RevokedAt is null ? "" : FormatTime(key.RevokedAt),
            ]));
    }

    public static void WriteStatement(Output output, GetStatementReply reply)
    {
        if (reply.Entries.Count == 0)
        {
            output.Line("No ledger rows.");
        }
        else
        {
            output.Table(
                ["at (UTC)", "kind", "amount", "held", "pending", "balance", "available", "version", "receipt", "reason", "actor", "operation id"],
                reply.Entries.Select(entry => (IReadOnlyList<string>)
                [
                    FormatTime(entry.At),
                    Output.Words(entry.Kind) + (entry.Offline ? " (offline)" : ""),
                    Money.Format(entry.Amount),
                    Money.Format(entry.HeldDelta),
                    Money.Format(entry.PendingDelta),
                    Money.Format(entry.BalanceAfter),
                    Money.Format(entry.AvailableAfter),
                    Output.Number(entry.VersionAfter),
                    FormatReceipt(entry.Receipt),
                    entry.Reason,
                    entry.Actor,
                    entry.OperationId,
                ]),
                "amount", "held", "pending", "balance", "available", "version");
        }
        if (reply.NextPageToken.Length > 0)
        {
            output.Line("");
            output.Line($"Older rows: --page-token {reply.NextPageToken}");
        }
    }

    public static void WriteQuote(Output output, QuoteReply reply)
    {
        var rows = new List<(string, string)>
        {
            ("max redeem", Money.Format(reply.MaxRedeem)),
            ("redeem", Money.Format(reply.Redeem)),
            ("accrual", Money.Format(reply.Accrual)),
        };
        output.KeyValues(rows);
        if (reply.Lines.Count == 0) return;
        output.Line("");
        output.Table(
            ["sku", "discount", "amount after"],
            reply.Lines.Select(line => (IReadOnlyList<string>)[line.Sku, Money.Format(line.Discount), Money.Format(line.AmountAfter)]),
            "discount", "amount after");
    }

    public static void WriteProgram(Output output, Program program)
    {
        output.KeyValues(
            ("programme", program.ProgramId.Length > 0 ? program.ProgramId : "(default)"),
            ("accrual", Output.BasisPoints(program.AccrualBp)),
            ("max redeem percent", $"{program.MaxRedeemPercent} %"),
            ("min line amount", Money.Format(program.MinLineAmount)),
            ("hold timeout seconds", Output.Number(program.HoldTimeoutSeconds)),
            ("accrual delay days", Output.Number(program.AccrualDelayDays)),
            ("expiry days", Output.Number(program.ExpiryDays)),
            ("excluded categories", program.ExcludedCategories.Count > 0 ? string.Join(", ", program.ExcludedCategories) : "(none)"));
        if (program.CategoryRates.Count == 0) return;
        output.Line("");
        output.Table(
            ["category", "accrual"],
            program.CategoryRates.OrderBy(rate => rate.Key, StringComparer.Ordinal)
                .Select(rate => (IReadOnlyList<string>)[rate.Key, Output.BasisPoints(rate.Value)]));
    }

    private static string FormatTime(Timestamp? timestamp) =>
        timestamp is null ? "" : timestamp.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string FormatReceipt(ReceiptRef? receipt) =>
        receipt is null || (receipt.StoreId.Length == 0 && receipt.ReceiptNumber == 0)
            ? ""
            : string.Create(CultureInfo.InvariantCulture, $"{receipt.StoreId}/{receipt.RegisterId}/{receipt.ShiftNumber}/{receipt.ReceiptNumber}");
}
