using System.Threading.Channels;
using Loyalty.Grains.Domain;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace Loyalty.Grains.Storage;

public sealed class GroupCommitOptions
{
    /// <summary>Most operations in one transaction. Beyond ~100 the fsync is already amortised.</summary>
    public int MaxBatchSize { get; init; } = 256;

    /// <summary>
    /// How long a batch waits for more operations after the first; 0 = take what is queued and go.
    /// Zero is the default: batches form from whatever queued while the previous commit ran, and
    /// callers fall into groups that prepare while another group's batch commits. A fixed wait kept
    /// all callers in step (measured at 64 callers: 2.5k receipts/s with 1 ms, 3.2k with 0).
    /// </summary>
    public TimeSpan MaxBatchWait { get; init; } = TimeSpan.Zero;

    /// <summary>
    /// Batches committing at once. More than one lets the database work on one batch while another
    /// waits for its fsync and round trips; they never touch the same card, since a card has at
    /// most one write in flight. Measured on 2 cores, 2 instead of 1: +20 % receipts/s at 256
    /// callers but −15 % at 64 (batches halve), so the default stays one transaction at a time.
    /// </summary>
    public int MaxConcurrentBatches { get; init; } = 1;

    /// <summary>Operations queued for the writer; beyond it callers are told the server is overloaded at once.</summary>
    public int MaxQueuedWrites { get; init; } = 8_192;

    /// <summary>Refuses settings that would stall or unbound the writer, naming the setting.</summary>
    public void Validate()
    {
        if (MaxBatchSize is < 1 or > 10_000)
            throw new ArgumentOutOfRangeException(nameof(MaxBatchSize), MaxBatchSize, "GroupCommit.MaxBatchSize must be between 1 and 10000.");
        if (MaxBatchWait < TimeSpan.Zero || MaxBatchWait > TimeSpan.FromSeconds(1))
            throw new ArgumentOutOfRangeException(nameof(MaxBatchWait), MaxBatchWait, "GroupCommit.MaxBatchWait must be between 0 and 1 second.");
        if (MaxConcurrentBatches is < 1 or > 16)
            throw new ArgumentOutOfRangeException(nameof(MaxConcurrentBatches), MaxConcurrentBatches, "GroupCommit.MaxConcurrentBatches must be between 1 and 16.");
        if (MaxQueuedWrites is < 1 or > 1_000_000)
            throw new ArgumentOutOfRangeException(nameof(MaxQueuedWrites), MaxQueuedWrites, "GroupCommit.MaxQueuedWrites must be between 1 and 1000000.");
    }

    /// <summary>One operation per transaction: the baseline the benchmark compares with.</summary>
    public static GroupCommitOptions OnePerCommit => new() { MaxBatchSize = 1, MaxBatchWait = TimeSpan.Zero, MaxConcurrentBatches = 1 };
}

/// <summary>
/// The process's one ledger writer. Many grains' writes are gathered into one transaction: one
/// round trip for locks and idempotency checks, one for all rows, one fsync at COMMIT. Card rows are
/// locked in card-number order so concurrent writers in other processes never deadlock. A write
/// whose card version moved or whose operation id exists is answered alone and left out; if the
/// batch still fails, each write is retried in its own transaction so only the faulty one fails.
/// </summary>
public sealed class GroupCommitWriter : ILedgerWriter, IAsyncDisposable
{
    private sealed record Pending(LedgerWrite Write, TaskCompletionSource<WriteOutcome> Done);

    private readonly NpgsqlDataSource _dataSource;
    private readonly GroupCommitOptions _options;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _queue;
    private readonly Task _loop;

