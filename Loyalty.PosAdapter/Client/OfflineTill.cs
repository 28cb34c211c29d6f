using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Loyalty.Protos.V1;

namespace Loyalty.PosAdapter.Client;

/// <summary>One line of a till's sale: SKU, category, name, quantity in thousandths, unit price and amount in kopecks.</summary>
public sealed record TillLine(string Sku, string Category, string Name, long QuantityMilli, long PriceKopecks, long AmountKopecks);

/// <summary>How a sale went: online (the server decided) or offline (decided from the last export), and the bonuses per line.</summary>
public sealed record TillSale(long ReceiptNumber, bool Offline, long RedeemedKopecks, IReadOnlyList<long> LineDiscounts, string Message);

/// <summary>
/// A till for custom registers and the drivers' app that keeps selling when the server is down
/// (issue 11, the Dinect flow): online it holds and commits through the server; when the server
/// cannot be reached it decides from the last catalog export (a card's offline spendable amount,
/// less what this till already let it spend offline in the shift), and every receipt of the shift,
/// online or not, is journalled (fsync) so that closing the shift uploads it as the shift's report:
/// online receipts match, offline ones are applied once, and an online attempt whose outcome was
/// unknown is sorted out by the reconciliation (a stray hold is voided, a landed commit matches).
/// One instance per register and shift; not for concurrent use.
/// </summary>
public sealed class OfflineTill
{
    /// <summary>Receipts one shift's journal holds; a shift of a busy till has a few thousand.</summary>
    public const int MaxReceiptsPerShift = 100_000;

    private readonly LoyaltyClient _client;
    private readonly string _store, _register, _journalPath, _catalogPath;
    private readonly long _shift;
    private readonly Dictionary<string, long> _spendable = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _spentOffline = new(StringComparer.Ordinal);
    private readonly List<ReportedReceipt> _receipts = [];

    /// <param name="dataDirectory">Where the shift's journal lives (<c>shift-STORE-REGISTER-N.jsonl</c>); reopened after a restart.</param>
    public OfflineTill(LoyaltyClient client, string store, string register, long shift, string dataDirectory)
    {
        (_client, _store, _register, _shift) = (client, store, register, shift);
        Directory.CreateDirectory(dataDirectory);
        _journalPath = Path.Combine(dataDirectory, $"shift-{store}-{register}-{shift}.jsonl");
        _catalogPath = Path.Combine(dataDirectory, $"catalog-{store}.json");
        if (File.Exists(_catalogPath))
            foreach (var (number, amount) in JsonSerializer.Deserialize<Dictionary<string, long>>(File.ReadAllText(_catalogPath)) ?? [])
                _spendable[number] = amount;
        if (File.Exists(_journalPath))
            foreach (var line in File.ReadLines(_journalPath).Where(l => l.Length > 0))
            {
                using var entry = JsonDocument.Parse(line);
                Remember(ReportedReceipt.Parser.ParseJson(entry.RootElement.GetProperty("receipt").GetRawText()), entry.RootElement.GetProperty("offline").GetBoolean());
            }
    }

    /// <summary>Receipts journalled in this shift so far.</summary>
    public int ReceiptCount => _receipts.Count;

    /// <summary>Takes the store's cards from the server: what each may spend offline. Keep the last one when the server is down.</summary>
    public async Task RefreshCatalogAsync(CancellationToken cancellationToken = default)
    {
        var fresh = new Dictionary<string, long>(StringComparer.Ordinal);
        await foreach (var card in Adapter.StoreExchange.CatalogCardsAsync(_client, _store, cancellationToken: cancellationToken))
            fresh[card.CardNumber] = card.OfflineSpendableKopecks;
        _spendable.Clear();
        foreach (var (number, amount) in fresh) _spendable[number] = amount;
        // Kept on disk, so a till restarted while the server is down still decides from it.
        var temp = _catalogPath + ".tmp";
        await File.WriteAllTextAsync(temp, JsonSerializer.Serialize(fresh), cancellationToken);
        File.Move(temp, _catalogPath, overwrite: true);
    }

