using System.Security.Cryptography;
using System.Text;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans.Placement;

namespace Loyalty.Grains.Runtime;

/// <summary>
/// The card grain: applies one command of the pure domain (<see cref="Domain.Card"/>) per turn and
/// writes its outcome through the silo's group-commit writer before answering. No balance rule lives
/// here. Orleans gives it one activation cluster-wide and one call at a time; the writes stay
/// conditional on the card version this activation read, because during membership changes Orleans
/// may briefly run a second activation (design.md): a stale activation reloads, decides again on
/// fresh state, and only then answers; after <see cref="CardGrainOptions.OptimisticAttempts"/> lost
/// races it decides under the card row's lock, which always makes progress.
/// Not reentrant, and no <c>ConfigureAwait(false)</c> anywhere in it: every continuation must run in
/// the grain's turn (orleans.md §4).
/// </summary>
/// Placed on the silo that first calls it: the server a register talks to hosts its cards, so their
/// calls need no hop to another silo.
[PreferLocalPlacement]
public sealed class CardGrain(CardGrainServices services, ILogger<CardGrain> logger) : Grain, ICardGrain
{
    private readonly Dictionary<string, (byte[] Hash, string Json)> _recent = new(StringComparer.Ordinal);
    private readonly Queue<string> _recentOrder = new();
    /// <summary>The last state known durable; null when not loaded yet (or the card does not exist yet).</summary>
    private CardState? _state;
    private bool _loaded;

    private string Number => this.GetPrimaryKeyString();
    private DateTimeOffset Now => services.Time.GetUtcNow();

    public Task<CardView> GetAsync(CancellationToken cancellationToken) =>
        Read(cancellationToken, async card => CardView.Of(Domain.Card.Settled(card, await ProgramOf(card), Now)));

    public Task<QuoteResult> QuoteAsync(Receipt receipt, long requestedKopecks, CancellationToken cancellationToken) =>
        Read(cancellationToken, async card => Domain.Card.Quote(card, await ProgramOf(card), receipt, requestedKopecks, await CommittedAsync(card, receipt), Now));

    public Task<OpenHoldView> GetOpenHoldAsync(string holdId, CancellationToken cancellationToken) =>
        Read(cancellationToken, async card => Domain.Card.OpenHold(card, await ProgramOf(card), holdId, Now));

    public Task<bool> BindHoldToPrintJobAsync(string operationId, string holdId, string printJobId, CancellationToken cancellationToken) =>
        Write(cancellationToken, operationId, "bind-hold", new { holdId, printJobId },
            async card => Domain.Card.BindHoldToPrintJob(card, await ProgramOf(card), holdId, printJobId, Now));

    public Task<HoldResult> RedeemAsync(string operationId, Receipt receipt, long amountKopecks, CancellationToken cancellationToken) =>
        Write(cancellationToken, operationId, "redeem", new { number = Number, receipt, amountKopecks },
            async card => Domain.Card.Redeem(card, await ProgramOf(card), operationId, receipt, amountKopecks, committed: null, Now));

    public Task<CommitResult> CommitAsync(string operationId, Receipt receipt, string? holdId, CancellationToken cancellationToken) =>
        Write(cancellationToken, operationId, "commit", new { number = Number, receipt, holdId = holdId ?? "" },
            async card => Domain.Card.Commit(card, await ProgramOf(card), operationId, receipt, holdId, committed: null, Now));

    public Task<CancelResult> CancelAsync(string operationId, string holdId, string? storeId, CancellationToken cancellationToken) =>
        Write(cancellationToken, operationId, "cancel", new { holdId },
            async card => Domain.Card.Cancel(card, await ProgramOf(card), operationId, holdId, Now, storeId));

    public Task<RefundResult> RefundAsync(string operationId, ReceiptRef original, ReturnedLine[] lines, CancellationToken cancellationToken) =>
        Write(cancellationToken, operationId, "refund", new { number = Number, original, lines = (IReadOnlyList<ReturnedLine>)lines }, async card =>
        {
            Validate.ReceiptRef(original);
            // Receipts of a card change only through this card's writes, which are version-checked,
            // so reading the receipt inside the turn is consistent with the card state.
            var committed = await services.Store.LoadReceiptAsync(original);
            return Domain.Card.Refund(card, await ProgramOf(card), operationId, original, committed, lines, Now);
        });