    public GroupCommitWriter(NpgsqlDataSource dataSource, GroupCommitOptions? options = null, ILogger<GroupCommitWriter>? logger = null)
    {
        _dataSource = dataSource;
        _options = options ?? new GroupCommitOptions();
        _options.Validate();
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(_options.MaxQueuedWrites)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Batches committed so far and operations in them; for the benchmark's report.</summary>
    public long BatchesCommitted => Interlocked.Read(ref _batches);
    public long WritesCommitted => Interlocked.Read(ref _writes);
    private long _batches, _writes;
    private volatile bool _stopping;

    public Task<WriteOutcome> WriteAsync(LedgerWrite write)
    {
        var pending = new Pending(write, new TaskCompletionSource<WriteOutcome>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
            return Task.FromResult<WriteOutcome>(new WriteOutcome.Failed(_stopping
                ? CardException.ShuttingDown()
                : new CardException(CardErrorCode.Overloaded, $"The ledger writer has {_options.MaxQueuedWrites} operations queued, its limit; try again shortly.")));
        return pending.Done.Task;
    }

    public async Task<WriteOutcome> WriteLockedAsync(IReadOnlyList<string> cardNumbers, Func<IReadOnlyDictionary<string, CardState?>, Task<LedgerWrite>> decide)
    {
        await using var connection = await _dataSource.OpenConnectionAsync();
        LedgerWrite? write = null;
        try
        {
            var states = cardNumbers.ToDictionary(n => n, _ => (CardState?)null, StringComparer.Ordinal);
            await using (var read = new NpgsqlBatch(connection))
            {
                read.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
                var select = new NpgsqlBatchCommand("SELECT number, state::text FROM cards WHERE number = ANY($1) ORDER BY number FOR UPDATE");
                select.Parameters.Add(new NpgsqlParameter { Value = cardNumbers.Order(StringComparer.Ordinal).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                read.BatchCommands.Add(select);
                await using var reader = await read.ExecuteReaderAsync();
                while (await reader.ReadAsync()) states[reader.GetString(0)] = Json.Deserialize<CardState>(reader.GetString(1));
            }
            write = await decide(states);
            await using (var apply = new NpgsqlBatch(connection))
            {
                AddWrites(apply, [write]);
                apply.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
                await apply.ExecuteNonQueryAsync();
            }
            Interlocked.Increment(ref _batches);
            Interlocked.Increment(ref _writes);
            return WriteOutcome.Done;
        }
        catch (PostgresException error) when (write is not null && error.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            await RollbackQuietly(connection);
            return Classify(error, write);
        }
        catch (PostgresException error) when (write?.ReceiptMustBeOpen is { } open && error.SqlState == ExpectationFailed)
        {
            // The rows are locked, so the only expectation that can fail here is the receipt's.
            await RollbackQuietly(connection);
            return new WriteOutcome.ReceiptExists(open);
        }
        catch
        {
            await RollbackQuietly(connection);
            throw;
        }
    }

    /// <summary>Stops taking writes and finishes every queued one.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopping = true;
        _queue.Writer.TryComplete();
        await _loop;
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var inFlight = new SemaphoreSlim(_options.MaxConcurrentBatches, _options.MaxConcurrentBatches);
        var running = new List<Task>();
        // Take a slot first, then gather: a batch forms from everything that queued while every
        // slot was busy, so batches grow exactly when the database is the bottleneck.
        while (true)
        {
            await inFlight.WaitAsync();
            if (!await reader.WaitToReadAsync()) break;
            var batch = new List<Pending>(_options.MaxBatchSize);
            while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var item)) batch.Add(item);
            if (batch.Count < _options.MaxBatchSize && _options.MaxBatchWait > TimeSpan.Zero)
            {
                using var wait = new CancellationTokenSource(_options.MaxBatchWait);
                try
                {
                    while (batch.Count < _options.MaxBatchSize && await reader.WaitToReadAsync(wait.Token))
                        while (batch.Count < _options.MaxBatchSize && reader.TryRead(out var item)) batch.Add(item);
                }
                catch (OperationCanceledException) { }
            }
            if (batch.Count == 0)
            {
                inFlight.Release();
                continue;
            }
            running.RemoveAll(t => t.IsCompleted);
            running.Add(Task.Run(async () =>
            {
                try { await CommitAsync(batch); }
                finally { inFlight.Release(); }
            }));
        }
        await Task.WhenAll(running);
    }

    private async Task CommitAsync(List<Pending> batch)
    {
        try
        {
            var outcomes = await WriteBatchAsync(batch.Select(p => p.Write).ToList());
            for (var i = 0; i < batch.Count; i++) batch[i].Done.TrySetResult(outcomes[i]);
            return;
        }
        catch (Exception error) when (batch.Count > 1 && !IsConnectionFailure(error))
        {
            _logger.LogWarning(error, "A batch of {Count} writes failed; retrying each alone so only the faulty one fails.", batch.Count);
        }
        catch (Exception error)
        {
            var failure = Classify(error, batch[0].Write);
            foreach (var p in batch) p.Done.TrySetResult(batch.Count == 1 ? failure : Unavailable(error));
            return;
        }

        foreach (var p in batch)
        {
            try
            {
                p.Done.TrySetResult((await TryBatchAsync([p.Write]))[0]);
            }
            catch (Exception error)
            {
                p.Done.TrySetResult(Classify(error, p.Write));
            }
        }
    }

    private WriteOutcome Classify(Exception error, LedgerWrite write)
    {
        if (error is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation } unique)
        {
            switch (unique.ConstraintName)
            {
                case "operations_pkey":
                case "ledger_pkey": // (operation, card, entry) is there: another process stored this operation first
                    return new WriteOutcome.Conflict(write.Operation.CardNumber); // the grain reloads, then finds the stored operation
                case "receipts_pkey":
                    return new WriteOutcome.ReceiptExists(write.ReceiptCreated!.Ref);
                case "cards_pkey":
                    return new WriteOutcome.Conflict(write.Cards[0].State.Number);
            }
        }
        _logger.LogError(error, "A write of operation {Kind} could not be stored.", write.Operation.Kind);
        return Unavailable(error);
    }

