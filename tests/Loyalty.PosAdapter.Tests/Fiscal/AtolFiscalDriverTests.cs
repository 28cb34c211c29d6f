using System.Text.Json.Nodes;
using Loyalty.AtolEmulator;
using Loyalty.PosAdapter.Fiscal;

namespace Loyalty.PosAdapter.Tests.Fiscal;

public class AtolFiscalDriverTests
{
    private static bool IsSell(JsonObject task) => (string?)task["type"] == "sell";

    [Fact]
    public async Task A_receipt_is_fiscalised_once_and_its_fiscal_data_and_qr_code_are_kept_in_the_journal()
    {
        await using var h = await DriverHarness.StartAsync();
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-1", 15000, 3000));

        Assert.Equal(FiscalState.Printed, outcome.State);
        var document = Assert.Single(h.Emulator.Receipts);
        Assert.Equal(12000, document.TotalKopecks);
        Assert.Equal(document.FiscalDocumentNumber, outcome.Fiscal!.FiscalDocumentNumber);
        Assert.Equal(document.FiscalSign, outcome.Fiscal.FiscalSign);
        Assert.Equal("9999078900001234", outcome.Fiscal.FnNumber);
        Assert.Equal(15, outcome.Fiscal.ShiftNumber);
        Assert.Equal(FnsQrCode.Build(outcome.Fiscal, FiscalOperation.Sell), outcome.QrCode);
        Assert.Equal(document.DateTime, outcome.Fiscal.DocumentDateTime);

        var restarted = await h.RestartDriverAsync();
        var fromJournal = restarted.Find("R-1")!;
        Assert.Equal(FiscalState.Printed, fromJournal.State);
        Assert.Equal(outcome.Fiscal, fromJournal.Fiscal);
    }

    [Fact]
    public async Task Printing_the_same_receipt_key_again_returns_the_first_result_and_prints_nothing_more()
    {
        await using var h = await DriverHarness.StartAsync();
        var first = await h.Driver.PrintAsync(DriverHarness.Receipt("R-2", 5000));
        var second = await h.Driver.PrintAsync(DriverHarness.Receipt("R-2", 5000));
        Assert.Equal(first.Fiscal, second.Fiscal);
        Assert.Single(h.Emulator.Receipts);
        await Assert.ThrowsAsync<InvalidOperationException>(() => h.Driver.PrintAsync(DriverHarness.Receipt("R-2", 6000)));
        Assert.Single(h.Emulator.Receipts);
    }

    [Theory]
    [InlineData(AnswerFault.Drop)]
    [InlineData(AnswerFault.GatewayTimeout)]
    public async Task B1_when_the_answer_to_a_fiscalised_sell_is_lost_the_driver_asks_for_the_same_uuid_and_prints_once(AnswerFault fault)
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.FaultAnswers(fault, count: 1, method: "POST", pathPrefix: "/api/v2/requests");
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-100", 15000, 3000));

