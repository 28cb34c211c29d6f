using System.Diagnostics;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Loyalty.Grains.Storage;
using Loyalty.Grains.Tests.Support;
using Npgsql;
using Xunit.Abstractions;

namespace Loyalty.Grains.Tests.Engine;

/// <summary>
/// What callers see when a bound is reached: refused at once with Overloaded (RESOURCE_EXHAUSTED on the
/// wire) or Unavailable, never left waiting, and nothing of a refused call stored. The queues are made
/// full deterministically by holding a card row lock in the database, which stalls the writer's batch;
/// the time bounds are generous (the machine is small and shared); precise figures are in the benchmark.
/// </summary>
public sealed class OverloadTests(ITestOutputHelper output) : EngineTestBase
{
    /// <summary>"At once" for these tests: far above the few milliseconds a refusal takes, far below a wait for a turn or a commit.</summary>
    private static readonly TimeSpan Promptly = TimeSpan.FromSeconds(1);
    /// <summary>How many calls past the mailbox bound a burst may get in (Orleans counts its queue without a lock).</summary>
    private const int MailboxSlack = 8;

    [Fact]
    public async Task A_full_mailbox_refuses_extra_callers_at_once_and_serves_the_admitted()
    {
        const int calls = 2_000;
        var capacity = new CardGrainOptions().MailboxCapacity;
        var card = await IssueWithBalanceAsync("8100001", 0);
        await card.GetAsync();

        List<Outcome> outcomes;
        await using (await HoldCardRowAsync("8100001"))
        {
            outcomes = await RunConcurrentlyAsync(calls, i => card.AdjustAsync($"hot-{i}", 1, "overload", "test"), untilRefused: calls - capacity - 1);
        }
        var finished = await Task.WhenAll(outcomes.Select(o => o.Finished));

        var refused = finished.Where(f => f.Code == CardErrorCode.Overloaded).ToList();
        var served = finished.Where(f => f.Code is null).ToList();
        output.WriteLine($"{served.Count} served, {refused.Count} refused; refusals took at most {refused.Max(f => f.Elapsed).TotalMilliseconds:0.0} ms");
        // One call in its turn and MailboxCapacity waiting (Orleans' MaxEnqueuedRequestsHardLimit). Orleans
        // counts the queue without a lock, so under a burst a handful more than the bound may get in;
        // the bound still holds to within that slack, and everything past it is refused at once.
        Assert.InRange(served.Count, capacity + 1, capacity + 1 + MailboxSlack);
        Assert.Equal(calls - served.Count, refused.Count);
        Assert.All(refused, f => Assert.True(f.Elapsed < Promptly, $"a refusal took {f.Elapsed.TotalMilliseconds:0} ms"));

        Assert.Equal(served.Count, (await card.GetAsync()).BalanceKopecks);
        Assert.Equal(0, await CountWhereOperationInAsync("operations", refused.Select(f => $"hot-{f.Index}")));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_full_ledger_queue_refuses_with_resource_exhausted_without_waiting()
    {
        const int queued = 64, writers = 1_000;
        var engine = await StartEngineAsync(new EngineOptions { GroupCommit = new() { MaxQueuedWrites = queued } });
        var numbers = Enumerable.Range(0, writers + 1).Select(i => $"82{i:D5}").ToArray();
        await engine.Cards.IssueRangeAsync(numbers[0], numbers[^1], ProgramCatalog.DefaultProgramId);
        // In memory before the test, so what is measured is the queue and not the first load of each card.
        await Task.WhenAll(numbers.Select(n => engine.Cards.Card(n).GetAsync()));

        List<Outcome> outcomes;
        Task<CardView> stalled;
        await using (await HoldCardRowAsync(numbers[0]))
        {
            // The writer's one batch waits for the row lock, so nothing leaves the queue until it is released.
            stalled = engine.Cards.Card(numbers[0]).AdjustAsync("stalled", 1, "overload", "test");
            await WaitUntilWaitingForLockAsync();
            outcomes = await RunConcurrentlyAsync(writers, i => engine.Cards.Card(numbers[i + 1]).AdjustAsync($"queued-{i}", 1, "overload", "test"), untilRefused: writers - queued);
        }
        var finished = await Task.WhenAll(outcomes.Select(o => o.Finished));
        await stalled;

        var refused = finished.Where(f => f.Code == CardErrorCode.Overloaded).ToList();
        output.WriteLine($"{finished.Count(f => f.Code is null)} served, {refused.Count} refused; refusals took at most {refused.Max(f => f.Elapsed).TotalMilliseconds:0.0} ms");
        Assert.Equal(queued, finished.Count(f => f.Code is null));
        Assert.Equal(writers - queued, refused.Count);
        Assert.All(refused, f => Assert.True(f.Elapsed < Promptly, $"a refusal took {f.Elapsed.TotalMilliseconds:0} ms"));

        Assert.Equal(0, await CountWhereOperationInAsync("operations", refused.Select(f => $"queued-{f.Index}")));
        // The refused callers' cards are as they were, and take writes again.
        var again = await engine.Cards.Card(numbers[refused[0].Index + 1]).AdjustAsync("after-overload", 1, "overload", "test");
        Assert.Equal(1, again.BalanceKopecks);
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task A_caller_whose_deadline_passes_in_the_mailbox_is_answered_at_once_and_its_call_runs_at_most_once()
    {
        const int capacity = 10;
        var engine = await StartEngineAsync(new EngineOptions { Cards = new() { MailboxCapacity = capacity } });
        var card = engine.Cards.Card("8300001");
        await card.IssueAsync(ProgramCatalog.DefaultProgramId, null, null);

        Task<CardView> first;
        await using (await HoldCardRowAsync("8300001"))
        {
            first = card.AdjustAsync("holds-the-turn", 1, "overload", "test");
            await WaitUntilWaitingForLockAsync();
            // Every other place in the mailbox is taken by a caller who gives up after 200 ms.
            using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            var impatient = Enumerable.Range(0, capacity).Select(i => card.AdjustAsync($"gave-up-{i}", 1, "overload", "test", deadline.Token)).ToList();
            var clock = Stopwatch.StartNew();
            foreach (var call in impatient) await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
            output.WriteLine($"the callers whose deadline passed were answered {clock.Elapsed.TotalMilliseconds:0} ms after it was set");
            Assert.True(clock.Elapsed < Promptly + TimeSpan.FromMilliseconds(200), $"the cancelled callers were answered after {clock.Elapsed.TotalMilliseconds:0} ms");
        }
        await first;
        // The grain skips a call whose token is cancelled when its turn comes, but the cancellation
        // reaches it asynchronously (Orleans' cancellation is cooperative), so a call whose caller gave
        // up may still run once: to its caller that is an unknown outcome, as after any deadline, and a
        // retry with the same operation id answers what was stored. Never twice, never half.
        // A later call queues behind whatever is left of them, so once it is answered they are all decided.
        var later = await card.AdjustAsync("later", 1, "overload", "test");
        var ran = await CountWhereOperationInAsync("operations", Enumerable.Range(0, capacity).Select(i => $"gave-up-{i}"));
        output.WriteLine($"{ran} of {capacity} cancelled calls ran anyway");

        Assert.Equal(2 + ran, later.BalanceKopecks);
        Assert.Equal(ran, await CountWhereOperationInAsync("ledger", Enumerable.Range(0, capacity).Select(i => $"gave-up-{i}")));
        await AssertInvariantsHoldAsync();
    }

    [Fact]
    public async Task Callers_get_unavailable_quickly_while_the_database_is_down_and_are_served_again_when_it_returns()
    {
        // A cluster of its own: stopping the shared one would fail every other test running now.
        var directory = TestDatabase.CreateTempDirectory();
        var cluster = await EmbeddedPostgres.StartAsync(Path.Combine(directory, "cluster"));
        try
        {
            await using var engine = await LoyaltyEngine.StartAsync(await cluster.CreateDatabaseAsync("overload"), time: Clock);
            var numbers = Enumerable.Range(0, 20).Select(i => $"84{i:D5}").ToArray();
            foreach (var number in numbers) await engine.Cards.Card(number).IssueAsync(ProgramCatalog.DefaultProgramId, null, null);

            var failures = new List<(CardErrorCode? Code, TimeSpan Elapsed)>();
            var attempt = 0;
            await cluster.RestartAsync("fast", async () =>
            {
                var down = Stopwatch.StartNew();
                while (down.Elapsed < TimeSpan.FromSeconds(2))
                {
                    var batch = await Task.WhenAll(numbers.Select(n => TimedAsync(() => engine.Cards.Card(n).AdjustAsync($"down-{Interlocked.Increment(ref attempt)}", 1, "outage", "test"))));
                    failures.AddRange(batch);
                }
            });
            output.WriteLine($"{failures.Count} calls while down: {failures.Count(f => f.Code == CardErrorCode.Unavailable)} unavailable, at most {failures.Max(f => f.Elapsed).TotalMilliseconds:0} ms");
            Assert.All(failures, f => Assert.Equal(CardErrorCode.Unavailable, f.Code));
            Assert.All(failures, f => Assert.True(f.Elapsed < TimeSpan.FromSeconds(5), $"a call took {f.Elapsed.TotalMilliseconds:0} ms to fail"));

            // Served again without any restart of the engine; a few calls may still meet connections the outage broke.
            var back = Stopwatch.StartNew();
            var recovered = 0;
            while (recovered < numbers.Length && back.Elapsed < TimeSpan.FromSeconds(30))
            {
                var (code, _) = await TimedAsync(() => engine.Cards.Card(numbers[recovered]).AdjustAsync($"back-{recovered}-{back.ElapsedTicks}", 1, "recovery", "test"));
                if (code is null) recovered++;
                else Assert.Equal(CardErrorCode.Unavailable, code);
            }
            output.WriteLine($"all cards served again {back.Elapsed.TotalMilliseconds:0} ms after the database was back");
            Assert.Equal(numbers.Length, recovered);

            Assert.Equal(0, await CountAsync(engine.DataSource, "SELECT count(*) FROM operations WHERE operation_id LIKE 'down-%'"));
            Assert.Empty(await engine.CheckInvariantsAsync());
        }
        finally
        {
            await cluster.StopAsync();
            TestDatabase.DeleteTempDirectory(directory);
        }
    }

    [Fact]
    public async Task A_hung_database_gives_callers_unavailable_within_the_command_timeout_and_is_used_again_when_it_resumes()
    {
        // A cluster of its own, frozen with SIGSTOP: connections stay open, nothing answers.
        var directory = TestDatabase.CreateTempDirectory();
        var cluster = await EmbeddedPostgres.StartAsync(Path.Combine(directory, "cluster"));
        try
        {
            var options = new EngineOptions { DatabaseCommandTimeout = TimeSpan.FromSeconds(2), DatabaseConnectTimeout = TimeSpan.FromSeconds(2) };
            await using var engine = await LoyaltyEngine.StartAsync(await cluster.CreateDatabaseAsync("hung"), options, Clock);
            var card = engine.Cards.Card("8500001");
            await card.IssueAsync(ProgramCatalog.DefaultProgramId, null, null);

            (CardErrorCode? Code, TimeSpan Elapsed) whileHung = default;
            await cluster.FreezeAsync(async () => whileHung = await TimedAsync(() => card.AdjustAsync("while-hung", 1, "hung database", "test")));
            output.WriteLine($"a write while the database hung: {whileHung.Code} after {whileHung.Elapsed.TotalMilliseconds:0} ms");
            Assert.Equal(CardErrorCode.Unavailable, whileHung.Code);
            // The command timeout, Npgsql's 2 s to cancel, and slack for a loaded machine; without the bound it waits as long as the database.
            Assert.True(whileHung.Elapsed < TimeSpan.FromSeconds(15), $"the write waited {whileHung.Elapsed.TotalMilliseconds:0} ms");

            // The same operation id once the database answers again: applied once, whether or not the hung attempt had landed.
            var retried = await RetryUntilServedAsync(() => card.AdjustAsync("while-hung", 1, "hung database", "test"));
            Assert.Equal(1, retried.BalanceKopecks);
            Assert.Empty(await engine.CheckInvariantsAsync());
        }
        finally
        {
            await cluster.StopAsync();
            TestDatabase.DeleteTempDirectory(directory);
        }
    }

    private static async Task<T> RetryUntilServedAsync<T>(Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (CardException error) when (error.Code == CardErrorCode.Unavailable && attempt < 20)
            {
                await Task.Delay(250);
            }
        }
    }

    private sealed record Finished(int Index, CardErrorCode? Code, TimeSpan Elapsed);
    private sealed record Outcome(Task<Finished> Finished);

    /// <summary>
    /// Starts <paramref name="calls"/> calls as fast as it can, then waits until <paramref name="untilRefused"/>
    /// of them were refused (bounded), so the caller releases the stall only once the queue is known full.
    /// </summary>
    private static async Task<List<Outcome>> RunConcurrentlyAsync<T>(int calls, Func<int, Task<T>> call, int untilRefused)
    {
        var refused = 0;
        var outcomes = Enumerable.Range(0, calls).Select(i => new Outcome(Task.Run(async () =>
        {
            var (code, elapsed) = await TimedAsync(() => call(i));
            if (code is not null) Interlocked.Increment(ref refused);
            return new Finished(i, code, elapsed);
        }))).ToList();
        var waited = Stopwatch.StartNew();
        while (Volatile.Read(ref refused) < untilRefused && waited.Elapsed < TimeSpan.FromSeconds(30))
            await Task.Delay(10);
        return outcomes;
    }

    /// <summary>Times a call from before it is made: a refusal is thrown before the call's first await.</summary>
    private static async Task<(CardErrorCode? Code, TimeSpan Elapsed)> TimedAsync<T>(Func<Task<T>> call)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await call();
            return (null, Stopwatch.GetElapsedTime(started));
        }
        catch (CardException error)
        {
            return (error.Code, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>Locks a card row from a connection outside the engine's pool until disposed, which stalls the writer's next batch.</summary>
    private async Task<IAsyncDisposable> HoldCardRowAsync(string number)
    {
        var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var command = new NpgsqlCommand("SELECT 1 FROM cards WHERE number = $1 FOR UPDATE", connection, transaction))
        {
            command.Parameters.Add(new NpgsqlParameter { Value = number });
            Assert.Equal(1, await command.ExecuteScalarAsync());
        }
        return new RowLock(connection, transaction);
    }

    private sealed class RowLock(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await transaction.CommitAsync();
            await connection.DisposeAsync();
        }
    }

    /// <summary>Waits (bounded) until a session of this database waits for a row lock: the writer's batch has reached the held row.</summary>
    private async Task WaitUntilWaitingForLockAsync()
    {
        var waited = Stopwatch.StartNew();
        while (await ScalarAsync("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") == 0)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the writer never reached the locked row");
            await Task.Delay(10);
        }
    }

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }
}