    private static WriteOutcome Unavailable(Exception error) => new WriteOutcome.Failed(new CardException(CardErrorCode.Unavailable,
        IsConnectionFailure(error)
            // The connection may have dropped after COMMIT reached the server, so the outcome is
            // unknown; a retry with the same operation id is answered without applying it twice.
            ? "The database could not be reached; the operation may or may not have been stored. Retry with the same operation id, or work offline."
            : "The operation could not be stored; nothing was changed. Try again."));

    /// <summary>
    /// The database could not be reached or stopped answering (as opposed to refusing a statement):
    /// waiting or retrying may cure it, and a write it interrupted may or may not be stored. Besides
    /// what Npgsql calls transient and broken sockets, the server's own word that the connection is
    /// gone or not yet possible: class 08 (connection exception) and 57P01–57P03 (shutting down,
    /// crashed, starting up). The one classifier of the engine: the writer, the server's start-up
    /// (which waits on exactly these), the grain call filter and the gRPC error mapping use it.
    /// </summary>
    public static bool IsConnectionFailure(Exception error) =>
        error is NpgsqlException { IsTransient: true } or TimeoutException or System.Net.Sockets.SocketException or IOException
        || error is NpgsqlException { InnerException: System.Net.Sockets.SocketException or IOException or TimeoutException }
        || error is PostgresException { SqlState: "57P01" or "57P02" or "57P03" } or PostgresException { SqlState: ['0', '8', _, _, _] };

    /// <summary>SQLSTATE raised by <c>loyalty_expect</c> (migration 0002) when a card version moved.</summary>
    private const string ExpectationFailed = "LY001";

