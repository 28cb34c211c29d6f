using System.Text.Json.Nodes;
using Loyalty.Api.Tests.Support;
using Loyalty.AtolEmulator;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Fiscal;
using Loyalty.PosAdapter.Office;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests;

/// <summary>
/// One office register for many delivery drivers (issue 13 point 4), end to end: drivers' pos keys
/// submit to the real server, the office adapter prints on an emulated ATOL web server and reports
/// back, drivers read the fiscal data; bonuses held for a sale are committed once when it is done
/// and given back when it fails; every receipt is fiscalised exactly once, counted from the
/// emulator's fiscal drive, across killed adapters and printer faults.
/// </summary>
public sealed class OfficeRegisterTests(ServerFixture server) : IClassFixture<ServerFixture>, IAsyncLifetime
{
    private const string Office = "OFFICE-1";
    private AtolWebServerEmulator _printer = null!;
    private string _journal = "";
    private string _store = "";
    private LoyaltyClient _admin = null!;
    private LoyaltyClient _driver = null!;
    private LoyaltyClient _office = null!;

    public async Task InitializeAsync()
    {
        _printer = await AtolWebServerEmulator.StartAsync();
        _journal = Path.Combine(Path.GetTempPath(), "loyalty-office-" + Guid.NewGuid().ToString("N"));
        _store = "W" + Guid.NewGuid().ToString("N")[..8];
        _admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        _driver = await PosClientAsync(_store, "driver 1");
        _office = await PosClientAsync(_store, "office register", officeRegister: Office);
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        _web.Dispose();
        _driver.Dispose();
        _office.Dispose();
        await _printer.DisposeAsync();
        if (Directory.Exists(_journal)) Directory.Delete(_journal, recursive: true);
    }

