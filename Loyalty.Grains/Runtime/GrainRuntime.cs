using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Loyalty.Grains.Runtime;

/// <summary>
/// A small grain runtime with Orleans' semantics for cards: one activation per card number per
/// process, created on first use and dropped when idle; calls to one card take turns; state changes
/// are durable (through the group-commit writer) before they are answered; and every write is
/// conditional on the card version read, so several processes on one database never lose an update:
/// a stale activation reloads, decides again on fresh state, and only then answers.
///
/// The activation table is a plain dictionary with an idle sweeper rather than a MemoryCache: an
/// eviction must never drop an activation while a call holds or awaits its turn, or two activations
/// of one card could run side by side in one process.
/// </summary>
public sealed class GrainRuntime : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, CardActivation> _activations = new(StringComparer.Ordinal);
    private readonly CardStore _store;
    private readonly ILedgerWriter _writer;
    private readonly ProgramCatalog _programs;
    private readonly TimeProvider _time;
    private readonly GrainRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly ITimer _sweeper;
    private volatile bool _stopping;

    public GrainRuntime(CardStore store, ILedgerWriter writer, ProgramCatalog programs, TimeProvider time, GrainRuntimeOptions? options = null, ILogger<GrainRuntime>? logger = null)
    {
        _store = store;
        _writer = writer;
        _programs = programs;
        _time = time;
        _options = options ?? new GrainRuntimeOptions();
        _options.Validate();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _sweeper = TimeProvider.System.CreateTimer(_ => Sweep(_options.IdleTimeout), null, _options.SweepInterval, _options.SweepInterval);
    }

    public ProgramCatalog Programs => _programs;
    public CardStore Store => _store;
    public int ActivationCount => _activations.Count;

    /// <summary>A reference to the card; cheap, and valid whether or not the card is in memory.</summary>
    public ICardGrain Card(string number) => new CardReference(this, number);

    /// <summary>Voids a hold; the card is found from the hold id. With <paramref name="storeId"/>, only a hold for a receipt of that store.</summary>
    public Task<CancelResult> CancelHoldAsync(string operationId, string holdId, CancellationToken cancellationToken = default, string? storeId = null)
    {
        var number = Domain.Card.CardNumberOfHold(holdId)
            ?? throw new CardException(CardErrorCode.NotFound, "The hold id is not one this server gave out.");
        return Card(number).CancelAsync(operationId, holdId, cancellationToken, storeId);
    }

    /// <summary>
    /// Replaces a card by a new number (issued now if it does not exist) or merges one card into
    /// another: the source's balance, lots and history move to the target and the source is closed,
    /// in one transaction. Both cards' turns are taken in card-number order, so two transfers
    /// between the same cards in opposite directions cannot deadlock.
    /// </summary>
    public Task<(CardView Source, CardView Target)> TransferAsync(string operationId, string sourceNumber, string targetNumber, bool issueTarget, string reason, string actor, CancellationToken cancellationToken = default)
    {
        Validate.CardNumber(sourceNumber);
        Validate.CardNumber(targetNumber);
        if (sourceNumber == targetNumber) throw Validate.Invalid($"Card {sourceNumber} cannot be moved into itself.");
        var payload = new { sourceNumber, targetNumber, issueTarget, reason, actor };
        return InvokeAsync([sourceNumber, targetNumber], cancellationToken, cards =>
        {
            var source = cards.Single(c => c.Number == sourceNumber);
            var target = cards.Single(c => c.Number == targetNumber);
            return WriteAsync(cards, operationId, issueTarget ? "replace" : "merge", payload, async () =>
            {
                var from = source.State ?? throw NotFound(sourceNumber);
                var sourceProgram = await _programs.GetAsync(from.ProgramId);
                var now = _time.GetUtcNow();
                var to = target.State;
                if (to is null)
                {
                    if (!issueTarget) throw NotFound(targetNumber);
                    to = CardState.Issued(targetNumber, from.ProgramId, from.Phone, from.Email, now);
                }
                else if (issueTarget && (to.Version > 1 || to.BalanceKopecks != 0))
                    throw new CardException(CardErrorCode.CardExists, $"Card {targetNumber} is already in use; merge into it instead of replacing with it.");
                var targetProgram = await _programs.GetAsync(to.ProgramId);
                var (s, t) = Domain.Card.Transfer(from, to, sourceProgram, targetProgram, operationId, reason, actor, now);
                return new Decision<(CardView, CardView)>(s.State, [.. s.Entries, .. t.Entries], (s.Reply, t.Reply))
                    .With(t.State);
            });
        });
    }

    /// <summary>
    /// Issues every number from <paramref name="first"/> to <paramref name="last"/> (same length, digits,
    /// zero-padded) in one transaction: all or none. Cards that exist already make the whole range fail.
    /// </summary>
    public async Task<int> IssueRangeAsync(string first, string last, string programId, CancellationToken cancellationToken = default)
    {
        Validate.CardNumber(first);
        Validate.CardNumber(last);
        if (first.Length != last.Length || !first.All(char.IsAsciiDigit) || !last.All(char.IsAsciiDigit))
            throw Validate.Invalid("A range of cards is two numbers of digits of the same length, such as 0001000 and 0001999.");
        if (!long.TryParse(first, out var from) || !long.TryParse(last, out var to) || to < from)
            throw Validate.Invalid($"The range {first}..{last} is empty or too long to read.");
        if (to - from + 1 > Limits.MaxCardsPerRange)
            throw Validate.Invalid($"The range {first}..{last} has {to - from + 1} cards; at most {Limits.MaxCardsPerRange} may be issued at once.");
        var program = await _programs.GetAsync(programId);
        var now = _time.GetUtcNow();
        var format = new string('0', first.Length);
        var states = new List<CardState>((int)(to - from + 1));
        for (var n = from; n <= to; n++)
            states.Add(Domain.Card.Issue(n.ToString(format), program, null, null, now).State);
        try
        {
            await using var connection = await _store.DataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using var command = new NpgsqlCommand(
                """
                INSERT INTO cards (number, program_id, status, version, balance, held, pending, state)
                SELECT u.number, $2, 'Active', 1, 0, 0, 0, u.state FROM unnest($1::text[], $3::json[]) AS u(number, state)
                ON CONFLICT (number) DO NOTHING
                """, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter { Value = states.Select(s => s.Number).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = program.ProgramId });
            command.Parameters.Add(new NpgsqlParameter { Value = states.Select(Json.Serialize).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Json });
            var inserted = await command.ExecuteNonQueryAsync(cancellationToken);
            if (inserted != states.Count)
            {
                await transaction.RollbackAsync(cancellationToken);
                throw new CardException(CardErrorCode.CardExists, $"{states.Count - inserted} cards of the range {first}..{last} exist already; nothing was issued.");
            }
            await transaction.CommitAsync(cancellationToken);
            return inserted;
        }
        catch (Exception error) when (IsDatabaseFailure(error))
        {
            throw Unavailable(error);
        }
    }

    /// <summary>Drops activations idle for longer than <paramref name="idle"/>. Their state is in the database.</summary>
    public int Sweep(TimeSpan idle)
    {
        var dropped = 0;
        foreach (var (number, activation) in _activations)
        {
            if (activation.IdleFor < idle || !activation.TryEnterIdle()) continue;
            try
            {
                activation.Deactivated = true;
                _activations.TryRemove(new KeyValuePair<string, CardActivation>(number, activation));
                dropped++;
            }
            finally
            {
                activation.Exit();
            }
        }
        return dropped;
    }

    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        await _sweeper.DisposeAsync();
        _activations.Clear();
    }

    private CardActivation Activate(string number)
    {
        if (_activations.TryGetValue(number, out var existing)) return existing;
        if (_activations.Count >= _options.MaxActivations && Sweep(TimeSpan.Zero) == 0)
            throw new CardException(CardErrorCode.Overloaded, $"This server holds {_options.MaxActivations} cards in memory, its limit, and all are busy; try again shortly.");
        return _activations.GetOrAdd(number, n => new CardActivation(n, _options.MailboxCapacity, _options.RecentOperationsPerCard));
    }

    /// <summary>Runs <paramref name="call"/> holding the turns of the given cards (taken in number order).</summary>
    internal async Task<T> InvokeAsync<T>(string[] numbers, CancellationToken cancellationToken, Func<CardActivation[], Task<T>> call, bool read = false)
    {
        if (_stopping)
            throw CardException.ShuttingDown();
        var ordered = numbers.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        while (true)
        {
            var cards = new List<CardActivation>(ordered.Length);
            try
            {
                foreach (var number in ordered)
                {
                    var card = Activate(number);
                    await card.EnterAsync(cancellationToken);
                    cards.Add(card);
                }
                if (cards.Any(c => c.Deactivated)) continue;
                foreach (var card in cards)
                    if (card.State is null || (read && card.StateAge > _options.MaxReadStaleness))
                        card.State = await _store.LoadCardAsync(card.Number);
                return await call([.. cards]);
            }
            catch (Exception error) when (IsDatabaseFailure(error))
            {
                // What is in memory may no longer match the database; read it again next time.
                foreach (var card in cards) card.State = null;
                throw Unavailable(error);
            }
            finally
            {
                foreach (var card in cards) card.Exit();
            }
        }
    }

    /// <summary>
    /// The write path shared by every command: answer a known operation id from memory or the
    /// database; otherwise decide in memory, write durably, and on a version conflict reload and
    /// decide again.
    /// </summary>
    internal async Task<T> WriteAsync<T>(CardActivation[] cards, string operationId, string kind, object payload, Func<Task<Decision<T>>> decide, bool system = false)
    {
        Validate.OperationId(operationId, system);
        var hash = PayloadHash(kind, payload);
        var primary = cards[0];
        foreach (var card in cards)
            if (card.TryRecall(operationId, out var known))
                return Answer<T>(operationId, hash, known.Hash, known.Json);

        for (var attempt = 0; ; attempt++)
        {
            Decision<T>? decision = null;
            LedgerWrite? write = null;
            LedgerWrite Build(Decision<T> d) => write = new(
                [.. d.AllStates.Select(s => new CardWrite(s, cards.Single(c => c.Number == s.Number).State?.Version ?? 0))],
                d.Entries, new OperationRecord(operationId, primary.Number, kind, hash, Json.Serialize(d.Reply)),
                d.ReceiptCreated, d.ReceiptUpdated, _time.GetUtcNow()) { ReceiptMustBeOpen = d.RequiresOpenReceipt };
            WriteOutcome outcome;
            try
            {
                if (attempt < _options.OptimisticAttempts)
                {
                    decision = await decide();
                    outcome = await _writer.WriteAsync(Build(decision));
                }
                else
                {
                    outcome = await _writer.WriteLockedAsync([.. cards.Select(c => c.Number)], async current =>
                    {
                        foreach (var card in cards) card.State = current[card.Number];
                        decision = await decide();
                        return Build(decision);
                    });
                }
            }
            catch (CardException refused) when (refused.Code is not (CardErrorCode.Overloaded or CardErrorCode.Unavailable))
            {
                // A retry of an operation that succeeded may no longer pass validation (the bonuses
                // it held are held); its stored answer wins over the refusal.
                if (await _store.FindOperationAsync(operationId) is { } stored)
                    return Answer<T>(operationId, hash, stored.PayloadHash, stored.ResultJson);
                // A refusal is only true of the latest state: another process may have made the
                // hold, added the bonuses or unblocked the card since this activation read it.
                if (attempt < _options.MaxConflictRetries && await ReloadIfChangedAsync(cards))
                    continue;
                throw;
            }

            switch (outcome)
            {
                case WriteOutcome.Committed:
                    foreach (var state in decision!.AllStates) cards.Single(c => c.Number == state.Number).State = state;
                    primary.Remember(operationId, hash, write!.Operation.ResultJson);
                    return decision.Reply;
                case WriteOutcome.Conflict conflict when attempt < _options.MaxConflictRetries:
                    _logger.LogDebug("Card {Card} changed in another process; reloading and deciding again.", Mask(conflict.CardNumber));
                    foreach (var card in cards) card.State = await _store.LoadCardAsync(card.Number);
                    continue;
                case WriteOutcome.Conflict:
                    throw new CardException(CardErrorCode.Unavailable, $"Card {primary.Number} is being changed by other servers too often to finish this operation; try again.");
                case WriteOutcome.Duplicate duplicate:
                    primary.Remember(operationId, duplicate.Stored.PayloadHash, duplicate.Stored.ResultJson);
                    return Answer<T>(operationId, hash, duplicate.Stored.PayloadHash, duplicate.Stored.ResultJson);
                case WriteOutcome.ReceiptExists exists:
                    // Committed with another card, or by another server in the same instant: the
                    // refusal names what committed it, as the lifecycle's own refusals do.
                    if (await _store.FindOperationAsync(operationId) is { } storedFirst)
                        return Answer<T>(operationId, hash, storedFirst.PayloadHash, storedFirst.ResultJson);
                    throw await _store.LoadReceiptAsync(exists.Receipt) is { } committed
                        ? ReceiptLifecycle.AlreadyCommitted(committed)
                        : new CardException(CardErrorCode.AlreadyResolved, $"Receipt {exists.Receipt} was already committed.");
                case WriteOutcome.Failed failed:
                    throw failed.Error;
            }
        }
    }

    /// <summary>Reads the cards again; true if any of them changed since the activation last saw it.</summary>
    private async Task<bool> ReloadIfChangedAsync(CardActivation[] cards)
    {
        var changed = false;
        foreach (var card in cards)
        {
            var current = await _store.LoadCardAsync(card.Number);
            changed |= current?.Version != card.State?.Version;
            card.State = current;
        }
        return changed;
    }

    internal async Task<ProgramSettings> ProgramOf(CardState state) => await _programs.GetAsync(state.ProgramId);
    internal DateTimeOffset Now => _time.GetUtcNow();

    private static T Answer<T>(string operationId, byte[] hash, byte[] storedHash, string storedJson)
    {
        if (!CryptographicOperations.FixedTimeEquals(hash, storedHash))
            throw new CardException(CardErrorCode.OperationExistsWithDifferentPayload,
                $"Operation {operationId} exists with a different payload; a new request needs a new operation id.");
        return Json.Deserialize<T>(storedJson);
    }

    /// <summary>What makes two requests "the same": the command kind and every argument, as canonical JSON.</summary>
    private static byte[] PayloadHash(string kind, object payload) =>
        SHA256.HashData(Encoding.UTF8.GetBytes(kind + "\n" + Json.Serialize(payload)));

    internal static CardException NotFound(string number) => new(CardErrorCode.NotFound, $"Card {number} does not exist.");

    internal static bool IsDatabaseFailure(Exception error) =>
        error is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException;

    private static CardException Unavailable(Exception error) =>
        new(CardErrorCode.Unavailable, "The database could not be reached; if this was a write, it may or may not have been stored. Retry with the same operation id, or work offline.");

    /// <summary>Card numbers in logs show only their last four characters.</summary>
    internal static string Mask(string number) => number.Length <= 4 ? "****" : new string('*', number.Length - 4) + number[^4..];
}