    public Task<CardView> AdjustAsync(string operationId, long amountKopecks, string reason, string actor, CancellationToken cancellationToken) =>
        Write(cancellationToken, operationId, "adjust", new { number = Number, amountKopecks, reason, actor },
            async card => Domain.Card.Adjust(card, await ProgramOf(card), operationId, amountKopecks, reason, actor, Now));

    public Task<CardView> SetStatusAsync(string operationId, CardStatus status, string reason, CancellationToken cancellationToken) =>
        Write(cancellationToken, operationId, "status", new { number = Number, status, reason },
            async card => Domain.Card.SetStatus(card, await ProgramOf(card), status, reason, Now));

    public Task<CommitResult> ApplyOfflineAsync(string operationId, Receipt receipt, long[] lineDiscounts, CancellationToken cancellationToken) =>
        Write(cancellationToken, operationId, "offline-receipt", new { number = Number, receipt, lineDiscounts = (IReadOnlyList<long>)lineDiscounts },
            async card => Domain.Card.ApplyOffline(card, await ProgramOf(card), operationId, receipt, lineDiscounts, committed: null, Now));

    public async Task<CardView> IssueAsync(string programId, string? phone, string? email, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var number = Number;
        Validate.CardNumber(number);
        Validate.Identifier(programId, "programme id");
        // Issuing is idempotent by card number: the operation id is the number itself.
        var operationId = $"issue-{number}";
        await EnsureLoadedAsync();
        try
        {
            return await WriteAsync(operationId, "issue", new { number, programId, phone = phone ?? "", email = email ?? "" }, async () =>
            {
                if (_state is { } existing)
                    throw new CardException(CardErrorCode.CardExists, $"Card {number} exists already ({existing.Status}).");
                var program = await services.Programs.GetAsync(programId);
                return Domain.Card.Issue(number, program, phone, email, Now);
            });
        }
        catch (CardException e) when (e.Code == CardErrorCode.OperationExistsWithDifferentPayload)
        {
            throw new CardException(CardErrorCode.CardExists, $"Card {number} exists already, issued with other details.");
        }
    }

    public Task<StatementPage> GetStatementAsync(int pageSize, string? pageToken, CancellationToken cancellationToken) =>
        Read(cancellationToken, card => services.Store.GetStatementAsync([card.Number, .. card.Predecessors], pageSize, pageToken));

    public Task<CommitResult> ApplyFromShiftAsync(string operationId, Receipt receipt, long[] lineDiscounts, CancellationToken cancellationToken) =>
        Write(cancellationToken, operationId, "offline-receipt", new { number = Number, receipt, lineDiscounts = (IReadOnlyList<long>)lineDiscounts },
            async card => Domain.Card.ApplyOffline(card, await ProgramOf(card), operationId, receipt, lineDiscounts, committed: null, Now), system: true);

    public Task<RefundResult> RefundFromShiftAsync(string operationId, ReceiptRef original, ReturnedLine[] lines, CancellationToken cancellationToken) =>
        Write(cancellationToken, operationId, "refund", new { number = Number, original, lines = (IReadOnlyList<ReturnedLine>)lines }, async card =>
            Domain.Card.Refund(card, await ProgramOf(card), operationId, original, await services.Store.LoadReceiptAsync(original), lines, Now), system: true);

    public Task<CancelResult> VoidFromShiftAsync(string operationId, string holdId, CancellationToken cancellationToken) =>
        Write(cancellationToken, operationId, "cancel", new { holdId },
            async card => Domain.Card.Cancel(card, await ProgramOf(card), operationId, holdId, Now), system: true);