    /// <summary>A pos key's client: a driver's, or with <paramref name="officeRegister"/> that office register's own.</summary>
    private async Task<LoyaltyClient> PosClientAsync(string store, string name, HttpMessageHandler? handler = null, string? officeRegister = null)
    {
        var key = (await _admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = "pos", StoreId = store, Name = name, OfficeRegisterId = officeRegister ?? "" })).ApiKey;
        var options = new LoyaltyClientOptions { Address = server.GrpcAddress, ApiKey = key, DefaultTimeout = TimeSpan.FromSeconds(30) };
        return handler is null ? new LoyaltyClient(options) : new LoyaltyClient(options, handler);
    }

    private OfficeAdapterOptions AdapterOptions => new()
    {
        StoreId = _store, RegisterId = Office,
        Printer = new AtolDriverOptions
        {
            BaseAddress = _printer.BaseAddress, DataDirectory = _journal,
            RequestTimeout = TimeSpan.FromSeconds(1), PollInterval = TimeSpan.FromMilliseconds(40), MaxWait = TimeSpan.FromSeconds(3),
        },
        ReconnectDelay = TimeSpan.FromMilliseconds(100), RetryInterval = TimeSpan.FromMilliseconds(100), ReportAttempts = 3,
    };

    /// <summary>An office adapter running in the background; disposing it plays a kill (its calls cancelled, its journal closed).</summary>
    private sealed class RunningAdapter : IAsyncDisposable
    {
        public required OfficeAdapter Adapter { get; init; }
        public required CancellationTokenSource Kill { get; init; }
        public required Task Run { get; init; }

        public async ValueTask DisposeAsync()
        {
            Kill.Cancel();
            try { await Run; } catch (Exception) { /* a killed process leaves whatever it was doing */ }
            await Adapter.DisposeAsync();
        }
    }

    private RunningAdapter StartAdapter(LoyaltyClient? client = null, HttpMessageHandler? printerHandler = null, CancellationTokenSource? kill = null)
    {
        kill ??= new CancellationTokenSource();
        var adapter = OfficeAdapter.Open(AdapterOptions, client ?? _office, printerHandler);
        return new RunningAdapter { Adapter = adapter, Kill = kill, Run = Task.Run(() => adapter.RunAsync(kill.Token)) };
    }

    private SubmitReceiptRequest Sale(string operationId, long amountKopecks, long receiptNumber)
    {
        var request = new SubmitReceiptRequest
        {
            OperationId = operationId, OfficeRegisterId = Office, Delivery = ReceiptDelivery.Paper,
            Receipt = new Receipt { Ref = new ReceiptRef { StoreId = _store, RegisterId = "DRIVER-1", ShiftNumber = 1, ReceiptNumber = receiptNumber } },
        };
        request.Receipt.Lines.Add(new ReceiptLine { Sku = "WATER19", Category = "water", Name = "Вода питьевая 19 л", QuantityMilli = 1000, Price = amountKopecks, Amount = amountKopecks });
        request.Lines.Add(new FiscalLineDetail { Sku = "WATER19", Vat = VatRateKind.Vat20 });
        request.Payments.Add(new FiscalPaymentPart { Type = FiscalPaymentKind.Cash, Amount = amountKopecks });
        return request;
    }

    /// <summary>Reads the job until it is in one of <paramref name="states"/>; a bounded number of reads, not a time limit on the test.</summary>
    private async Task<PrintJob> UntilAsync(string jobId, params PrintJobState[] states)
    {
        PrintJob job = null!;
        for (var round = 0; round < 600; round++)
        {
            job = await _driver.GetPrintJobAsync(jobId);
            if (states.Contains(job.State)) return job;
            await Task.Delay(50);
        }
        Assert.Fail($"Job {jobId} stayed {job.State} ({job.Message}).");
        return job;
    }

    [Fact]
    public async Task Sales_of_several_drivers_are_fiscalised_once_each_in_submission_order_and_each_driver_reads_its_fiscal_data()
    {
        using var second = await PosClientAsync(_store, "driver 2");
        var jobs = new List<PrintJob>();
        for (var i = 0; i < 6; i++)
            jobs.Add(await (i % 2 == 0 ? _driver : second).SubmitReceiptAsync(Sale($"sale-{i}", 1000_00 + i, i + 1)));
        Assert.All(jobs, j => Assert.Equal(PrintJobState.Queued, j.State));

        await using (StartAdapter())
        {
            foreach (var job in jobs) await UntilAsync(job.JobId, PrintJobState.Done);
        }

        var done = new List<PrintJob>();
        foreach (var job in jobs) done.Add(await _driver.GetPrintJobAsync(job.JobId));
        Assert.Equal(6, _printer.Receipts.Count);
        foreach (var job in done)
        {
            var document = Assert.Single(_printer.Receipts, d => d.FiscalDocumentNumber == job.FiscalDocumentNumber);
            Assert.Equal((document.FiscalSign, document.TotalKopecks), (job.FiscalSign, job.Total));
            Assert.Equal(FnsQrCode.Build(new FnsQrFields(document.DateTime.DateTime, document.TotalKopecks, job.FnNumber, document.FiscalDocumentNumber, document.FiscalSign, FiscalOperation.Sell)), job.QrCode);
        }
        // The queue's order is the register's order.
        Assert.Equal(done.OrderBy(j => j.Sequence).Select(j => j.JobId), done.OrderBy(j => j.FiscalDocumentNumber).Select(j => j.JobId));
    }

    [Fact]
    public async Task Drivers_on_another_server_of_the_cluster_reach_the_same_register_queue_and_each_sale_is_fiscalised_once()
    {
        // A second server on the same database: one Orleans cluster, so the register's PrintQueueGrain is
        // one, whichever server the drivers and the office adapter talk to.
        var directory = Loyalty.Grains.Tests.Support.TestDatabase.CreateTempDirectory();
        try
        {
            await using var other = await Loyalty.Silo.LoyaltyServer.StartAsync([], new Dictionary<string, string?>
            {
                [Loyalty.Silo.SiloOptions.DataDirectoryVariable] = directory,
                [Loyalty.Silo.SiloOptions.DatabaseVariable] = server.Server.Options.ConnectionString,
                [Loyalty.Silo.SiloOptions.GrpcUrlVariable] = "http://127.0.0.1:0",
                [Loyalty.Silo.SiloOptions.HttpUrlVariable] = "http://127.0.0.1:0",
                [Loyalty.Silo.SiloOptions.SiloPortVariable] = "0",
            });
            var key = (await _admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = "pos", StoreId = _store, Name = "driver on the other server" })).ApiKey;
            using var remote = LoyaltyClient.Create(other.GrpcAddress.ToString(), key, TimeSpan.FromSeconds(30));
            var jobs = new List<PrintJob>();
            for (var i = 0; i < 4; i++)
                jobs.Add(await (i % 2 == 0 ? remote : _driver).SubmitReceiptAsync(Sale($"two-servers-{i}", 300_00 + i, 50 + i)));
            Assert.Equal(jobs.Count, jobs.Select(j => j.Sequence).Distinct().Count());

            await using (StartAdapter())
            {
                foreach (var job in jobs) await UntilAsync(job.JobId, PrintJobState.Done);
            }
            Assert.Equal(4, _printer.Receipts.Count);
            Assert.Equal(PrintJobState.Done, (await remote.GetPrintJobAsync(jobs[0].JobId)).State);
        }
        finally
        {
            Loyalty.Grains.Tests.Support.TestDatabase.DeleteTempDirectory(directory);
        }
    }

    [Fact]
    public async Task Submitting_again_with_the_same_operation_id_answers_the_same_job_and_another_receipt_under_it_is_refused()
    {
        var first = await _driver.SubmitReceiptAsync(Sale("same-op", 500_00, 1));
        var again = await _driver.SubmitReceiptAsync(Sale("same-op", 500_00, 1));
        var refused = await Assert.ThrowsAsync<RpcException>(() => _driver.SubmitReceiptAsync(Sale("same-op", 600_00, 1)));

        Assert.Equal(first.JobId, again.JobId);
        Assert.Equal(first.Sequence, again.Sequence);
        Assert.Equal(StatusCode.AlreadyExists, refused.StatusCode);
    }

    [Fact]
    public async Task A_burst_of_submits_with_retries_among_them_makes_one_job_per_operation_id_in_one_queue_order()
    {
        var submits = Enumerable.Range(0, 40).Select(i => Task.Run(() => _driver.SubmitReceiptAsync(i % 2 == 0 ? Sale("burst-same", 999_00, 1) : Sale($"burst-{i}", 100_00 + i, i + 1)))).ToList();
        var jobs = await Task.WhenAll(submits);

        var same = jobs.Where((_, i) => i % 2 == 0).Select(j => j.JobId).Distinct();
        Assert.Single(same);
        Assert.Equal(21, jobs.Select(j => j.JobId).Distinct().Count());
        Assert.Equal(21, jobs.DistinctBy(j => j.JobId).Select(j => j.Sequence).Distinct().Count());
    }

    [Fact]
    public async Task Payments_that_do_not_add_up_to_the_receipt_after_bonuses_are_refused_and_nothing_is_queued()
    {
        var sale = Sale("bad-sum", 500_00, 1);
        sale.Payments[0].Amount = 400_00;

        var refused = await Assert.ThrowsAsync<RpcException>(() => _driver.SubmitReceiptAsync(sale));
        var fixedSale = Sale("bad-sum", 500_00, 1);
        var job = await _driver.SubmitReceiptAsync(fixedSale);

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("payments add up to 40000 kopecks", refused.Message);
        Assert.Equal(PrintJobState.Queued, job.State);
    }

    [Theory]
    [InlineData("7707083894", "customer.inn '7707083894' is not a valid INN")]
    [InlineData("770708389", "customer.inn '770708389' is not a valid INN")]
    [InlineData("500100732258", "customer.inn '500100732258' is not a valid INN")]
    public async Task A_buyer_INN_that_fails_its_control_digits_is_refused_at_submit_and_nothing_is_queued(string inn, string expected)
    {
        var sale = Sale("bad-inn-" + inn, 500_00, 1);
        sale.Customer = new FiscalCustomerInfo { Name = "ООО Ромашка", Inn = inn };

        var refused = await Assert.ThrowsAsync<RpcException>(() => _driver.SubmitReceiptAsync(sale));
        sale.Customer.Inn = "7707083893";
        var job = await _driver.SubmitReceiptAsync(sale);

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains(expected, refused.Message);
        Assert.Equal(PrintJobState.Queued, job.State);
    }

    [Fact]
    public async Task A_driver_of_another_store_can_neither_submit_to_the_office_register_nor_read_its_jobs()
    {
        var job = await _driver.SubmitReceiptAsync(Sale("mine", 100_00, 1));
        using var stranger = await PosClientAsync("OTHER-" + _store, "someone else's driver");
        var sale = Sale("theirs", 100_00, 2);

        var submit = await Assert.ThrowsAsync<RpcException>(() => stranger.SubmitReceiptAsync(sale));
        var read = await Assert.ThrowsAsync<RpcException>(() => stranger.GetPrintJobAsync(job.JobId));

        Assert.Equal(StatusCode.PermissionDenied, submit.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, read.StatusCode);
    }

    /// <summary>
    /// A card with 100 roubles, a hold of <paramref name="bonusKopecks"/> for a two-line receipt, and
    /// the sale as the driver submits it: line amounts after the hold's discounts (RedeemReply.lines),
    /// payments for the rest; <paramref name="nameDiscounts"/> also repeats each discount in lines[].
    /// </summary>
    private async Task<(string Card, RedeemReply Hold, SubmitReceiptRequest Sale)> BonusSaleAsync(string operationId, long bonusKopecks, bool nameDiscounts = true)
    {
        var card = "C" + Guid.NewGuid().ToString("N")[..12];
        await _admin.IssueCardAsync(new IssueCardRequest { CardNumber = card });
        await _admin.AdjustAsync(new AdjustRequest { OperationId = card + "-open", CardNumber = card, Amount = 100_00, Reason = "opening balance" });
        var sale = new SubmitReceiptRequest
        {
            OperationId = operationId, OfficeRegisterId = Office, Delivery = ReceiptDelivery.Paper,
            Receipt = new Receipt { Ref = new ReceiptRef { StoreId = _store, RegisterId = "DRIVER-1", ShiftNumber = 2, ReceiptNumber = 7 } },
            Customer = new FiscalCustomerInfo { Name = "ООО Ромашка", Inn = "7707083893", DeliveryAddress = new DeliveryAddressContacts { OfdContact = "-", Phones = { "8 (495) 123-45-67", "8 916 123-45-67" } } },
        };
        sale.Receipt.Lines.Add(new ReceiptLine { Sku = "WATER19", Category = "water", Name = "Вода 19 л", QuantityMilli = 3000, Price = 350_00, Amount = 1050_00 });
        sale.Receipt.Lines.Add(new ReceiptLine { Sku = "PUMP", Category = "goods", Name = "Помпа", QuantityMilli = 1000, Price = 333_33, Amount = 333_33 });
        var hold = await _driver.RedeemAsync(new RedeemRequest { OperationId = operationId + "-hold", CardNumber = card, Receipt = sale.Receipt.Clone(), Amount = bonusKopecks });
        sale.HoldId = hold.HoldId;
        foreach (var line in hold.Lines)
        {
            sale.Receipt.Lines.Single(l => l.Sku == line.Sku).Amount = line.AmountAfter;
            sale.Lines.Add(new FiscalLineDetail { Sku = line.Sku, BonusDiscount = nameDiscounts ? line.Discount : 0, Vat = VatRateKind.Vat20 });
        }
        sale.Payments.Add(new FiscalPaymentPart { Type = FiscalPaymentKind.Card, Amount = 1050_00 + 333_33 - hold.Amount });
        return (card, hold, sale);
    }

    [Fact]
    public async Task A_sale_with_held_bonuses_prints_them_as_exact_line_discounts_commits_the_hold_once_and_names_the_contact_the_rule_chose()
    {
        var (card, hold, sale) = await BonusSaleAsync("bonus-sale", 77_77);
        var job = await _driver.SubmitReceiptAsync(sale);

        await using (StartAdapter()) job = await UntilAsync(job.JobId, PrintJobState.Done);
        var again = await _office.ReportPrintResultAsync(OfficeAdapter.ToReport(job.JobId, new FiscalOutcome("x", FiscalState.Printed,
            new FiscalData(job.FiscalDocumentNumber, job.FiscalSign, job.FnNumber, (int)job.ShiftNumber, (int)job.FiscalReceiptNumber, DateTimeOffset.Parse(job.DocumentDateTime), job.Total, "", ""), "")));

        var printed = Assert.Single(_printer.Receipts);
        var items = printed.Task["items"]!.AsArray().Select(i => i!.AsObject()).Where(i => (string?)i["type"] == "position").ToList();
        var printedSum = items.Sum(i => FiscalAmount.FromRoubles(i["amount"]));
        Assert.Equal(1050_00 + 333_33 - 77_77, printedSum);
        Assert.Equal(1050_00 + 333_33 - 77_77, printed.TotalKopecks);
        Assert.Equal(hold.Lines.Select(l => l.AmountAfter).Sum(), printedSum);
        Assert.Equal("+79161234567", job.ContactUsed);
        Assert.Equal("committed", again.Bonuses);
        var balance = await _admin.GetCardAsync(card);
        Assert.Equal(0, balance.Held);
        var statement = await _admin.GetStatementAsync(new GetStatementRequest { CardNumber = card, PageSize = 50 });
        Assert.Single(statement.Entries, e => e.Kind == LedgerKind.HoldPost);
        Assert.Equal(100_00 - 77_77, statement.Entries.Where(e => e.Kind is LedgerKind.HoldPost or LedgerKind.Adjustment).Sum(e => e.Amount));
    }

    [Fact]
    public async Task A_sale_that_leaves_the_discounts_to_the_server_prints_the_own_discount_of_the_hold_on_each_line()
    {
        var (_, hold, sale) = await BonusSaleAsync("discounts-from-hold", 12_34, nameDiscounts: false);
        var job = await _driver.SubmitReceiptAsync(sale);

        await using (StartAdapter()) job = await UntilAsync(job.JobId, PrintJobState.Done);

        var printed = Assert.Single(_printer.Receipts);
        var items = printed.Task["items"]!.AsArray().Select(i => i!.AsObject()).Where(i => (string?)i["type"] == "position").ToList();
        Assert.Equal(hold.Lines.Select(l => l.AmountAfter).Sum(), items.Sum(i => FiscalAmount.FromRoubles(i["amount"])));
        Assert.Equal(1050_00 + 333_33 - 12_34, printed.TotalKopecks);
        for (var round = 0; round < 100 && job.Bonuses != "committed"; round++) { await Task.Delay(50); job = await _driver.GetPrintJobAsync(job.JobId); }
        Assert.Equal("committed", job.Bonuses);
    }

    [Fact]
    public async Task A_sale_sent_with_line_amounts_before_bonuses_is_refused_naming_the_line_and_nothing_is_queued_or_booked()
    {
        var (card, hold, sale) = await BonusSaleAsync("amounts-before", 40_00);
        var before = sale.Clone();
        foreach (var line in hold.Lines) before.Receipt.Lines.Single(l => l.Sku == line.Sku).Amount = line.AmountAfter + line.Discount;
        before.Payments[0].Amount = 1050_00 + 333_33;

        var refused = await Assert.ThrowsAsync<RpcException>(() => _driver.SubmitReceiptAsync(before));
        var wrongDiscount = sale.Clone();
        wrongDiscount.Lines[0].BonusDiscount += 1;
        var refusedDiscount = await Assert.ThrowsAsync<RpcException>(() => _driver.SubmitReceiptAsync(wrongDiscount));

        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("line 1 of receipt", refused.Message);
        Assert.Contains("after bonus discounts", refused.Message);
        Assert.Equal(StatusCode.InvalidArgument, refusedDiscount.StatusCode);
        Assert.Contains($"hold {hold.HoldId} put", refusedDiscount.Message);
        var balance = await _admin.GetCardAsync(card);
        Assert.Equal(40_00, balance.Held);
        // The right receipt under the same operation id is still a new job: the refusals stored nothing.
        var job = await _driver.SubmitReceiptAsync(sale);
        Assert.Equal(PrintJobState.Queued, job.State);
    }

    [Fact]
    public async Task A_sale_whose_hold_was_cancelled_is_refused_before_it_is_queued()
    {
        var (_, hold, sale) = await BonusSaleAsync("hold-gone", 10_00);
        await _driver.CancelAsync(new CancelRequest { OperationId = "hold-gone-cancel", HoldId = hold.HoldId });

        var refused = await Assert.ThrowsAsync<RpcException>(() => _driver.SubmitReceiptAsync(sale));

        Assert.Equal(StatusCode.FailedPrecondition, refused.StatusCode);
        Assert.Contains("cancelled", refused.Message);
        var next = await _driver.SubmitReceiptAsync(Sale("after-hold-gone", 100_00, 98));
        await using (StartAdapter()) await UntilAsync(next.JobId, PrintJobState.Done);
        Assert.Equal(100_00, Assert.Single(_printer.Receipts).TotalKopecks);
    }

    [Fact]
    public async Task A_sale_already_queued_is_refused_under_another_operation_id_naming_the_first_job_and_may_be_submitted_again_once_that_job_failed()
    {
        var first = await _driver.SubmitReceiptAsync(Sale("sale-once-a", 300_00, 41));
        var refused = await Assert.ThrowsAsync<RpcException>(() => _driver.SubmitReceiptAsync(Sale("sale-once-b", 300_00, 41)));
        _printer.FailNextTask(task => (string?)task["type"] == "sell", 66, "Неверная цена");
        await using (StartAdapter()) await UntilAsync(first.JobId, PrintJobState.Failed);
        var resubmitted = await _driver.SubmitReceiptAsync(Sale("sale-once-c", 300_00, 41));

        Assert.Equal(StatusCode.AlreadyExists, refused.StatusCode);
        Assert.Contains($"already print job {first.JobId}", refused.Message);
        Assert.Equal(PrintJobState.Queued, resubmitted.State);
        Assert.Empty(_printer.Receipts);
    }

    [Fact]
    public async Task Only_the_office_registers_own_key_takes_its_feed_and_reports_its_results_and_a_report_must_match_what_was_handed_out()
    {
        var job = await _driver.SubmitReceiptAsync(Sale("office-only", 120_00, 42));
        using var otherOffice = await PosClientAsync(_store, "office register 2", officeRegister: "OFFICE-2");
        var done = new ReportPrintResultRequest
        {
            JobId = job.JobId, Outcome = PrintOutcome.Done, FiscalDocumentNumber = 1, FiscalSign = "123", FnNumber = "1", Total = 120_00,
        };

        var driverFeed = await Assert.ThrowsAsync<RpcException>(async () => { await foreach (var _ in _driver.ReceivePrintJobsAsync(_store, Office)) break; });
        var otherFeed = await Assert.ThrowsAsync<RpcException>(async () => { await foreach (var _ in otherOffice.ReceivePrintJobsAsync(_store, Office)) break; });
        var driverReport = await Assert.ThrowsAsync<RpcException>(() => _driver.ReportPrintResultAsync(done));
        var neverHandedOut = await Assert.ThrowsAsync<RpcException>(() => _office.ReportPrintResultAsync(done));
        await foreach (var task in _office.ReceivePrintJobsAsync(_store, Office)) { Assert.Equal(job.JobId, task.JobId); break; }
        var wrongTotal = await Assert.ThrowsAsync<RpcException>(() => _office.ReportPrintResultAsync(new ReportPrintResultRequest(done) { Total = 1 }));
        var read = await _driver.GetPrintJobAsync(job.JobId);

        Assert.Equal([StatusCode.PermissionDenied, StatusCode.PermissionDenied, StatusCode.PermissionDenied],
            new[] { driverFeed.StatusCode, otherFeed.StatusCode, driverReport.StatusCode });
        Assert.Contains("a driver's key", driverFeed.Message);
        Assert.Equal(StatusCode.FailedPrecondition, neverHandedOut.StatusCode);
        Assert.Contains("never handed to the office register", neverHandedOut.Message);
        Assert.Equal(StatusCode.FailedPrecondition, wrongTotal.StatusCode);
        Assert.Contains("gives a total of 1 kopecks, but its receipt comes to 12000", wrongTotal.Message);
        Assert.Equal(PrintJobState.Printing, read.State);
        Assert.Equal(0, read.FiscalDocumentNumber);
    }

    [Fact]
    public async Task A_hold_its_print_job_owns_can_be_neither_cancelled_nor_committed_by_hand_and_the_job_commits_it_once_printed()
    {
        var (card, hold, sale) = await BonusSaleAsync("bound-hold", 20_00);
        var job = await _driver.SubmitReceiptAsync(sale);

        var cancel = await Assert.ThrowsAsync<RpcException>(() => _driver.CancelAsync(new CancelRequest { OperationId = "bound-hold-cancel", HoldId = hold.HoldId }));
        var heldReceipt = new Receipt { Ref = sale.Receipt.Ref };
        heldReceipt.Lines.AddRange(sale.Receipt.Lines.Select(l => new ReceiptLine(l) { Amount = l.Amount + hold.Lines.Single(h => h.Sku == l.Sku).Discount }));
        var commit = await Assert.ThrowsAsync<RpcException>(() => _driver.CommitAsync(new CommitRequest { OperationId = "bound-hold-commit", CardNumber = card, HoldId = hold.HoldId, Receipt = heldReceipt }));
        var forged = await Assert.ThrowsAsync<RpcException>(() => _driver.CommitAsync(new CommitRequest { OperationId = $"print-commit:{job.JobId}", CardNumber = card, HoldId = hold.HoldId, Receipt = heldReceipt }));

        await using (StartAdapter()) job = await UntilAsync(job.JobId, PrintJobState.Done);
        for (var round = 0; round < 100 && job.Bonuses != "committed"; round++) { await Task.Delay(50); job = await _driver.GetPrintJobAsync(job.JobId); }

        Assert.Equal(StatusCode.FailedPrecondition, cancel.StatusCode);
        Assert.Contains($"belongs to print job {job.JobId}", cancel.Message);
        Assert.Equal(StatusCode.FailedPrecondition, commit.StatusCode);
        Assert.Contains("cannot be committed by hand", commit.Message);
        Assert.Equal(StatusCode.InvalidArgument, forged.StatusCode);

        Assert.Equal("committed", job.Bonuses);
        Assert.Equal(0, (await _admin.GetCardAsync(card)).Held);
    }

    [Fact]
    public async Task A_sale_the_register_would_refuse_or_could_not_book_is_refused_at_submit()
    {
        var wrongPrice = Sale("wrong-price", 100_00, 43);
        wrongPrice.Receipt.Lines[0].Amount = 0;
        wrongPrice.Payments.Clear();
        var unknownCard = Sale("unknown-card", 100_00, 44);
        unknownCard.CardNumber = "9999999";
        using var otherStore = await PosClientAsync("OTHER-" + _store, "other store's driver");
        var theirCard = "C" + Guid.NewGuid().ToString("N")[..12];
        await _admin.IssueCardAsync(new IssueCardRequest { CardNumber = theirCard });
        await _admin.AdjustAsync(new AdjustRequest { OperationId = theirCard + "-open", CardNumber = theirCard, Amount = 50_00, Reason = "opening balance" });
        var theirs = new Receipt { Ref = new ReceiptRef { StoreId = "OTHER-" + _store, RegisterId = "DRIVER-1", ShiftNumber = 1, ReceiptNumber = 45 } };
        theirs.Lines.Add(new ReceiptLine { Sku = "WATER19", Category = "water", Name = "Вода", QuantityMilli = 1000, Price = 100_00, Amount = 100_00 });
        var theirHold = await otherStore.RedeemAsync(new RedeemRequest { OperationId = "their-hold-" + _store, CardNumber = theirCard, Receipt = theirs, Amount = 10_00 });
        var borrowed = Sale("borrowed-hold", 100_00, 45);
        borrowed.HoldId = theirHold.HoldId;

        var price = await Assert.ThrowsAsync<RpcException>(() => _driver.SubmitReceiptAsync(wrongPrice));
        var card = await Assert.ThrowsAsync<RpcException>(() => _driver.SubmitReceiptAsync(unknownCard));
        var hold = await Assert.ThrowsAsync<RpcException>(() => _driver.SubmitReceiptAsync(borrowed));

        Assert.Equal(StatusCode.InvalidArgument, price.StatusCode);
        Assert.Contains("is not its amount before bonuses", price.Message);
        Assert.Equal(StatusCode.NotFound, card.StatusCode);
        Assert.Equal(StatusCode.PermissionDenied, hold.StatusCode);
        Assert.DoesNotContain("OTHER-", hold.Message.Replace($"store {_store}", ""));
    }

    [Fact]
    public async Task A_sale_the_register_refuses_for_good_fails_and_its_held_bonuses_go_back_to_the_card()
    {
        var (card, _, sale) = await BonusSaleAsync("refused-sale", 50_00);
        _printer.FailNextTask(task => (string?)task["type"] == "sell", 66, "Неверная цена");
        var job = await _driver.SubmitReceiptAsync(sale);

        await using (StartAdapter()) job = await UntilAsync(job.JobId, PrintJobState.Failed);
        for (var round = 0; round < 100 && job.Bonuses != "cancelled"; round++) { await Task.Delay(50); job = await _driver.GetPrintJobAsync(job.JobId); }

        Assert.Empty(_printer.Receipts);
        Assert.Equal("cancelled", job.Bonuses);
        var balance = await _admin.GetCardAsync(card);
        Assert.Equal((100_00L, 0L), (balance.Balance, balance.Held));
    }

    [Fact]
    public async Task A_job_without_a_valid_contact_is_printed_on_paper_and_says_why_no_copy_was_sent()
    {
        var sale = Sale("no-contact", 300_00, 3);
        sale.Delivery = ReceiptDelivery.Email;
        sale.Customer = new FiscalCustomerInfo { Email = "none", DeliveryAddress = new DeliveryAddressContacts { OfdContact = "нет", Phones = { "8 495 123-45-67" } } };
        var job = await _driver.SubmitReceiptAsync(sale);

        await using (StartAdapter()) job = await UntilAsync(job.JobId, PrintJobState.Done);

        Assert.Equal("", job.ContactUsed);
        Assert.Contains("no copy is sent", job.Message);
        Assert.Contains("printed on paper", job.Message);
        Assert.False((bool?)Assert.Single(_printer.Receipts).Task["electronically"] ?? false);
    }

    private readonly HttpClient _web = new();

    private async Task<HttpResponseMessage> GetAsync(string path) => await _web.GetAsync(new Uri(server.Server.HttpAddress, path));

    /// <summary>Reads a QR code from a PNG the way a phone would: pixels to luminance, then ZXing's reader.</summary>
    private static string DecodeQrPng(byte[] png)
    {
        var image = StbImageSharp.ImageResult.FromMemory(png, StbImageSharp.ColorComponents.RedGreenBlue);
        var rgb = image.Data;
        var reader = new ZXing.BarcodeReaderGeneric { Options = { PossibleFormats = [ZXing.BarcodeFormat.QR_CODE] } };
        var result = reader.Decode(new ZXing.RGBLuminanceSource(rgb, image.Width, image.Height, ZXing.RGBLuminanceSource.BitmapFormat.RGB24));
        Assert.NotNull(result);
        return result.Text;
    }

    [Fact]
    public async Task The_receipt_page_behind_its_link_shows_the_fiscal_data_and_its_QR_code_decodes_back_to_them()
    {
        var job = await _driver.SubmitReceiptAsync(Sale("page", 1056_00, 11));
        await using (StartAdapter()) job = await UntilAsync(job.JobId, PrintJobState.Done);
        var document = Assert.Single(_printer.Receipts);

        var page = await (await GetAsync(job.ReceiptUrl)).Content.ReadAsStringAsync();
        var png = await GetAsync(job.ReceiptUrl + "/qr.png");
        var svg = await (await GetAsync(job.ReceiptUrl + "/qr.svg")).Content.ReadAsStringAsync();
        var decoded = FnsQrCode.Parse(DecodeQrPng(await png.Content.ReadAsByteArrayAsync()));

        Assert.Equal(new FnsQrFields(new DateTime(document.DateTime.DateTime.Ticks / TimeSpan.TicksPerMinute * TimeSpan.TicksPerMinute), document.TotalKopecks,
            job.FnNumber, document.FiscalDocumentNumber, document.FiscalSign, FiscalOperation.Sell), decoded);
        Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", png.Headers.CacheControl?.ToString());
        Assert.Contains("<svg", svg);
        Assert.Contains($"data-fd>{document.FiscalDocumentNumber}<", page);
        Assert.Contains($"data-fp>{document.FiscalSign}<", page);
        Assert.Contains("data-total>1056.00<", page);
        Assert.Contains($"data-qr>{System.Net.WebUtility.HtmlEncode(job.QrCode)}<", page);
    }

    [Fact]
    public async Task On_a_phone_the_receipt_page_shows_the_printed_lines_with_their_bonus_discounts_and_a_QR_code_a_reader_decodes_to_the_fiscal_data()
    {
        var (_, hold, sale) = await BonusSaleAsync("phone-page", 55_55);
        var job = await _driver.SubmitReceiptAsync(sale);
        await using (StartAdapter()) job = await UntilAsync(job.JobId, PrintJobState.Done);
        var document = Assert.Single(_printer.Receipts);
        using var phone = new HeadlessChromium(width: 412, height: 1400);

        phone.Driver.Navigate().GoToUrl(new Uri(server.Server.HttpAddress, job.ReceiptUrl));
        var text = phone.Driver.FindElement(OpenQA.Selenium.By.TagName("body")).Text;
        var shot = phone.Screenshot("receipt-page-phone");
        var decoded = FnsQrCode.Parse(DecodeQrPng(shot));

        Assert.Equal("Кассовый чек", phone.Driver.Title);
        foreach (var line in hold.Lines)
        {
            Assert.Contains(FormattableString.Invariant($"{line.AmountAfter / 100m:0.00}"), text);
            Assert.Contains(FormattableString.Invariant($"−{line.Discount / 100m:0.00}"), text);
        }
        Assert.Contains(FormattableString.Invariant($"ИТОГ {(1050_00 + 333_33 - 55_55) / 100m:0.00}"), text);
        Assert.Contains($"ФД {document.FiscalDocumentNumber}", text);
        Assert.Equal(new FnsQrFields(new DateTime(document.DateTime.DateTime.Ticks / TimeSpan.TicksPerMinute * TimeSpan.TicksPerMinute), document.TotalKopecks,
            job.FnNumber, document.FiscalDocumentNumber, document.FiscalSign, FiscalOperation.Sell), decoded);
    }

    [Fact]
    public async Task A_link_that_is_not_a_receipts_is_not_found_whatever_its_shape()
    {
        var job = await _driver.SubmitReceiptAsync(Sale("probe", 100_00, 12));
        var token = job.ReceiptUrl["/receipt/".Length..];
        var wrong = (token[0] == 'A' ? 'B' : 'A') + token[1..];

        Assert.Equal(32, token.Length);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await GetAsync($"/receipt/{wrong}")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await GetAsync("/receipt/short")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await GetAsync($"/receipt/{token}/qr.png")).StatusCode); // not printed yet: no QR
        Assert.Equal(System.Net.HttpStatusCode.OK, (await GetAsync($"/receipt/{token}")).StatusCode);
    }

    [Fact]
    public async Task The_customer_display_shows_the_last_receipts_QR_code_until_the_next_receipt_starts()
    {
        var link = await _office.GetDisplayLinkAsync(new GetDisplayLinkRequest { StoreId = _store, OfficeRegisterId = Office });
        var display = link.Path;
        var before = await (await GetAsync(display)).Content.ReadAsStringAsync();
        var job = await _driver.SubmitReceiptAsync(Sale("display-1", 250_00, 21));
        await using (StartAdapter()) job = await UntilAsync(job.JobId, PrintJobState.Done);

        var shown = System.Text.Json.JsonDocument.Parse(await (await GetAsync(display)).Content.ReadAsStringAsync()).RootElement;
        var image = DecodeQrPng(await (await GetAsync(display + "/qr.png")).Content.ReadAsByteArrayAsync());
        await _driver.SubmitReceiptAsync(Sale("display-2", 260_00, 22));
        var next = await (await GetAsync(display)).Content.ReadAsStringAsync();

        Assert.Contains("\"waiting\"", before);
        Assert.Equal("qr", shown.GetProperty("state").GetString());
        Assert.Equal(job.QrCode, shown.GetProperty("qr").GetString());
        Assert.Equal(job.QrCode, image);
        Assert.Contains("\"waiting\"", next);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await GetAsync(display + "/qr.png")).StatusCode);
    }

    [Fact]
    public async Task The_customer_display_is_read_only_through_its_random_link_which_only_the_office_register_gets_and_rotating_it_ends_the_old_one()
    {
        var job = await _driver.SubmitReceiptAsync(Sale("display-private", 250_00, 31));
        await using (StartAdapter()) job = await UntilAsync(job.JobId, PrintJobState.Done);
        var link = await _office.GetDisplayLinkAsync(new GetDisplayLinkRequest { StoreId = _store, OfficeRegisterId = Office });
        var again = await _office.GetDisplayLinkAsync(new GetDisplayLinkRequest { StoreId = _store, OfficeRegisterId = Office });
        var byDriver = await Assert.ThrowsAsync<RpcException>(() => _driver.GetDisplayLinkAsync(new GetDisplayLinkRequest { StoreId = _store, OfficeRegisterId = Office, Rotate = true }));
        using var stranger = await PosClientAsync("other-" + _store, "stranger");

        var refused = await Assert.ThrowsAsync<RpcException>(() => stranger.GetDisplayLinkAsync(new GetDisplayLinkRequest { StoreId = _store, OfficeRegisterId = Office }));
        var byName = await GetAsync($"/display/{_store}/{Office}");
        var guessed = await GetAsync("/display/" + new string('A', 32));
        var shown = await (await GetAsync(link.Path)).Content.ReadAsStringAsync();
        var rotated = await _office.GetDisplayLinkAsync(new GetDisplayLinkRequest { StoreId = _store, OfficeRegisterId = Office, Rotate = true });

        Assert.Equal(link.Path, again.Path);
        Assert.Equal(StatusCode.PermissionDenied, byDriver.StatusCode);
        Assert.Matches("^/display/[A-Za-z0-9_-]{32}$", link.Path);
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, byName.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, guessed.StatusCode);
        Assert.Equal(job.QrCode, System.Text.Json.JsonDocument.Parse(shown).RootElement.GetProperty("qr").GetString());
        Assert.NotEqual(link.Path, rotated.Path);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await GetAsync(link.Path)).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await GetAsync(rotated.Path + "/qr.svg")).StatusCode);
    }

    private async Task<(int ExitCode, string Output, string Error)> CliAsync(CancellationToken cancellationToken, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Loyalty.PosAdapter.Cli.LoyaltyCommandLine.RunAsync([.. args, "--server", server.GrpcAddress.ToString(), "--key", server.AdminKey],
            new System.CommandLine.InvocationConfiguration { Output = output, Error = error }, cancellationToken);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task The_command_line_submits_a_sale_from_a_file_the_office_adapter_command_prints_it_and_status_shows_both_sides()
    {
        var file = Path.Combine(Path.GetTempPath(), $"sale-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, Google.Protobuf.JsonFormatter.Default.Format(Sale("cli-1", 432_10, 31)));
        using var stop = new CancellationTokenSource();
        var office = CliAsync(stop.Token, "office", "run", "--atol", _printer.BaseAddress.ToString(), "--store", _store, "--register", Office, "--data-dir", _journal);
        try
        {
            var (code, output, error) = await CliAsync(CancellationToken.None, "fiscal", "print", file, "--wait");
            var jobId = output.Split('\n').First(l => l.StartsWith("job ", StringComparison.Ordinal))["job".Length..].Trim();
            var status = await CliAsync(CancellationToken.None, "fiscal", "status", jobId);
            stop.Cancel();
            var (officeCode, officeOutput, _) = await office;
            var journal = await CliAsync(CancellationToken.None, "office", "status", "--store", _store, "--register", Office, "--data-dir", _journal);
            var missing = await CliAsync(CancellationToken.None, "fiscal", "print", file + ".missing");

            Assert.True(code == 0, error);
            Assert.Contains("done", output);
            Assert.True(status.Output.Contains($"FD               {_printer.Receipts.Single().FiscalDocumentNumber}"), status.Output);
            Assert.Contains("432.10", status.Output);
            Assert.Equal(0, officeCode);
            Assert.True(officeOutput.Contains(jobId), officeOutput);
            Assert.Matches(@"printed\s+1\n", journal.Output);
            Assert.NotEqual(0, missing.ExitCode);
            Assert.Contains("no such file", missing.Error);
        }
        finally
        {
            stop.Cancel();
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Print_with_wait_ends_at_needs_attention_with_its_own_exit_code_and_the_job_still_prints_once_the_paper_is_loaded()
    {
        var file = Path.Combine(Path.GetTempPath(), $"sale-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, Google.Protobuf.JsonFormatter.Default.Format(Sale("cli-paper", 120_00, 41)));
        _printer.PaperPresent = false;
        try
        {
            await using (StartAdapter())
            {
                var (code, output, error) = await CliAsync(CancellationToken.None, "fiscal", "print", file, "--wait");
                var jobId = output.Split('\n').First(l => l.StartsWith("job ", StringComparison.Ordinal))["job".Length..].Trim();
                var printedBefore = _printer.Receipts.Count;
                _printer.PaperPresent = true;
                var done = await UntilAsync(jobId, PrintJobState.Done);

                Assert.True(code == Loyalty.PosAdapter.Cli.ExitCodes.NeedsAttention, $"exit {code}: {output}{error}");
                Assert.Matches(@"state\s+needs attention\n", output);
                Assert.Contains("paper", output);
                Assert.Equal(0, printedBefore);
                Assert.Equal(done.FiscalDocumentNumber, _printer.Receipts.Single().FiscalDocumentNumber);
            }
        }
        finally
        {
            _printer.PaperPresent = true;
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_reprint_prints_a_non_fiscal_copy_with_the_same_fiscal_data_and_QR_code_and_no_new_fiscal_document()
    {
        var job = await _driver.SubmitReceiptAsync(Sale("to-copy", 780_00, 41));
        var early = await Assert.ThrowsAsync<RpcException>(() => _driver.ReprintReceiptAsync(new ReprintReceiptRequest { JobId = job.JobId, OperationId = "copy-early" }));
        PrintJob copy;
        await using (StartAdapter())
        {
            job = await UntilAsync(job.JobId, PrintJobState.Done);
            copy = await _driver.ReprintReceiptAsync(new ReprintReceiptRequest { JobId = job.JobId, OperationId = "copy-1" });
            var again = await _driver.ReprintReceiptAsync(new ReprintReceiptRequest { JobId = job.JobId, OperationId = "copy-1" });
            Assert.Equal(copy.JobId, again.JobId);
            copy = await UntilAsync(copy.JobId, PrintJobState.Done);
        }

        Assert.Equal(StatusCode.FailedPrecondition, early.StatusCode);
        Assert.Single(_printer.Receipts);
        var printed = Assert.Single(_printer.NonFiscalDocuments);
        var items = printed["items"]!.AsArray().Select(i => i!.AsObject()).ToList();
        Assert.Equal("КОПИЯ", (string?)items[0]["text"]);
        Assert.Equal(job.QrCode, (string?)items.Single(i => (string?)i["type"] == "barcode")["barcode"]);
        Assert.Contains(items, i => ((string?)i["text"] ?? "").Contains($"ФД {job.FiscalDocumentNumber} ФП {job.FiscalSign}", StringComparison.Ordinal));
        Assert.Equal((job.JobId, job.FiscalDocumentNumber, job.QrCode), (copy.ReprintOf, copy.FiscalDocumentNumber, copy.QrCode));
    }

    [Fact]
    public async Task A_driver_in_mode_3_sends_receipts_electronically_by_default_while_another_driver_keeps_paper()
    {
        using var paperDriver = await PosClientAsync(_store, "paper driver");
        var mode = await _driver.SetDriverModeAsync(new SetDriverModeRequest { ElectronicOnly = true });
        var other = await Assert.ThrowsAsync<RpcException>(() => paperDriver.SetDriverModeAsync(new SetDriverModeRequest { KeyId = mode.KeyId, ElectronicOnly = false }));
        var customer = new FiscalCustomerInfo { DeliveryAddress = new DeliveryAddressContacts { OfdContact = "client@example.ru" } };
        var electronic = Sale("mode3-1", 150_00, 51);
        electronic.Delivery = ReceiptDelivery.Unspecified;
        electronic.Customer = customer;
        var paper = Sale("mode3-2", 160_00, 52);
        paper.Delivery = ReceiptDelivery.Unspecified;
        paper.Customer = customer;

        var first = await _driver.SubmitReceiptAsync(electronic);
        var second = await paperDriver.SubmitReceiptAsync(paper);
        await using (StartAdapter())
        {
            await UntilAsync(first.JobId, PrintJobState.Done);
            await UntilAsync(second.JobId, PrintJobState.Done);
        }

        Assert.Equal(StatusCode.PermissionDenied, other.StatusCode);
        Assert.Equal((ReceiptDelivery.None, ReceiptDelivery.Paper), (first.Delivery, second.Delivery));
        Assert.True((bool?)_printer.Receipts.Single(d => d.TotalKopecks == 150_00).Task["electronically"]);
        Assert.False((bool?)_printer.Receipts.Single(d => d.TotalKopecks == 160_00).Task["electronically"]);
        Assert.Equal("client@example.ru", (string?)_printer.Receipts.Single(d => d.TotalKopecks == 160_00).Task["clientInfo"]?["emailOrPhone"]);
    }

    /// <summary>Forwards to the printer; the Nth POST of a job goes through and then the adapter is killed before it reads the answer.</summary>
    private sealed class KillAfterPost(int nth, CancellationTokenSource kill) : DelegatingHandler(new SocketsHttpHandler())
    {
        private int _posts;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.Method == HttpMethod.Post && request.RequestUri!.AbsolutePath == "/api/v2/requests" && Interlocked.Increment(ref _posts) == nth)
            {
                kill.Cancel();
                throw new OperationCanceledException("killed after the POST", kill.Token);
            }
            return response;
        }
    }

    /// <summary>Forwards gRPC calls; the Nth result report is lost with the adapter killed before it reaches the server.</summary>
    private sealed class KillBeforeReport(int nth, CancellationTokenSource kill) : DelegatingHandler(LoyaltyClient.CreateHandler(new LoyaltyClientOptions { Address = new Uri("http://127.0.0.1") }))
    {
        private int _reports;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.AbsolutePath.EndsWith("/ReportPrintResult", StringComparison.Ordinal) && Interlocked.Increment(ref _reports) == nth)
            {
                kill.Cancel();
                throw new OperationCanceledException("killed before the report", kill.Token);
            }
            return base.SendAsync(request, cancellationToken);
        }
    }

    [Fact]
    public async Task Every_submitted_receipt_is_fiscalised_exactly_once_across_killed_office_adapters_and_printer_faults()
    {
        var jobs = new List<PrintJob>();
        async Task<PrintJob> SubmitAsync(int i)
        {
            var job = await _driver.SubmitReceiptAsync(Sale($"fault-{i}", 2000_00 + i * 100, 100 + i));
            jobs.Add(job);
            return job;
        }

        // Killed right after the register's web server took the first job: the answer is never read.
        var kill = new CancellationTokenSource();
        await SubmitAsync(0);
        await using (var killed = StartAdapter(printerHandler: new KillAfterPost(1, kill), kill: kill))
            for (var round = 0; round < 600 && !kill.IsCancellationRequested; round++) await Task.Delay(50);

        // Killed after printing the next one, before its result reached the server.
        kill = new CancellationTokenSource();
        using (var lossy = await PosClientAsync(_store, "office register (lossy)", new KillBeforeReport(2, kill), officeRegister: Office))
        {
            await SubmitAsync(1);
            await SubmitAsync(2);
            await using var killed = StartAdapter(client: lossy, kill: kill);
            for (var round = 0; round < 600 && !kill.IsCancellationRequested; round++) await Task.Delay(50);
        }

        // A fresh adapter with the same journal, through the printer's faults.
        await using (StartAdapter())
        {
            foreach (var job in jobs) await UntilAsync(job.JobId, PrintJobState.Done);

            _printer.FaultAnswers(AnswerFault.Drop);
            await UntilAsync((await SubmitAsync(3)).JobId, PrintJobState.Done);

            // Answers slower than the driver's timeout while the job is handed out, then the printer recovers.
            _printer.AnswerDelay = TimeSpan.FromSeconds(1.2);
            var slow = await SubmitAsync(4);
            await UntilAsync(slow.JobId, PrintJobState.Printing, PrintJobState.Done);
            await Task.Delay(1500);
            _printer.AnswerDelay = TimeSpan.Zero;
            await UntilAsync(slow.JobId, PrintJobState.Done);

            _printer.FailNextTask(t => (string?)t["type"] == "sell", 2, "Нет связи", fiscaliseFirst: true);
            await UntilAsync((await SubmitAsync(5)).JobId, PrintJobState.Done);

            _printer.BlockNextFiscalTask(BlockReason.ConnectionError, fiscalised: true);
            var blocked = await SubmitAsync(6);
            await UntilAsync(blocked.JobId, PrintJobState.NeedsAttention, PrintJobState.Done);
            _printer.ResolveBlock();
            await UntilAsync(blocked.JobId, PrintJobState.Done);

            _printer.PaperPresent = false;
            var paper = await SubmitAsync(7);
            var noPaper = await UntilAsync(paper.JobId, PrintJobState.NeedsAttention);
            Assert.Contains("paper", noPaper.Message);
            _printer.PaperPresent = true;
            await UntilAsync(paper.JobId, PrintJobState.Done);

            _printer.AdvanceClock(TimeSpan.FromHours(25));
            await UntilAsync((await SubmitAsync(8)).JobId, PrintJobState.Done);

            var restart = await SubmitAsync(9);
            await _printer.RestartAsync(TimeSpan.FromMilliseconds(300));
            await UntilAsync(restart.JobId, PrintJobState.Done);
        }

        var done = new List<PrintJob>();
        foreach (var job in jobs) done.Add(await _driver.GetPrintJobAsync(job.JobId));
        Assert.Equal(jobs.Count, _printer.Receipts.Count);
        for (var i = 0; i < jobs.Count; i++)
        {
            Assert.Single(_printer.Receipts, d => d.TotalKopecks == 2000_00 + i * 100);
            Assert.Equal(2000_00 + i * 100, done[i].Total);
        }
        Assert.Equal(jobs.Count, done.Select(j => j.FiscalDocumentNumber).Distinct().Count());
    }
}
