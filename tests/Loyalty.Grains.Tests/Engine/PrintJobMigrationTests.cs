using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Loyalty.Grains.Tests.Support;
using Npgsql;

namespace Loyalty.Grains.Tests.Engine;

/// <summary>Migration 0011: print jobs stored with line amounts before bonus discounts are rewritten to amounts after them.</summary>
public sealed class PrintJobMigrationTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

    private static PrintJob StoredJob(string jobId, long sequence, IReadOnlyList<ReceiptLine> lines, IReadOnlyList<PrintLineDetail> details, long paid) => new(
        jobId, sequence,
        new PrintJobRequest($"op-{jobId}", "OFFICE-1", new Receipt(new ReceiptRef("W1", "DRIVER-1", 1, sequence), lines), sequence == 1 ? Card.HoldIdFor("2000001", "hold-op") : null, null,
            details, [new PrintPayment(PrintPaymentKind.Card, paid)], null, ReceiptDeliveryKind.Paper, false, "key-1"),
        PrintJobState.Queued, "Queued for the office register.", null, null, BonusSettlement.None, null, $"token-{jobId}", 0, Now, Now);

    [Fact]
    public async Task A_job_queued_by_the_build_before_prints_the_same_figures_after_the_upgrade_and_a_job_without_bonuses_is_untouched()
    {
        await using var dataSource = NpgsqlDataSource.Create(await TestDatabase.CreateAsync("print_migration"));
        await Migrator.ApplyAsync(dataSource);
        var store = new PrintJobStore(dataSource);
        // As the build before stored them: amounts before the discount, the discount beside them.
        var withBonuses = StoredJob("pj_old", 1,
            [new ReceiptLine("WATER19", "water", "Вода", 3000, 350_00, 1050_00), new ReceiptLine("PUMP", "goods", "Помпа", 1000, 333_33, 333_33)],
            [new PrintLineDetail("WATER19", 100_00, PrintVat.Vat20), new PrintLineDetail("PUMP", 50_00, PrintVat.None)], 1233_33);
        var withoutBonuses = StoredJob("pj_plain", 2, [new ReceiptLine("WATER19", "water", "Вода", 1000, 350_00, 350_00)], [new PrintLineDetail("WATER19", 0, PrintVat.Vat20)], 350_00);
        await store.TryInsertManyAsync([withBonuses, withoutBonuses], CancellationToken.None);
        await using (var forget = dataSource.CreateCommand("DELETE FROM schema_version WHERE version = '0011_print_amounts_after_bonuses'"))
            Assert.Equal(1, await forget.ExecuteNonQueryAsync());

        Assert.Equal(["0011_print_amounts_after_bonuses"], await Migrator.ApplyAsync(dataSource));

        var upgraded = (await store.LoadAsync("pj_old", CancellationToken.None))!.Request;
        Assert.Equal([950_00L, 283_33L], upgraded.Receipt.Lines.Select(l => l.AmountKopecks));
        Assert.Equal([("WATER19", 3000L, 350_00L), ("PUMP", 1000L, 333_33L)], upgraded.Receipt.Lines.Select(l => (l.Sku, l.QuantityMilli, l.PriceKopecks)));
        Assert.Equal(upgraded.Payments.Sum(p => p.AmountKopecks), upgraded.Receipt.TotalKopecks);
        Assert.True(upgraded.LoyaltyReceipt().SameAs(withBonuses.Request.Receipt));
        PrintQueue.Validate(upgraded);
        var plain = (await store.LoadAsync("pj_plain", CancellationToken.None))!.Request;
        Assert.Equal(PrintJobStore.SubmitKey(withoutBonuses.Request), PrintJobStore.SubmitKey(plain));
    }

    [Fact]
    public async Task Migration_0014_keeps_the_first_job_of_a_sale_the_build_before_queued_twice_fails_the_waiting_duplicate_without_touching_the_hold_and_refuses_a_third()
    {
        await using var dataSource = NpgsqlDataSource.Create(await TestDatabase.CreateAsync("print_migration_0014"));
        await Migrator.ApplyAsync(dataSource);
        var store = new PrintJobStore(dataSource);
        await Execute(dataSource, "DROP INDEX print_jobs_one_per_sale");
        IReadOnlyList<ReceiptLine> lines = [new ReceiptLine("WATER19", "water", "Вода", 1000, 350_00, 350_00)];
        IReadOnlyList<PrintLineDetail> details = [new PrintLineDetail("WATER19", 0, PrintVat.Vat20)];
        // The build before accepted the same receipt under two operation ids; a third job of it failed; a copy repeats it.
        // Receipt W1/DRIVER-1/1/1 each time; the queue positions differ.
        var first = StoredJob("pj_first", 1, lines, details, 350_00);
        var second = StoredJob("pj_second", 1, lines, details, 350_00) with { Sequence = 2, SubmittedAt = Now.AddMinutes(1) };
        var failed = StoredJob("pj_failed", 1, lines, details, 350_00) with { Sequence = 3, State = PrintJobState.Failed, SubmittedAt = Now.AddMinutes(-5) };
        var copy = StoredJob("pj_copy", 1, lines, details, 350_00) with { Sequence = 4, Request = first.Request with { OperationId = "op-copy", HoldId = null, ReprintOf = "pj_first" } };
        var inserted = await store.TryInsertManyAsync([first with { Request = first.Request with { OperationId = "op-a" } }, second with { Request = second.Request with { OperationId = "op-b" } },
            failed with { Request = failed.Request with { OperationId = "op-c" } }, copy], CancellationToken.None);
        Assert.All(inserted, Assert.True);
        await Execute(dataSource, "DROP INDEX print_jobs_by_hold; ALTER TABLE print_jobs DROP COLUMN receipt_ref, DROP COLUMN hold_id; " +
            "DELETE FROM schema_version WHERE version = '0014_one_print_job_per_sale'");

        Assert.Equal(["0014_one_print_job_per_sale"], await Migrator.ApplyAsync(dataSource));

        Assert.Equal("pj_first", (await store.LoadSaleAsync("W1", "DRIVER-1/1/1", CancellationToken.None))?.JobId);
        var duplicate = (await store.LoadAsync("pj_second", CancellationToken.None))!;
        Assert.Equal((PrintJobState.Failed, BonusSettlement.None, BonusStep.None), (duplicate.State, duplicate.Bonuses, duplicate.OwedBonusStep));
        Assert.Contains("already print job pj_first", duplicate.Message);
        Assert.Equal(PrintJobState.Queued, (await store.LoadAsync("pj_copy", CancellationToken.None))!.State);
        await using (var holds = dataSource.CreateCommand("SELECT count(*) FROM print_jobs WHERE hold_id IS NOT NULL"))
            Assert.Equal(3L, await holds.ExecuteScalarAsync());   // first, second and the failed one; not the copy
        var third = StoredJob("pj_third", 1, lines, details, 350_00) with { Sequence = 5, SubmittedAt = Now.AddMinutes(2) };
        var thirdInserted = await store.TryInsertManyAsync([third with { Request = third.Request with { OperationId = "op-d" } }], CancellationToken.None);
        Assert.False(Assert.Single(thirdInserted));
        var otherSale = StoredJob("pj_other", 2, lines, details, 350_00) with { Sequence = 6 };
        Assert.True(Assert.Single(await store.TryInsertManyAsync([otherSale], CancellationToken.None)));
    }

    private static async Task Execute(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }
}