    /// <summary>
    /// The common case first: every write is new and every card is as its activation read it, so
    /// locks, version checks, all rows and COMMIT go in one round trip. If that transaction fails on
    /// a moved version or an existing key, the careful path sorts out which writes are affected.
    /// </summary>
    private async Task<WriteOutcome[]> WriteBatchAsync(IReadOnlyList<LedgerWrite> writes)
    {
        await using (var connection = await _dataSource.OpenConnectionAsync())
        {
            try
            {
                await using var batch = new NpgsqlBatch(connection);
                batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
                batch.BatchCommands.Add(LockCards(writes));
                AddWrites(batch, writes);
                batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
                // Server-side prepared statements: PostgreSQL parses and plans each statement once per
                // connection instead of once per batch, and this batch is the pipeline's one serial step
                // (measured in alternating gRPC runs: 10-20 % less database CPU per receipt, 10-20 % more
                // receipts/s at 64 and 256 calls). Npgsql keeps them on the physical connection across
                // pool returns and finds them again by SQL text without a round trip; every text here is
                // a constant, so a connection holds at most one per kind of statement (a handful).
                await batch.PrepareAsync();
                await batch.ExecuteNonQueryAsync();
                Interlocked.Increment(ref _batches);
                Interlocked.Add(ref _writes, writes.Count);
                return [.. writes.Select(_ => (WriteOutcome)WriteOutcome.Done)];
            }
            catch (PostgresException error) when (error.SqlState is ExpectationFailed or PostgresErrorCodes.UniqueViolation)
            {
                await RollbackQuietly(connection);
            }
            catch
            {
                await RollbackQuietly(connection);
                throw;
            }
        }
        return await TryBatchAsync(writes);
    }

