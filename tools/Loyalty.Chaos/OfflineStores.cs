using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Loyalty.PosAdapter;
using Loyalty.PosAdapter.Adapter;
using Loyalty.PosAdapter.Cli;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Formats;
using Loyalty.Protos.V1;
using DomainReceiptRef = Loyalty.Grains.Domain.ReceiptRef;
using ShiftReconciliationRules = Loyalty.Grains.Domain.ShiftReconciliation;

namespace Loyalty.Chaos;

/// <summary>How an offline register sells: the .NET client's <see cref="OfflineTill"/>, or a Frontol or Кассир 5 register exchanging files.</summary>
public enum OfflineRegisterKind { Till, Frontol, Kassir }

/// <summary>
/// One receipt an offline register closed with a card: its key, the bonuses it gave and whether the
/// register decided it offline (from the last export) or the server answered it online.
/// </summary>
public sealed record OfflineSale(long ReceiptNumber, string Card, long TotalKopecks, long BonusKopecks, bool DecidedOffline);

/// <summary>A closed shift of an offline register and everything its uploads were answered.</summary>
public sealed class OfflineShift(OfflineRegisterKind kind, string store, string register, long shift)
{
    public OfflineRegisterKind Kind { get; } = kind;
    public string Store { get; } = store;
    public string Register { get; } = register;
    public long Shift { get; } = shift;
    /// <summary>Receipts with a card the register closed and put in the shift's report.</summary>
    public List<OfflineSale> Sales { get; } = [];
    /// <summary>Every receipt number the register tried (online attempts of a till may have left rows for receipts not in the report).</summary>
    public List<long> ReceiptNumbersTried { get; } = [];
    /// <summary>Receipts in the report, with a card or not.</summary>
    public int ReportedReceipts { get; set; }
    /// <summary>The first answer to an upload of the shift's report; null: never answered (a violation).</summary>
    public ShiftReconciliation? FirstAnswer { get; set; }
    /// <summary>Answers to the report uploaded again after the first answer (must equal it).</summary>
    public List<ShiftReconciliation> LaterAnswers { get; } = [];
    /// <summary>A definite refusal of the upload (a violation: the report is a closed shift of this store).</summary>
    public string? Refusal { get; set; }
    public int UploadAttempts { get; set; }
    public int UploadsInterrupted { get; set; }
    /// <summary>Late online commits of receipts the report applied (must be refused): their operation records.</summary>
    public List<OpRecord> LateCommits { get; } = [];

    public DomainReceiptRef Ref(long receiptNumber) => new(Store, Register, Shift, receiptNumber);
}

/// <summary>What the offline registers did during a run. Thread-safe for the registers.</summary>
public sealed class OfflineHistory
{
    private readonly ConcurrentQueue<OfflineShift> _shifts = new();
    private long _exportsTaken, _exportsMissed, _salesFailed;

    public IEnumerable<OfflineShift> Shifts => _shifts;
    /// <summary>Catalog exports a register received before a shift.</summary>
    public long ExportsTaken => Interlocked.Read(ref _exportsTaken);
    /// <summary>Exports that failed (server or database down): the register sold from its last one.</summary>
    public long ExportsMissed => Interlocked.Read(ref _exportsMissed);
    /// <summary>Till sales that ended without a definite answer and without going offline (not journalled).</summary>
    public long SalesFailed => Interlocked.Read(ref _salesFailed);

    public void Add(OfflineShift shift) => _shifts.Enqueue(shift);
    public void CountExport(bool taken)
    {
        if (taken) Interlocked.Increment(ref _exportsTaken);
        else Interlocked.Increment(ref _exportsMissed);
    }
    public void CountFailedSale() => Interlocked.Increment(ref _salesFailed);

    /// <summary>
    /// Every operation id an offline register may have caused: the till's derived hold and commit ids
    /// for every receipt it tried, and reconciliation's derived sale and void ids for every receipt of
    /// every shift. Nothing else of the offline stores may be in the ledger.
    /// </summary>
    public IEnumerable<string> PossibleOperationIds() =>
        Shifts.SelectMany(shift => shift.ReceiptNumbersTried.SelectMany(number =>
        {
            var key = shift.Ref(number);
            var ids = new List<string> { ShiftReconciliationRules.OperationIdFor("sale", key), ShiftReconciliationRules.OperationIdFor("void", key) };
            if (shift.Kind == OfflineRegisterKind.Till)
                ids.AddRange(OfflineStores.TillOperationIds(key));
            return ids;
        }));
}