    /// <summary>
    /// Sells receipt <paramref name="receiptNumber"/> with up to <paramref name="bonusKopecks"/> of
    /// bonuses: online when the server answers, else offline from the last export. Refusals by the
    /// server (not enough bonuses, a blocked card) are thrown as <see cref="RpcException"/> and nothing is journalled.
    /// </summary>
    public async Task<TillSale> SellAsync(long receiptNumber, string? cardNumber, IReadOnlyList<TillLine> lines, long bonusKopecks, CancellationToken cancellationToken = default)
    {
        if (_receipts.Count >= MaxReceiptsPerShift) throw new InvalidOperationException($"The shift already has {MaxReceiptsPerShift} receipts; close it.");
        var receipt = new Receipt { Ref = new ReceiptRef { StoreId = _store, RegisterId = _register, ShiftNumber = _shift, ReceiptNumber = receiptNumber } };
        foreach (var l in lines)
            receipt.Lines.Add(new ReceiptLine { Sku = l.Sku, Category = l.Category, Name = l.Name, QuantityMilli = l.QuantityMilli, Price = l.PriceKopecks, Amount = l.AmountKopecks });
        IReadOnlyList<long> discounts = new long[lines.Count];
        var offline = false;
        string message;
        if (cardNumber is null)
        {
            message = "No card: nothing to hold or accrue.";
        }
        else
        {
            try
            {
                string? holdId = null;
                if (bonusKopecks > 0)
                {
                    var hold = await RetryPolicy.Default.ExecuteAsync(new RedeemRequest
                    {
                        OperationId = OperationId.Derive("till-hold", receipt.Ref.ToString()), CardNumber = cardNumber, Receipt = receipt, Amount = bonusKopecks,
                    }, (r, t) => _client.RedeemAsync(r, null, t), cancellationToken);
                    (holdId, discounts) = (hold.HoldId, hold.Lines.Select(d => d.Discount).ToArray());
                }
                await RetryPolicy.Default.ExecuteAsync(new CommitRequest
                {
                    OperationId = OperationId.Derive("till-commit", receipt.Ref.ToString()), CardNumber = cardNumber, Receipt = receipt, HoldId = holdId ?? "",
                }, (r, t) => _client.CommitAsync(r, null, t), cancellationToken);
                message = "Committed online.";
            }
            catch (RpcException unreachable) when (unreachable.IsRetryable)
            {
                offline = true;
                var left = Math.Max(0, _spendable.GetValueOrDefault(cardNumber) - _spentOffline.GetValueOrDefault(cardNumber));
                discounts = BonusSpread.Proportional([.. lines.Select(l => l.AmountKopecks)], Math.Min(bonusKopecks, left));
                message = $"The server is unreachable ({unreachable.StatusCode.ToWireName()}); decided offline from the last export: {discounts.Sum()} of {bonusKopecks} kopecks of bonuses.";
            }
        }
        var reported = new ReportedReceipt { ReceiptNumber = receiptNumber, Kind = ReportedReceiptKind.Sale, CardNumber = cardNumber ?? "" };
        for (var i = 0; i < lines.Count; i++)
            reported.Lines.Add(new ReportedLine { Sku = lines[i].Sku, Category = lines[i].Category, Name = lines[i].Name, QuantityMilli = lines[i].QuantityMilli, Price = lines[i].PriceKopecks, Amount = lines[i].AmountKopecks, BonusDiscount = discounts[i] });
        await JournalAsync(reported, offline, cancellationToken);
        Remember(reported, offline);
        return new TillSale(receiptNumber, offline, discounts.Sum(), discounts, message);
    }

    /// <summary>
    /// Closes the shift: uploads every journalled receipt as the shift's report (Z present; digest =
    /// SHA-256 of the journal) and returns its reconciliation. Throws a retryable <see cref="RpcException"/>
    /// while the server is down: call again later; the upload is answered the same however often it is made.
    /// </summary>
    public async Task<ShiftReconciliation> CloseShiftAsync(CancellationToken cancellationToken = default)
    {
        var report = new ShiftReport
        {
            StoreId = _store, RegisterId = _register, ShiftNumber = _shift, ZReportPresent = true, SourceFormat = "client",
            ClosedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
            Digest = File.Exists(_journalPath) ? Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(_journalPath, cancellationToken))) : "empty",
        };
        report.Receipts.AddRange(_receipts);
        return await RetryPolicy.Default.ExecuteAsync(report, (r, t) => _client.UploadShiftReportAsync(r, null, t), cancellationToken);
    }

    private void Remember(ReportedReceipt receipt, bool offline = false)
    {
        _receipts.Add(receipt);
        if (offline && receipt.CardNumber.Length > 0)
            _spentOffline[receipt.CardNumber] = _spentOffline.GetValueOrDefault(receipt.CardNumber) + receipt.Lines.Sum(l => l.BonusDiscount);
    }

    /// <summary>Appends the receipt to the shift's journal and makes it durable before the sale is answered.</summary>
    private async Task JournalAsync(ReportedReceipt receipt, bool offline, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(_journalPath, FileMode.Append, FileAccess.Write, FileShare.Read, 4096, FileOptions.WriteThrough);
        var line = $"{{\"offline\":{(offline ? "true" : "false")},\"receipt\":{Google.Protobuf.JsonFormatter.Default.Format(receipt)}}}\n";
        var bytes = Encoding.UTF8.GetBytes(line);
        await stream.WriteAsync(bytes, cancellationToken);
        stream.Flush(flushToDisk: true);
    }
}