        Assert.Equal(FiscalState.Printed, outcome.State);
        var document = Assert.Single(h.Emulator.Receipts);
        Assert.Equal(12000, document.TotalKopecks);
        Assert.Equal(document.FiscalDocumentNumber, outcome.Fiscal!.FiscalDocumentNumber);
        Assert.Equal(document.FiscalSign, outcome.Fiscal.FiscalSign);
        var sellUuid = AtolFiscalDriver.JobUuid("R-100", 1);
        Assert.Equal(sellUuid, outcome.Uuid);
        Assert.Equal(sellUuid, document.JobUuid);
    }

    [Fact]
    public async Task B1_lost_answers_to_polls_as_well_still_give_one_receipt()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.FaultAnswers(AnswerFault.Drop, count: 1, method: "POST");
        h.Emulator.FaultAnswers(AnswerFault.Drop, count: 3, method: "GET", pathPrefix: "/api/v2/requests/");
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-101", 4200));
        Assert.Equal(FiscalState.Printed, outcome.State);
        Assert.Single(h.Emulator.Receipts);
    }

    [Fact]
    public async Task B1_a_sell_reported_as_error_after_the_FN_closed_it_is_recognised_from_the_last_fiscal_document_and_not_printed_again()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.FailNextTask(IsSell, 2, "Нет связи", fiscaliseFirst: true);
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-100", 15000, 3000));

        Assert.Equal(FiscalState.Printed, outcome.State);
        var document = Assert.Single(h.Emulator.Receipts);
        Assert.Equal(document.FiscalDocumentNumber, outcome.Fiscal!.FiscalDocumentNumber);
        Assert.Equal(12000, outcome.Fiscal.TotalKopecks);
        Assert.Contains("Found in the FN", outcome.Message);
    }

    [Fact]
    public async Task A_sell_that_errored_without_closing_a_document_is_sent_again_under_a_new_attempt_and_printed_once()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.FailNextTask(IsSell, 2, "Нет связи", fiscaliseFirst: false);
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-102", 3000));
        Assert.Equal(FiscalState.Printed, outcome.State);
        Assert.Single(h.Emulator.Receipts);
        Assert.Equal(AtolFiscalDriver.JobUuid("R-102", 2), outcome.Uuid);
    }

    [Fact]
    public async Task Answers_slower_than_the_request_timeout_leave_the_receipt_pending_and_a_later_call_finds_it_printed_once()
    {
        await using var h = await DriverHarness.StartAsync(o => o with { MaxWait = TimeSpan.FromSeconds(2) });
        h.Emulator.AnswerDelay = TimeSpan.FromSeconds(1.5);
        var first = await h.Driver.PrintAsync(DriverHarness.Receipt("R-103", 7700));
        Assert.Equal(FiscalState.Pending, first.State);

        h.Emulator.AnswerDelay = TimeSpan.Zero;
        var second = await h.Driver.PrintAsync(DriverHarness.Receipt("R-103", 7700));
        Assert.Equal(FiscalState.Printed, second.State);
        Assert.Single(h.Emulator.Receipts);
    }

    [Fact]
    public async Task A_web_server_restart_that_lost_the_queue_after_printing_is_settled_from_the_FN_without_a_second_receipt()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Driver.StageHook = async (stage, _) =>
        {
            if (stage != "posted") return;
            while (h.Emulator.Receipts.Count == 0) await Task.Delay(10);
            await h.Emulator.RestartAsync();
        };
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-104", 9900));
        Assert.Equal(FiscalState.Printed, outcome.State);
        Assert.Single(h.Emulator.Receipts);
        Assert.Equal(h.Emulator.Receipts[0].FiscalDocumentNumber, outcome.Fiscal!.FiscalDocumentNumber);
    }

    [Fact]
    public async Task A_web_server_restart_that_lost_the_job_before_it_ran_makes_the_driver_send_the_same_uuid_again_and_print_once()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.SetTaskDuration("sell", TimeSpan.FromMilliseconds(400));
        h.Driver.StageHook = async (stage, _) =>
        {
            if (stage == "posted") { h.Driver.StageHook = null; await h.Emulator.RestartAsync(); }
        };
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-105", 1234));
        Assert.Equal(FiscalState.Printed, outcome.State);
        Assert.Single(h.Emulator.Receipts);
        var uuid = AtolFiscalDriver.JobUuid("R-105", 1);
        Assert.Equal(uuid, h.Emulator.Receipts[0].JobUuid);
        Assert.Equal(2, h.Emulator.PostedUuids.Count(u => u == uuid));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_blocked_queue_is_shown_as_needing_attention_and_resumed_once_the_register_is_back_printing_once(bool fiscalisedBeforeTheBlock)
    {
        await using var h = await DriverHarness.StartAsync(o => o with { MaxWait = TimeSpan.FromMilliseconds(500) });
        h.Emulator.BlockNextFiscalTask(BlockReason.ConnectionError, fiscalisedBeforeTheBlock);
        var blocked = await h.Driver.PrintAsync(DriverHarness.Receipt("R-106", 5500));
        Assert.Equal(FiscalState.NeedsAttention, blocked.State);
        Assert.Equal(AttentionReason.QueueBlocked, blocked.Attention);
        Assert.Contains("connectionError", blocked.Message);

        h.Emulator.ResolveBlock();
        await Task.Delay(100);
        var resumed = await h.Driver.ResumeAsync("R-106");
        Assert.Equal(FiscalState.Printed, resumed.State);
        Assert.Single(h.Emulator.Receipts);
    }

    [Fact]
    public async Task A_queue_blocked_by_another_job_stops_the_driver_from_sending_anything()
    {
        await using var h = await DriverHarness.StartAsync(o => o with { MaxWait = TimeSpan.FromMilliseconds(500) });
        await using var other = await DriverHarness.StartAsync();
        h.Emulator.BlockNextFiscalTask(BlockReason.FnError, fiscalised: false);
        using var http = new HttpClient { BaseAddress = h.Emulator.BaseAddress };
        var api = new AtolWebApi(http, TimeSpan.FromSeconds(1));
        await api.PostAsync("someone-else", [new JsonObject { ["type"] = "openShift" }], default);
        await Task.Delay(200);

        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-107", 100));
        Assert.Equal(AttentionReason.QueueBlocked, outcome.Attention);
        Assert.Contains("someone-else", outcome.Message);
        Assert.DoesNotContain(AtolFiscalDriver.JobUuid("R-107", 1), h.Emulator.PostedUuids);
    }

    [Fact]
    public async Task Paper_out_is_shown_before_anything_is_sent_and_the_receipt_prints_once_after_paper_is_loaded()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.PaperPresent = false;
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-108", 2500));
        Assert.Equal((FiscalState.NeedsAttention, AttentionReason.PaperOut), (outcome.State, outcome.Attention));
        Assert.Empty(h.Emulator.PostedUuids);

        var stillOut = await h.Driver.ResumeAsync("R-108");
        Assert.Equal(AttentionReason.PaperOut, stillOut.Attention);

        h.Emulator.PaperPresent = true;
        var printed = await h.Driver.ResumeAsync("R-108");
        Assert.Equal(FiscalState.Printed, printed.State);
        Assert.Single(h.Emulator.Receipts);
    }

    [Fact]
    public async Task A_cover_opened_error_during_the_sale_waits_for_a_person_and_resumes_to_one_receipt()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.FailNextTask(IsSell, 45, "Открыта крышка");
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-109", 2500));
        Assert.Equal((FiscalState.NeedsAttention, AttentionReason.CoverOpen), (outcome.State, outcome.Attention));
        Assert.Empty(h.Emulator.Receipts);

        var again = await h.Driver.RecoverAsync();
        Assert.Equal(AttentionReason.CoverOpen, Assert.Single(again).Attention);
        Assert.Empty(h.Emulator.Receipts);

        var printed = await h.Driver.ResumeAsync("R-109");
        Assert.Equal(FiscalState.Printed, printed.State);
        Assert.Single(h.Emulator.Receipts);
    }

    [Fact]
    public async Task B3_error_68_runs_the_Z_report_and_a_slow_openShift_polled_not_resent_then_prints_the_sale_once_in_the_new_shift()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.AdvanceClock(TimeSpan.FromHours(24) + TimeSpan.FromMinutes(5));
        h.Emulator.StatusHidesShiftExpiry = true; // the sale itself meets error 68
        h.Emulator.SetTaskDuration("openShift", TimeSpan.FromSeconds(2.5)); // longer than the 1 s HTTP timeout

        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-300", 5000));

        Assert.Equal(FiscalState.Printed, outcome.State);
        Assert.Equal(["closeShift", "openShift", "sell"], h.Emulator.Documents.Select(d => d.Type));
        Assert.Equal(15, h.Emulator.Documents[0].ShiftNumber);
        Assert.Equal(16, h.Emulator.Documents[2].ShiftNumber);
        Assert.Equal(16, outcome.Fiscal!.ShiftNumber);
        Assert.Single(h.Emulator.PostedUuids, AtolFiscalDriver.JobUuid("shift/open/16", 1));
        Assert.Equal(FiscalState.Printed, h.Driver.Find("shift/close/15")!.State);
        Assert.Equal(FiscalState.Printed, h.Driver.Find("shift/open/16")!.State);
    }

    [Fact]
    public async Task B3_a_shift_the_status_shows_expired_is_closed_and_reopened_before_the_sale_is_sent()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.AdvanceClock(TimeSpan.FromHours(25));
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-301", 5000));
        Assert.Equal(FiscalState.Printed, outcome.State);
        Assert.Equal(["closeShift", "openShift", "sell"], h.Emulator.Documents.Select(d => d.Type));
    }

    [Fact]
    public async Task B3_when_openShift_fails_for_lack_of_internet_the_sale_stays_pending_with_a_clear_alarm_and_prints_once_on_resume()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.AdvanceClock(TimeSpan.FromHours(25));
        h.Emulator.FailNextTask(t => (string?)t["type"] == "openShift", 235, "Ошибка обновления ключей проверки КМ (ОКП): нет связи с сервером");

        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-302", 5000));
        Assert.Equal((FiscalState.NeedsAttention, AttentionReason.ShiftFailed), (outcome.State, outcome.Attention));
        Assert.Contains("ОКП", outcome.Message);
        Assert.Empty(h.Emulator.Receipts);
        Assert.Equal(FiscalState.NeedsAttention, h.Driver.Find("R-302")!.State);

        var printed = await h.Driver.ResumeAsync("R-302");
        Assert.Equal(FiscalState.Printed, printed.State);
        Assert.Equal(["closeShift", "openShift", "sell"], h.Emulator.Documents.Select(d => d.Type));
    }

    [Fact]
    public async Task With_automatic_reopening_off_an_expired_shift_waits_for_a_person_and_the_sale_prints_after_resume()
    {
        await using var h = await DriverHarness.StartAsync(o => o with { AutoReopenExpiredShift = false });
        h.Emulator.AdvanceClock(TimeSpan.FromHours(25));
        h.Emulator.StatusHidesShiftExpiry = true;
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-303", 5000));
        Assert.Equal((FiscalState.NeedsAttention, AttentionReason.ShiftExpired), (outcome.State, outcome.Attention));
        Assert.Empty(h.Emulator.Documents);

        var printed = await h.Driver.ResumeAsync("R-303");
        Assert.Equal(FiscalState.Printed, printed.State);
        Assert.Equal(["closeShift", "openShift", "sell"], h.Emulator.Documents.Select(d => d.Type));
    }

    [Theory]
    [InlineData("journalled")]
    [InlineData("posted")]
    public async Task A_driver_killed_around_the_send_is_recovered_from_the_journal_by_a_new_instance_and_the_receipt_prints_once(string stage)
    {
        await using var h = await DriverHarness.StartAsync();
        h.Driver.StageHook = (s, _) => s == stage ? throw new IOException("power cut") : Task.CompletedTask;
        await Assert.ThrowsAsync<IOException>(() => h.Driver.PrintAsync(DriverHarness.Receipt("R-110", 8800)));

        var next = await h.RestartDriverAsync();
        var recovered = Assert.Single(await next.RecoverAsync());
        Assert.Equal(FiscalState.Printed, recovered.State);
        Assert.Single(h.Emulator.Receipts);
        Assert.All(h.Emulator.PostedUuids.Where(u => u != AtolFiscalDriver.JobUuid("R-110", 1)), u => Assert.DoesNotContain(u, h.Emulator.Receipts.Select(r => r.JobUuid)));
        Assert.Equal(AtolFiscalDriver.JobUuid("R-110", 1), h.Emulator.Receipts[0].JobUuid);
    }

    [Fact]
    public async Task A_driver_disposed_while_the_register_is_still_printing_is_recovered_by_a_new_instance_with_one_receipt()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.SetTaskDuration("sell", TimeSpan.FromMilliseconds(600));
        var printing = h.Driver.PrintAsync(DriverHarness.Receipt("R-111", 6100));
        while (!h.Emulator.PostedUuids.Contains(AtolFiscalDriver.JobUuid("R-111", 1))) await Task.Delay(5);
        var next = await h.RestartDriverAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => printing);

        var recovered = Assert.Single(await next.RecoverAsync());
        Assert.Equal(FiscalState.Printed, recovered.State);
        Assert.Single(h.Emulator.Receipts);
    }

    [Fact]
    public async Task C1_a_register_refusing_tag_1008_with_error_51_gets_the_receipt_again_without_the_contact_and_prints_it_once()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.FailNextTask(t => t["clientInfo"]?["emailOrPhone"] is not null, 51, "Некорректные параметры");
        var receipt = DriverHarness.Receipt("R-600", 5000, 1000, new FiscalCustomer(Email: "ivan.petrov@example.com"));

        var outcome = await h.Driver.PrintAsync(receipt);
        Assert.Equal(FiscalState.Printed, outcome.State);
        var document = Assert.Single(h.Emulator.Receipts);
        Assert.Null(document.Task["clientInfo"]?["emailOrPhone"]);
        Assert.Null(outcome.ContactUsed);
        Assert.Equal(AtolFiscalDriver.JobUuid("R-600", 2), document.JobUuid);
    }

    [Fact]
    public async Task B5_a_x100_payment_bug_is_stopped_before_the_journal_and_the_register_see_anything()
    {
        await using var h = await DriverHarness.StartAsync(o => o with
        {
            Mapping = new FiscalMappingOptions { PaymentSumToJson = kopecks => FiscalAmount.ToRoubles(kopecks * 100) },
        });
        await Assert.ThrowsAsync<FiscalReceiptException>(() => h.Driver.PrintAsync(AtolReceiptMapperTests.R500()));
        Assert.Empty(h.Emulator.PostedUuids);
        Assert.Empty(h.Emulator.Documents);
        Assert.Empty(h.Driver.Journal.Entries);
    }

    [Fact]
    public async Task A_register_refusing_the_tax_type_fails_the_receipt_without_retrying_it_so_the_hold_can_be_cancelled()
    {
        await using var h = await DriverHarness.StartAsync();
        h.Emulator.FailNextTask(IsSell, 144, "Некорректный тип налога");
        var outcome = await h.Driver.PrintAsync(DriverHarness.Receipt("R-112", 5000));
        Assert.Equal(FiscalState.Failed, outcome.State);
        Assert.Equal(144, outcome.ErrorCode);
        Assert.Empty(h.Emulator.Receipts);
        Assert.Single(h.Emulator.PostedUuids, AtolFiscalDriver.JobUuid("R-112", 1));
    }

    [Fact]
    public async Task Shift_status_device_status_last_receipt_and_open_close_shift_go_through_the_web_server()
    {
        await using var h = await DriverHarness.StartAsync();
        Assert.Equal(new AtolFiscalDriver.ShiftStatus("opened", 15), await h.Driver.GetShiftStatusAsync());
        Assert.Null(await h.Driver.GetLastReceiptAsync());
        var sale = await h.Driver.PrintAsync(DriverHarness.Receipt("R-113", 5000));
        Assert.Equal(sale.Fiscal, await h.Driver.GetLastReceiptAsync());

        var close = await h.Driver.CloseShiftAsync();
        Assert.Equal(FiscalState.Printed, close.State);
        Assert.Equal("closed", (await h.Driver.GetShiftStatusAsync()).State);
        var open = await h.Driver.OpenShiftAsync();
        Assert.Equal(FiscalState.Printed, open.State);
        Assert.Equal(new AtolFiscalDriver.ShiftStatus("opened", 16), await h.Driver.GetShiftStatusAsync());
        var device = await h.Driver.GetDeviceStatusAsync();
        Assert.True(device.PaperPresent);
        Assert.Equal(TimeSpan.FromHours(3), device.CurrentDateTime.Offset);
        Assert.Equal(["sell", "closeShift", "openShift"], h.Emulator.Documents.Select(d => d.Type));
    }
}