    /// <summary>Locks the batch's card rows in card-number order, so writers in other processes never deadlock with this one.</summary>
    private static NpgsqlBatchCommand LockCards(IReadOnlyList<LedgerWrite> writes)
    {
        var numbers = writes.SelectMany(w => w.Cards.Select(c => c.State.Number)).Distinct().Order(StringComparer.Ordinal).ToArray();
        var command = new NpgsqlBatchCommand("SELECT number, version FROM cards WHERE number = ANY($1) ORDER BY number FOR UPDATE");
        command.Parameters.Add(new NpgsqlParameter { Value = numbers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        return command;
    }

    /// <summary>The careful path: one transaction that first reads versions and stored operation ids and leaves out the writes they concern. Throws if the transaction failed.</summary>
    private async Task<WriteOutcome[]> TryBatchAsync(IReadOnlyList<LedgerWrite> writes)
    {
        var outcomes = new WriteOutcome?[writes.Count];
        await using var connection = await _dataSource.OpenConnectionAsync();
        try
        {
            // Round trip 1: open the transaction, lock the card rows in number order, read their
            // versions, and find operation ids that are already stored.
            var versions = new Dictionary<string, long>(StringComparer.Ordinal);
            var stored = new Dictionary<string, StoredOperation>(StringComparer.Ordinal);
            var committed = new HashSet<ReceiptRef>();
            await using (var check = new NpgsqlBatch(connection))
            {
                check.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
                check.BatchCommands.Add(LockCards(writes));
                var findOperations = new NpgsqlBatchCommand("SELECT operation_id, card_number, kind, payload_hash, result::text FROM operations WHERE operation_id = ANY($1)");
                findOperations.Parameters.Add(new NpgsqlParameter { Value = writes.Select(w => w.Operation.OperationId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
                check.BatchCommands.Add(findOperations);
                var guarded = writes.Where(w => w.ReceiptMustBeOpen is not null).Select(w => w.ReceiptMustBeOpen!).ToList();
                check.BatchCommands.Add(ReceiptKeysCommand(guarded, $"SELECT store_id, register_id, shift_number, receipt_number {CommittedAmong}"));
                await using var reader = await check.ExecuteReaderAsync();
                while (await reader.ReadAsync()) versions[reader.GetString(0)] = reader.GetInt64(1);
                await reader.NextResultAsync();
                while (await reader.ReadAsync())
                    stored[reader.GetString(0)] = new StoredOperation(reader.GetString(0), reader.GetString(1), reader.GetString(2), (byte[])reader[3], reader.GetString(4));
                await reader.NextResultAsync();
                while (await reader.ReadAsync())
                    committed.Add(new ReceiptRef(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), reader.GetInt64(3)));
            }

            var accepted = new List<LedgerWrite>(writes.Count);
            var operationIds = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < writes.Count; i++)
            {
                var w = writes[i];
                var conflict = w.Cards.FirstOrDefault(c => versions.TryGetValue(c.State.Number, out var v) ? v != c.ExpectedVersion : c.ExpectedVersion != 0);
                if (conflict is not null)
                    outcomes[i] = new WriteOutcome.Conflict(conflict.State.Number);
                else if (stored.TryGetValue(w.Operation.OperationId, out var existing))
                    outcomes[i] = new WriteOutcome.Duplicate(existing);
                else if (w.ReceiptMustBeOpen is { } open && committed.Contains(open))
                    outcomes[i] = new WriteOutcome.ReceiptExists(open);
                else if (!operationIds.Add(w.Operation.OperationId))
                    outcomes[i] = new WriteOutcome.Conflict(w.Operation.CardNumber); // same id twice in one batch: the loser re-reads and finds the winner
                else
                    accepted.Add(w);
            }

            // Round trip 2: all rows of all accepted writes as a handful of set-based statements, then COMMIT.
            await using (var apply = new NpgsqlBatch(connection))
            {
                if (accepted.Count > 0) AddWrites(apply, accepted);
                apply.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
                await apply.ExecuteNonQueryAsync();
            }
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _writes, accepted.Count);
            for (var i = 0; i < outcomes.Length; i++) outcomes[i] ??= WriteOutcome.Done;
            return outcomes!;
        }
        catch
        {
            await RollbackQuietly(connection);
            throw;
        }
    }

    private static async Task RollbackQuietly(NpgsqlConnection connection)
    {
        try
        {
            if (connection.State == System.Data.ConnectionState.Open)
            {
                await using var rollback = new NpgsqlCommand("ROLLBACK", connection);
                await rollback.ExecuteNonQueryAsync();
            }
        }
        catch (Exception)
        {
            // The connection is broken; the server aborts the transaction when it notices.
        }
    }

    private static void AddWrites(NpgsqlBatch batch, IReadOnlyList<LedgerWrite> writes)
    {
        // Holds are valid only on receipts not committed: checked here, in the writes' own
        // transaction, so a commit elsewhere cannot slip in between and the card reads nothing first.
        var guarded = writes.Where(w => w.ReceiptMustBeOpen is not null).Select(w => w.ReceiptMustBeOpen!).ToList();
        if (guarded.Count > 0)
        {
            var guard = ReceiptKeysCommand(guarded,
                $"SELECT loyalty_expect(NOT EXISTS (SELECT 1 {CommittedAmong}), 'a receipt to be held was committed meanwhile')");
            batch.BatchCommands.Add(guard);
        }

        var cards = writes.SelectMany(w => w.Cards).ToList();
        var inserts = cards.Where(c => c.ExpectedVersion == 0).ToList();
        var updates = cards.Where(c => c.ExpectedVersion != 0).ToList();
        const string cardColumns = "$1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::json[], $9::timestamptz[]";
        if (inserts.Count > 0)
            batch.BatchCommands.Add(CardCommand(inserts,
                $"INSERT INTO cards (number, program_id, status, version, balance, held, pending, state, due_at) SELECT * FROM unnest({cardColumns})"));
        if (updates.Count > 0)
        {
            // Each row is written only if it still has the version its activation read; if any has
            // moved, loyalty_expect aborts the whole transaction and nothing of the batch is stored.
            var update = CardCommand(updates,
                $"""
                WITH updated AS (
                    UPDATE cards c SET program_id = u.program_id, status = u.status, version = u.version, balance = u.balance,
                           held = u.held, pending = u.pending, state = u.state, due_at = u.due_at, updated_at = now()
                    FROM unnest({cardColumns}, $10::bigint[]) AS u(number, program_id, status, version, balance, held, pending, state, due_at, expected)
                    WHERE c.number = u.number AND c.version = u.expected
                    RETURNING 1)
                SELECT loyalty_expect(count(*) = $11, 'a card changed since its activation read it') FROM updated
                """);
            Add(update, updates.Select(c => c.ExpectedVersion).ToArray());
            Add(update, updates.Count);
            batch.BatchCommands.Add(update);
        }

        var entries = writes.SelectMany(w => w.Entries).ToList();
        if (entries.Count > 0)
        {
            var ledger = new NpgsqlBatchCommand(
                """
                INSERT INTO ledger (card_number, operation_id, entry_number, kind, amount, held_delta, pending_delta, balance_after,
                                    available_after, version_after, store_id, register_id, shift_number, receipt_number, offline, reason, actor, at)
                SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[],
                                     $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::bigint[], $14::bigint[], $15::bool[], $16::text[], $17::text[], $18::timestamptz[])
                """);
            Add(ledger, entries.Select(e => e.CardNumber).ToArray());
            Add(ledger, entries.Select(e => e.OperationId).ToArray());
            Add(ledger, entries.Select(e => e.EntryNumber).ToArray());
            Add(ledger, entries.Select(e => e.Kind.ToString()).ToArray());
            Add(ledger, entries.Select(e => e.AmountKopecks).ToArray());
            Add(ledger, entries.Select(e => e.HeldDeltaKopecks).ToArray());
            Add(ledger, entries.Select(e => e.PendingDeltaKopecks).ToArray());
            Add(ledger, entries.Select(e => e.BalanceAfterKopecks).ToArray());
            Add(ledger, entries.Select(e => e.AvailableAfterKopecks).ToArray());
            Add(ledger, entries.Select(e => e.VersionAfter).ToArray());
            Add(ledger, entries.Select(e => e.Receipt?.StoreId).ToArray());
            Add(ledger, entries.Select(e => e.Receipt?.RegisterId).ToArray());
            Add(ledger, entries.Select(e => e.Receipt?.ShiftNumber).ToArray());
            Add(ledger, entries.Select(e => e.Receipt?.ReceiptNumber).ToArray());
            Add(ledger, entries.Select(e => e.Offline).ToArray());
            Add(ledger, entries.Select(e => e.Reason).ToArray());
            Add(ledger, entries.Select(e => e.Actor).ToArray());
            Add(ledger, entries.Select(e => e.At).ToArray());
            batch.BatchCommands.Add(ledger);
        }

        var operations = new NpgsqlBatchCommand(
            "INSERT INTO operations (operation_id, card_number, kind, payload_hash, result, at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::json[], $6::timestamptz[])");
        Add(operations, writes.Select(w => w.Operation.OperationId).ToArray());
        Add(operations, writes.Select(w => w.Operation.CardNumber).ToArray());
        Add(operations, writes.Select(w => w.Operation.Kind).ToArray());
        Add(operations, writes.Select(w => w.Operation.PayloadHash).ToArray());
        Add(operations, writes.Select(w => w.Operation.ResultJson).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Json);
        Add(operations, writes.Select(w => w.At).ToArray());
        batch.BatchCommands.Add(operations);

        var created = writes.Where(w => w.ReceiptCreated is not null).ToList();
        if (created.Count > 0)
            batch.BatchCommands.Add(ReceiptCommand(created, w => w.ReceiptCreated!,
                "INSERT INTO receipts (store_id, register_id, shift_number, receipt_number, card_number, offline, redeemed, accrued, lines, operation_id, at, redeemed_lots) SELECT * FROM unnest({0})"));
        var updated = writes.Where(w => w.ReceiptUpdated is not null).ToList();
        if (updated.Count > 0)
            batch.BatchCommands.Add(ReceiptCommand(updated, w => w.ReceiptUpdated!,
                """
                UPDATE receipts r SET lines = u.lines, redeemed_lots = u.redeemed_lots
                FROM unnest({0}) AS u(store_id, register_id, shift_number, receipt_number, card_number, offline, redeemed, accrued, lines, operation_id, at, redeemed_lots)
                WHERE (r.store_id, r.register_id, r.shift_number, r.receipt_number) = (u.store_id, u.register_id, u.shift_number, u.receipt_number)
                """));
    }

    /// <summary>The committed receipts among the keys given as four arrays ($1..$4): store, register, shift, number.</summary>
    private const string CommittedAmong =
        "FROM receipts JOIN unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS k(store_id, register_id, shift_number, receipt_number) USING (store_id, register_id, shift_number, receipt_number)";

    private static NpgsqlBatchCommand ReceiptKeysCommand(IReadOnlyList<ReceiptRef> keys, string sql)
    {
        var command = new NpgsqlBatchCommand(sql);
        Add(command, keys.Select(k => k.StoreId).ToArray());
        Add(command, keys.Select(k => k.RegisterId).ToArray());
        Add(command, keys.Select(k => k.ShiftNumber).ToArray());
        Add(command, keys.Select(k => k.ReceiptNumber).ToArray());
        return command;
    }

    private static NpgsqlBatchCommand CardCommand(List<CardWrite> writes, string sql)
    {
        var command = new NpgsqlBatchCommand(sql);
        var states = writes.Select(w => w.State).ToList();
        Add(command, states.Select(s => s.Number).ToArray());
        Add(command, states.Select(s => s.ProgramId).ToArray());
        Add(command, states.Select(s => s.Status.ToString()).ToArray());
        Add(command, states.Select(s => s.Version).ToArray());
        Add(command, states.Select(s => s.BalanceKopecks).ToArray());
        Add(command, states.Select(s => s.HeldKopecks).ToArray());
        Add(command, states.Select(s => s.PendingKopecks).ToArray());
        Add(command, writes.Select(w => w.StateJson).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Json);
        // When the sweeper should next look at the card (Card.NextDueAt); null: nothing is waiting.
        Add(command, states.Select(s => Card.NextDueAt(s)?.ToUniversalTime()).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.TimestampTz);
        return command;
    }

    private static NpgsqlBatchCommand ReceiptCommand(List<LedgerWrite> writes, Func<LedgerWrite, ReceiptRecord> pick, string sqlTemplate)
    {
        var sql = sqlTemplate.Replace("{0}", "$1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bool[], $7::bigint[], $8::bigint[], $9::json[], $10::text[], $11::timestamptz[], $12::json[]");
        var command = new NpgsqlBatchCommand(sql);
        var records = writes.Select(pick).ToList();
        Add(command, records.Select(r => r.Ref.StoreId).ToArray());
        Add(command, records.Select(r => r.Ref.RegisterId).ToArray());
        Add(command, records.Select(r => r.Ref.ShiftNumber).ToArray());
        Add(command, records.Select(r => r.Ref.ReceiptNumber).ToArray());
        Add(command, records.Select(r => r.CardNumber).ToArray());
        Add(command, records.Select(r => r.Offline).ToArray());
        Add(command, records.Select(r => r.Redeemed).ToArray());
        Add(command, records.Select(r => r.Accrued).ToArray());
        Add(command, writes.Select(w => w.ReceiptLinesJson).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Json);
        Add(command, writes.Select(w => w.Operation.OperationId).ToArray());
        Add(command, writes.Select(w => w.At).ToArray());
        Add(command, writes.Select(w => w.ReceiptLotsJson).ToArray(), NpgsqlDbType.Array | NpgsqlDbType.Json);
        return command;
    }

    private static void Add<T>(NpgsqlBatchCommand command, T values, NpgsqlDbType? type = null)
    {
        var parameter = new NpgsqlParameter { Value = values };
        if (type is { } t) parameter.NpgsqlDbType = t;
        command.Parameters.Add(parameter);
    }
}