/// <summary>
/// Stores that work offline during the chaos run (issue 11): registers that sell and redeem from the
/// last catalog export while servers are killed and PostgreSQL restarted, close a shift every few
/// receipts and upload its report with retries (some uploads walked away from mid-call and repeated,
/// some repeated after their answer), and, for some receipts a report applied, send the same receipt
/// online afterwards. Half the registers are <see cref="OfflineTill"/>s (online while a server
/// answers, offline when not: the Dinect flow); the others are Frontol and Кассир 5 registers (the
/// DENSY flow): the register's catalog file written from the export and read back for the balances,
/// sales decided from it alone, the shift's report written as a Windows-1251 transactions file of the
/// register's format and read through its report reader.
/// </summary>
public sealed class OfflineStores(ChaosOptions options, IReadOnlyList<Uri> servers, IReadOnlyList<string> cards,
    IReadOnlyDictionary<string, string> posKeys, string runDirectory, Workload workload, History history, OfflineHistory offline)
{
    /// <summary>Deadline of one report upload: a shift applies its receipts card by card, so longer than a POS call's.</summary>
    public static readonly TimeSpan UploadTimeout = TimeSpan.FromSeconds(15);
    /// <summary>How long a register goes on uploading a closed shift's report before it gives up (then the shift counts as not uploaded).</summary>
    public static readonly TimeSpan UploadBudget = TimeSpan.FromMinutes(2);
    /// <summary>Share of uploads whose first attempt the register walks away from mid-call, then repeats.</summary>
    private const double InterruptShare = 0.3;
    /// <summary>Share of answered uploads the register sends once more (the answer must be the same).</summary>
    private const double RepeatShare = 0.3;
    /// <summary>Share of file registers' shifts after which one applied receipt is also sent online (must be refused).</summary>
    private const double LateCommitShare = 0.5;
    /// <summary>Share of a file register's card receipts where the hot card's customer spends all the catalog file says it has.</summary>
    private const double DrainShare = 0.15;
    /// <summary>The payment type code the Frontol registers use for bonuses (configured as such when reading).</summary>
    private const string BonusPaymentType = "9";

    /// <summary>The terminal number of offline register <paramref name="index"/>: after the online terminals, so its store is <see cref="Workload.StoreOf"/> of it.</summary>
    public static int TerminalOf(int index, ChaosOptions options) => options.Terminals + index;

    /// <summary>The ids <see cref="OfflineTill"/> derives for its online hold and commit of a receipt.</summary>
    public static IEnumerable<string> TillOperationIds(DomainReceiptRef key)
    {
        var wire = new ReceiptRef { StoreId = key.StoreId, RegisterId = key.RegisterId, ShiftNumber = key.ShiftNumber, ReceiptNumber = key.ReceiptNumber }.ToString();
        return [OperationId.Derive("till-hold", wire), OperationId.Derive("till-commit", wire)];
    }

    /// <summary>Runs every offline register until <paramref name="stop"/>; the shift under way is then closed and uploaded.</summary>
    public Task RunAsync(CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, options.OfflineRegisters).Select(k => Task.Run(() => RegisterAsync(k, stop))));

    private async Task RegisterAsync(int index, CancellationToken stop)
    {
        var terminal = TerminalOf(index, options);
        var store = Workload.StoreOf(terminal, options.Stores);
        var kind = (OfflineRegisterKind)(index % 3);
        var register = $"{kind.ToString()[0]}{index + 1}";
        var rng = new Random(unchecked(options.Seed * 104_729 + index));
        var directory = Path.Combine(runDirectory, "offline", register);
        Directory.CreateDirectory(directory);
        long sequence = 0;
        for (long shiftNumber = 1; !stop.IsCancellationRequested; shiftNumber++)
        {
            var shift = new OfflineShift(kind, store, register, shiftNumber);
            offline.Add(shift);
            if (kind == OfflineRegisterKind.Till)
                await TillShiftAsync(shift, rng, directory, stop);
            else
                await FileRegisterShiftAsync(shift, rng, directory, terminal, () => ++sequence, stop);
        }
    }

    private string Card(Random rng) => rng.NextDouble() < options.HotCardShare ? cards[0] : cards[rng.Next(cards.Count)];

    private static List<TillLine> Lines(Random rng)
    {
        var lines = new List<TillLine>();
        for (var i = rng.Next(1, 4); i > 0; i--)
        {
            var price = rng.NextInt64(5_000, 200_000);
            lines.Add(new TillLine($"{100 + lines.Count + 1}", LoyaltyCommandLine.DefaultReportCategory, $"item {lines.Count + 1}", 1000, price, price));
        }
        return lines;
    }

    private static Task Pause(Random rng) => Task.Delay(TimeSpan.FromMilliseconds(rng.Next(100, 400)), CancellationToken.None);

    /// <summary>
    /// A till's shift: the catalog taken from one server (kept from before when it is down), receipts
    /// sold online or offline through that server, then the shift closed and its report uploaded,
    /// each retry by a till started afresh on the next server (it reopens the shift's journal).
    /// </summary>
    private async Task TillShiftAsync(OfflineShift shift, Random rng, string directory, CancellationToken stop)
    {
        var posKey = posKeys[shift.Store];
        var first = rng.Next(servers.Count);
        using (var client = LoyaltyClient.Create(servers[first].ToString(), posKey, Workload.CallTimeout))
        {
            var till = new OfflineTill(client, shift.Store, shift.Register, shift.Shift, directory);
            try
            {
                await till.RefreshCatalogAsync(CancellationToken.None);
                offline.CountExport(taken: true);
            }
            catch (RpcException)
            {
                offline.CountExport(taken: false);
            }
            long number = 0;
            for (var n = 0; n < options.ShiftReceipts && !stop.IsCancellationRequested; n++)
            {
                await Pause(rng);
                var card = rng.NextDouble() < 0.85 ? Card(rng) : null;
                var lines = Lines(rng);
                var total = lines.Sum(l => l.AmountKopecks);
                // Half the customers pay with bonuses, up to the programme's share of the receipt.
                var bonus = card is not null && rng.NextDouble() < 0.5 ? rng.NextInt64(100, Math.Max(101, total * 3 / 10)) : 0;
                for (var tries = 0; tries < 2; tries++)
                {
                    shift.ReceiptNumbersTried.Add(++number);
                    try
                    {
                        var sale = await till.SellAsync(number, card, lines, bonus, CancellationToken.None);
                        shift.ReportedReceipts++;
                        if (card is not null) shift.Sales.Add(new OfflineSale(number, card, total, sale.RedeemedKopecks, sale.Offline));
                        break;
                    }
                    catch (RpcException refused) when (Workload.IsDefinite(refused.StatusCode))
                    {
                        // Not enough bonuses online (or a card in debt): the cashier sells the goods again, without bonuses.
                        bonus = 0;
                    }
                    catch (RpcException)
                    {
                        // Neither answered nor taken offline (e.g. overload): the receipt is not journalled; the next one goes on.
                        offline.CountFailedSale();
                        break;
                    }
                }
            }
        }

        var started = Stopwatch.GetTimestamp();
        for (var attempt = 0; ; attempt++)
        {
            // Each attempt is a till started again (as after a crash) on the next server: it reads the shift's journal back.
            using var client = LoyaltyClient.Create(servers[(first + attempt) % servers.Count].ToString(), posKey, UploadTimeout);
            var till = new OfflineTill(client, shift.Store, shift.Register, shift.Shift, directory);
            if (await UploadOnceAsync(shift, rng, attempt, token => till.CloseShiftAsync(token))) break;
            if (Stopwatch.GetElapsedTime(started) > UploadBudget) return;
            await Backoff(rng, attempt);
        }
        if (shift.FirstAnswer is not null && rng.NextDouble() < RepeatShare)
        {
            using var client = LoyaltyClient.Create(servers[rng.Next(servers.Count)].ToString(), posKey, UploadTimeout);
            await RepeatAsync(shift, token => new OfflineTill(client, shift.Store, shift.Register, shift.Shift, directory).CloseShiftAsync(token));
        }
    }

    /// <summary>
    /// A Frontol or Кассир 5 register's shift (the DENSY flow): the catalog file written from the export and read
    /// back for each card's offline amount, every receipt decided from it alone, the report written
    /// as the register writes it, read through the report reader and uploaded; then, now and then,
    /// one receipt the report applied is sent online as well (the server must refuse it).
    /// </summary>
    private async Task FileRegisterShiftAsync(OfflineShift shift, Random rng, string directory, int terminal, Func<long> nextSequence, CancellationToken stop)
    {
        var posKey = posKeys[shift.Store];
        var format = shift.Kind == OfflineRegisterKind.Kassir ? "kassir" : "frontol";
        var catalogPath = Path.Combine(directory, "cards.txt");
        using (var client = LoyaltyClient.Create(servers[rng.Next(servers.Count)].ToString(), posKey, Workload.CallTimeout))
        {
            try
            {
                await StoreExchange.WriteCatalogAsync(format, catalogPath, StoreExchange.CatalogCardsAsync(client, shift.Store), CancellationToken.None);
                offline.CountExport(taken: true);
            }
            catch (Exception error) when (error is RpcException or OperationCanceledException)
            {
                offline.CountExport(taken: false);
            }
        }
        var spendable = File.Exists(catalogPath)
            ? (format == "kassir" ? KassirCatalogFile.Read(catalogPath) : FrontolCatalogFile.Read(catalogPath)).ToDictionary(c => c.CardNumber, c => c.Blocked ? 0 : c.OfflineSpendableKopecks, StringComparer.Ordinal)
            : new Dictionary<string, long>(StringComparer.Ordinal);
        var spent = new Dictionary<string, long>(StringComparer.Ordinal);
        var receipts = new List<(long Number, string? Card, List<TillLine> Lines, long Bonus)>();
        for (var n = 1; n <= options.ShiftReceipts && !stop.IsCancellationRequested; n++)
        {
            await Pause(rng);
            var card = rng.NextDouble() < 0.85 ? Card(rng) : null;
            // Now and then a customer of the hot card spends everything the file says it has, while the
            // online terminals spend from it too: the report then redeems more than the card holds (a debt).
            var drain = card is not null && rng.NextDouble() < DrainShare;
            if (drain) card = cards[0];
            var lines = Lines(rng);
            long bonus = 0;
            var fileSays = card is null ? 0 : Math.Max(0, spendable.GetValueOrDefault(card) - spent.GetValueOrDefault(card));
            if (drain && fileSays > 0)
            {
                lines.Add(new TillLine("900", LoyaltyCommandLine.DefaultReportCategory, "big item", 1000, fileSays, fileSays));
                bonus = fileSays;
                spent[card!] = spent.GetValueOrDefault(card!) + bonus;
            }
            var total = lines.Sum(l => l.AmountKopecks);
            if (!drain && card is not null && rng.NextDouble() < 0.6)
            {
                // At receipt close the register lets the customer pay up to half the receipt from what the file says the card has.
                var left = Math.Max(0, spendable.GetValueOrDefault(card) - spent.GetValueOrDefault(card));
                bonus = Math.Min(left, rng.NextInt64(100, Math.Max(101, total / 2)));
                spent[card] = spent.GetValueOrDefault(card) + bonus;
            }
            receipts.Add((n, card, lines, bonus));
            shift.ReceiptNumbersTried.Add(n);
            if (card is not null) shift.Sales.Add(new OfflineSale(n, card, total, bonus, DecidedOffline: true));
        }
        shift.ReportedReceipts = receipts.Count;
        var reportPath = Path.Combine(directory, $"report-{shift.Shift}.txt");
        await (format == "kassir" ? WriteKassirReportAsync(reportPath, shift.Shift, receipts) : WriteFrontolReportAsync(reportPath, shift.Shift, receipts));
        var report = StoreExchange.ReadReport(format, reportPath, new ReportReadOptions
        {
            StoreId = shift.Store, RegisterId = shift.Register, BonusPaymentTypeCodes = new HashSet<string>(StringComparer.Ordinal) { BonusPaymentType },
        });
        var wire = ReportConversion.ToWire(report, LoyaltyCommandLine.DefaultReportCategory);

        var started = Stopwatch.GetTimestamp();
        var first = rng.Next(servers.Count);
        for (var attempt = 0; ; attempt++)
        {
            using var client = LoyaltyClient.Create(servers[(first + attempt) % servers.Count].ToString(), posKey, UploadTimeout);
            if (await UploadOnceAsync(shift, rng, attempt, token => client.UploadShiftReportAsync(wire, null, token))) break;
            if (Stopwatch.GetElapsedTime(started) > UploadBudget) return;
            await Backoff(rng, attempt);
        }
        if (shift.FirstAnswer is null) return;
        if (rng.NextDouble() < RepeatShare)
        {
            using var client = LoyaltyClient.Create(servers[rng.Next(servers.Count)].ToString(), posKey, UploadTimeout);
            await RepeatAsync(shift, token => client.UploadShiftReportAsync(wire, null, token));
        }
        if (rng.NextDouble() < LateCommitShare
            && shift.FirstAnswer.Receipts.FirstOrDefault(r => r.Outcome == ReceiptOutcome.AppliedFromReport) is { } applied
            && receipts.FirstOrDefault(r => r.Number == applied.ReceiptNumber) is { Card: { } lateCard } late)
        {
            // The same receipt committed online after the report applied it (a till replaying its queue): refused, never applied twice.
            var receipt = new Receipt { Ref = new ReceiptRef { StoreId = shift.Store, RegisterId = shift.Register, ShiftNumber = shift.Shift, ReceiptNumber = late.Number } };
            foreach (var l in late.Lines)
                receipt.Lines.Add(new ReceiptLine { Sku = l.Sku, Category = l.Category, Name = l.Name, QuantityMilli = l.QuantityMilli, Price = l.PriceKopecks, Amount = l.AmountKopecks });
            var commit = workload.NewOp(OpKind.CommitOfReportedReceipt, lateCard, terminal, nextSequence(), async (client, ct, id) =>
            {
                var reply = await client.CommitAsync(new CommitRequest { OperationId = id, CardNumber = lateCard, Receipt = receipt }, null, ct);
                return (new Effect(reply.Accrued - reply.Redeemed, 0), reply.Card.Version);
            });
            shift.LateCommits.Add(commit);
            var clients = servers.Select(s => LoyaltyClient.Create(s.ToString(), posKey, Workload.CallTimeout)).ToArray();
            try
            {
                await workload.ExecuteAsync(commit, rng, clients, posKey, allowAbandon: false, TimeSpan.FromSeconds(options.RetrySeconds), CancellationToken.None);
            }
            finally
            {
                foreach (var c in clients) c.Dispose();
            }
        }
    }

    /// <summary>
    /// One upload attempt; true when it settled the shift (answered, or refused for good). The first
    /// attempt is sometimes walked away from mid-call, like a register whose link dropped.
    /// </summary>
    private async Task<bool> UploadOnceAsync(OfflineShift shift, Random rng, int attempt, Func<CancellationToken, Task<ShiftReconciliation>> upload)
    {
        shift.UploadAttempts++;
        var walkAway = attempt == 0 && rng.NextDouble() < InterruptShare;
        using var cancel = walkAway ? new CancellationTokenSource(TimeSpan.FromMilliseconds(rng.Next(0, 40))) : new CancellationTokenSource();
        try
        {
            var answer = await upload(cancel.Token);
            shift.FirstAnswer ??= answer;
            history.CountAttempt("OK (shift report)", attempt > 0);
            return true;
        }
        catch (RpcException refused) when (Workload.IsDefinite(refused.StatusCode) && !cancel.IsCancellationRequested)
        {
            history.CountAttempt($"{refused.StatusCode.ToWireName()} (shift report)", attempt > 0);
            shift.Refusal = refused.Message;
            return true;
        }
        catch (Exception error) when (error is RpcException or OperationCanceledException)
        {
            if (cancel.IsCancellationRequested)
            {
                shift.UploadsInterrupted++;
                history.CountAttempt("ABANDONED (shift report)", attempt > 0);
            }
            else
            {
                history.CountAttempt($"{(error as RpcException)?.StatusCode.ToWireName() ?? "CANCELLED"} (shift report)", attempt > 0);
            }
            return false;
        }
    }

    /// <summary>The report uploaded again after its answer: recorded for the check that it is answered the same.</summary>
    private async Task RepeatAsync(OfflineShift shift, Func<CancellationToken, Task<ShiftReconciliation>> upload)
    {
        var started = Stopwatch.GetTimestamp();
        for (var attempt = 0; Stopwatch.GetElapsedTime(started) < UploadBudget; attempt++)
        {
            try
            {
                shift.UploadAttempts++;
                shift.LaterAnswers.Add(await upload(CancellationToken.None));
                history.CountAttempt("OK (shift report)", retry: true);
                return;
            }
            catch (RpcException error) when (!Workload.IsDefinite(error.StatusCode))
            {
                history.CountAttempt($"{error.StatusCode.ToWireName()} (shift report)", retry: true);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * Math.Min(attempt + 1, 5)), CancellationToken.None);
            }
            catch (RpcException refused)
            {
                history.CountAttempt($"{refused.StatusCode.ToWireName()} (shift report)", retry: true);
                shift.Refusal = $"uploaded again after its answer: {refused.Message}";
                return;
            }
        }
    }

    private static Task Backoff(Random rng, int attempt) =>
        Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1_000, 50 << Math.Min(attempt, 5)) * (0.5 + rng.NextDouble())), CancellationToken.None);

    /// <summary>
    /// The shift's report as a Кассир 5 register writes it (protocols.md §3.3, the layout
    /// <see cref="KassirReportReader"/> documents): a 3-line header, per receipt its lines (11), each
    /// line's bonus as a per-item discount by card (70, kind 3), a cash payment (40) and the close
    /// with the card (55, type 1), then the Z record (61) with the shift number; Windows-1251, dot decimals.
    /// </summary>
    private static async Task WriteKassirReportAsync(string path, long shiftNumber, IReadOnlyList<(long Number, string? Card, List<TillLine> Lines, long Bonus)> receipts)
    {
        var text = new StringBuilder();
        text.Append("#\n1\n").Append(shiftNumber.ToString(CultureInfo.InvariantCulture)).Append('\n');
        long transaction = 0;
        var at = DateTime.Now;
        string Money(long kopecks) => DecimalText.Format(kopecks, 2, '.');
        void Line(int type, long receipt, string rest) =>
            text.Append(CultureInfo.InvariantCulture, $"{++transaction};{at:dd.MM.yy};{at:HH:mm:ss};{type};1;{receipt};1;{rest};\n");
        long total = 0;
        foreach (var (number, card, lines, bonus) in receipts)
        {
            var discounts = BonusSpread.Proportional([.. lines.Select(l => l.AmountKopecks)], bonus);
            for (var i = 0; i < lines.Count; i++)
            {
                var l = lines[i];
                Line(11, number, $"{l.Sku};1;{Money(l.PriceKopecks)};{DecimalText.Format(l.QuantityMilli, 3, '.')};{Money(l.AmountKopecks)}");
                if (discounts[i] > 0) Line(70, number, $"{card};{KassirReportReader.DiscountByCard};;;{Money(discounts[i])}");
            }
            var sum = lines.Sum(l => l.AmountKopecks) - bonus;
            total += sum;
            Line(40, number, $";;0.00;1;{Money(sum)}");
            Line(55, number, $"{card};;;;;1");
        }
        Line(61, 0, $"{shiftNumber};;;;{Money(total)}");
        var temp = path + ".tmp";
        await File.WriteAllBytesAsync(temp, RegisterEncodings.Windows1251.GetBytes(text.ToString()));
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// The shift's report as a Frontol register writes it (protocols.md §3.2, the layout
    /// <see cref="FrontolReportReader"/> documents): a 3-line header, per receipt its lines (type 11),
    /// a cash payment (40) and a bonus payment (41, type 9), the close with the card (55), then the Z
    /// record (61); Windows-1251, decimal commas; written whole, then renamed into place.
    /// </summary>
    private static async Task WriteFrontolReportAsync(string path, long shiftNumber, IReadOnlyList<(long Number, string? Card, List<TillLine> Lines, long Bonus)> receipts)
    {
        var text = new StringBuilder();
        text.Append("#\n1\n").Append(shiftNumber.ToString(CultureInfo.InvariantCulture)).Append('\n');
        long transaction = 0;
        var at = DateTime.Now;
        string Money(long kopecks) => DecimalText.Format(kopecks, 2, ',');
        void Line(int type, long receipt, string rest) =>
            text.Append(CultureInfo.InvariantCulture, $"{++transaction};{at:dd.MM.yyyy};{at:HH:mm:ss};{type};1;{receipt};1;{rest}\n");
        long total = 0;
        foreach (var (number, card, lines, bonus) in receipts)
        {
            foreach (var l in lines)
                Line(11, number, $"{l.Sku};;{Money(l.PriceKopecks)};{DecimalText.Format(l.QuantityMilli, 3, ',')};{Money(l.AmountKopecks)};0;{shiftNumber};;{Money(l.AmountKopecks)}");
            var sum = lines.Sum(l => l.AmountKopecks);
            total += sum;
            if (sum - bonus > 0) Line(40, number, $";1;;;{Money(sum - bonus)}");
            if (bonus > 0) Line(41, number, $";{BonusPaymentType};;;{Money(bonus)}");
            Line(55, number, $"{card};;;;;0;{shiftNumber}");
        }
        Line(61, 0, $";{shiftNumber};;;{Money(total)}");
        var temp = path + ".tmp";
        await File.WriteAllBytesAsync(temp, RegisterEncodings.Windows1251.GetBytes(text.ToString()));
        File.Move(temp, path, overwrite: true);
    }
}