    public async Task<bool> SettleAsync(CancellationToken cancellationToken)
    {
        await EnsureLoadedAsync();
        if (_state is not { } card) return false;
        if (Domain.Card.Settle(card, await ProgramOf(card), Now) is null)
        {
            // Nothing due after all (the card's next write will set the right moment anyway): move its
            // moment on so the sweeper does not pick it again at once.
            await services.Store.SetDueAtAsync(card.Number, card.Version, Domain.Card.NextDueAt(card));
            return false;
        }
        // Keyed by the version it settles: a repeated sweep of the same version is one operation; the
        // rows themselves carry the time-driven ids the domain gives them, so they are written once
        // whether a sweep or the card's next command writes them first.
        var operationId = $"{CardChange.SystemOperationPrefix}settle:{card.Number}:{card.Version}";
        try
        {
            return await Write(cancellationToken, operationId, "settle", new { number = Number, version = card.Version }, async current =>
                Domain.Card.Settle(current, await ProgramOf(current), Now)
                    ?? throw new CardException(CardErrorCode.AlreadyResolved, $"Card {Number} has nothing due any more."), system: true);
        }
        catch (CardException nothingDue) when (nothingDue.Code == CardErrorCode.AlreadyResolved)
        {
            return false;
        }
    }

    public Task ReloadAsync()
    {
        _loaded = false;
        _state = null;
        return Task.CompletedTask;
    }

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
        return ReceiptLifecycle.OpenHold(card, receipt.Ref) is not null ? null : await services.Store.LoadReceiptAsync(receipt.Ref);
    }

    private async Task<T> Read<T>(CancellationToken cancellationToken, Func<CardState, Task<T>> read)
    {
        // A call whose caller gave up while it waited for the card's turn is not run.
        cancellationToken.ThrowIfCancellationRequested();
        Validate.CardNumber(Number);
        await EnsureLoadedAsync();
        return await read(_state ?? throw NotFound(Number));
    }

    private async Task<T> Write<T>(CancellationToken cancellationToken, string operationId, string kind, object payload, Func<CardState, Task<Decision<T>>> decide, bool system = false)
    {
        // A call whose caller gave up while it waited for the card's turn is not run; once started,
        // a write is seen through whatever the caller does (the token goes no further).
        cancellationToken.ThrowIfCancellationRequested();
        Validate.CardNumber(Number);
        Validate.OperationId(operationId, system);
        await EnsureLoadedAsync();
        return await WriteAsync(operationId, kind, payload, () => decide(_state ?? throw NotFound(Number)), system);
    }

    /// <summary>Reads the card once per activation (and again after a failure or a reload); a card that does not exist yet is read on every call.</summary>
    private async Task EnsureLoadedAsync()
    {
        if (_loaded && _state is not null) return;
        try
        {
            _state = await services.Store.LoadCardAsync(Number);
            _loaded = true;
        }
        catch (Exception error) when (IsDatabaseFailure(error))
        {
            throw Unavailable();
        }
    }

    /// <summary>
    /// The write path shared by every command: answer a known operation id from memory or the
    /// database; otherwise decide in memory, write durably, and on a version conflict reload and
    /// decide again.
    /// </summary>
    private async Task<T> WriteAsync<T>(string operationId, string kind, object payload, Func<Task<Decision<T>>> decide, bool system = false)
    {
        Validate.OperationId(operationId, system);
        var hash = PayloadHash(kind, payload);
        if (_recent.TryGetValue(operationId, out var known))
            return Answer<T>(operationId, hash, known.Hash, known.Json);
        var options = services.Options;
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                Decision<T>? decision = null;
                LedgerWrite? write = null;
                var expected = _state?.Version ?? 0;
                LedgerWrite Build(Decision<T> d) => write = new(
                    [new CardWrite(d.State, expected)],
                    d.Entries, new OperationRecord(operationId, Number, kind, hash, Json.Serialize(d.Reply)),
                    d.ReceiptCreated, d.ReceiptUpdated, Now) { ReceiptMustBeOpen = d.RequiresOpenReceipt };
                WriteOutcome outcome;
                try
                {
                    if (attempt < options.OptimisticAttempts)
                    {
                        decision = await decide();
                        outcome = await services.Writer.WriteAsync(Build(decision));
                    }
                    else
                    {
                        outcome = await services.Writer.WriteLockedAsync([Number], async current =>
                        {
                            _state = current[Number];
                            expected = _state?.Version ?? 0;
                            decision = await decide();
                            return Build(decision);
                        });
                    }
                }
                catch (CardException refused) when (refused.Code is not (CardErrorCode.Overloaded or CardErrorCode.Unavailable))
                {
                    // A retry of an operation that succeeded may no longer pass validation (the bonuses
                    // it held are held); its stored answer wins over the refusal.
                    if (await services.Store.FindOperationAsync(operationId) is { } stored)
                        return Answer<T>(operationId, hash, stored.PayloadHash, stored.ResultJson);
                    // A refusal is only true of the latest state: a second activation during a
                    // membership change, or a transfer, may have changed the card since this one read it.
                    if (attempt < options.MaxConflictRetries && await ReloadIfChangedAsync())
                        continue;
                    throw;
                }

                switch (outcome)
                {
                    case WriteOutcome.Committed:
                        _state = decision!.State;
                        _loaded = true;
                        Remember(operationId, hash, write!.Operation.ResultJson);
                        return decision.Reply;
                    case WriteOutcome.Conflict conflict when attempt < options.MaxConflictRetries:
                        logger.LogDebug("Card {Card} changed outside this activation; reloading and deciding again.", Mask(conflict.CardNumber));
                        _state = await services.Store.LoadCardAsync(Number);
                        continue;
                    case WriteOutcome.Conflict:
                        throw new CardException(CardErrorCode.Unavailable, $"Card {Number} is being changed elsewhere too often to finish this operation; try again.");
                    case WriteOutcome.Duplicate duplicate:
                        Remember(operationId, duplicate.Stored.PayloadHash, duplicate.Stored.ResultJson);
                        return Answer<T>(operationId, hash, duplicate.Stored.PayloadHash, duplicate.Stored.ResultJson);
                    case WriteOutcome.ReceiptExists exists:
                        // Committed with another card, or by another activation in the same instant: the
                        // refusal names what committed it, as the lifecycle's own refusals do.
                        if (await services.Store.FindOperationAsync(operationId) is { } storedFirst)
                            return Answer<T>(operationId, hash, storedFirst.PayloadHash, storedFirst.ResultJson);
                        throw await services.Store.LoadReceiptAsync(exists.Receipt) is { } committed
                            ? ReceiptLifecycle.AlreadyCommitted(committed)
                            : new CardException(CardErrorCode.AlreadyResolved, $"Receipt {exists.Receipt} was already committed.");
                    case WriteOutcome.Failed failed:
                        throw failed.Error;
                }
            }
        }
        catch (Exception error) when (IsDatabaseFailure(error))
        {
            // What is in memory may no longer match the database; read it again next time.
            _loaded = false;
            _state = null;
            throw Unavailable();
        }
    }

    /// <summary>Reads the card again; true if it changed since this activation last saw it.</summary>
    private async Task<bool> ReloadIfChangedAsync()
    {
        var current = await services.Store.LoadCardAsync(Number);
        var changed = current?.Version != _state?.Version;
        _state = current;
        return changed;
    }

    private void Remember(string operationId, byte[] hash, string json)
    {
        var capacity = services.Options.RecentOperationsPerCard;
        if (capacity <= 0 || !_recent.TryAdd(operationId, (hash, json))) return;
        _recentOrder.Enqueue(operationId);
        while (_recentOrder.Count > capacity) _recent.Remove(_recentOrder.Dequeue());
    }

    private async Task<ProgramSettings> ProgramOf(CardState state) => await services.Programs.GetAsync(state.ProgramId);

    internal static T Answer<T>(string operationId, byte[] hash, byte[] storedHash, string storedJson)
    {
        if (!CryptographicOperations.FixedTimeEquals(hash, storedHash))
            throw new CardException(CardErrorCode.OperationExistsWithDifferentPayload,
                $"Operation {operationId} exists with a different payload; a new request needs a new operation id.");
        return Json.Deserialize<T>(storedJson);
    }

    /// <summary>What makes two requests "the same": the command kind and every argument, as canonical JSON.</summary>
    internal static byte[] PayloadHash(string kind, object payload) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(kind + "\n" + Json.Serialize(payload)));

    internal static CardException NotFound(string number) => new(CardErrorCode.NotFound, $"Card {number} does not exist.");

    internal static bool IsDatabaseFailure(Exception error) =>
        error is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException;

    internal static CardException Unavailable() =>
        new(CardErrorCode.Unavailable, "The database could not be reached; if this was a write, it may or may not have been stored. Retry with the same operation id, or work offline.");

    /// <summary>Card numbers in logs show only their last four characters.</summary>
    internal static string Mask(string number) => number.Length <= 4 ? "****" : new string('*', number.Length - 4) + number[^4..];
}
