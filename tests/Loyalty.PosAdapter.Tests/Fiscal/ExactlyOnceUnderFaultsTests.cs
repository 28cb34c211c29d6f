using System.Text.Json.Nodes;
using Loyalty.AtolEmulator;
using Loyalty.PosAdapter.Fiscal;

namespace Loyalty.PosAdapter.Tests.Fiscal;

public class ExactlyOnceUnderFaultsTests
{
    private enum Fault { None, DropPost, GatewayTimeoutPost, DropPolls, ErrorAfterFiscalising, ErrorBeforeFiscalising, RestartAfterPost, BlockPrinted, BlockNotPrinted, PaperOut, KillAfterJournal, KillAfterPost, SlowAnswers }

    [Fact]
    public async Task Forty_receipts_each_under_a_seeded_fault_or_a_killed_driver_are_each_fiscalised_exactly_once()
    {
        await using var h = await DriverHarness.StartAsync(o => o with { MaxWait = TimeSpan.FromSeconds(1) });
        var random = new Random(13);
        var faults = Enum.GetValues<Fault>();
        const int receipts = 40;
        for (var i = 0; i < receipts; i++)
        {
            var key = $"MSK-01/R1/16/{i}";
            var receipt = DriverHarness.Receipt(key, 10_000 + i * 100, bonusKopecks: i);
            var fault = faults[i < faults.Length ? i : random.Next(faults.Length)];
            Arm(h, fault);
            try { await h.Driver.PrintAsync(receipt); }
            catch (IOException) { await h.RestartDriverAsync(); await h.Driver.RecoverAsync(); }

            // What a person and the process would do next: clear the condition, resume until printed.
            for (var round = 0; round < 10 && h.Driver.Find(key)?.State != FiscalState.Printed; round++)
            {
                Disarm(h);
                await Task.Delay(50);
                await h.Driver.ResumeAsync(key);
            }
            Assert.True(h.Driver.Find(key)?.State == FiscalState.Printed, $"receipt {i} under {fault}: {h.Driver.Find(key)}");
            Disarm(h);
        }

        var byTotal = h.Emulator.Receipts.GroupBy(r => r.TotalKopecks).ToDictionary(g => g.Key, g => g.Count());
        for (var i = 0; i < receipts; i++)
            Assert.True(byTotal.GetValueOrDefault(10_000 + i * 100 - i) == 1, $"receipt {i} was fiscalised {byTotal.GetValueOrDefault(10_000 + i * 100 - i)} times");
        Assert.Equal(receipts, h.Emulator.Receipts.Count);

        // The journal agrees with the FN, document by document, even read by a fresh process.
        var fresh = await h.RestartDriverAsync();
        foreach (var document in h.Emulator.Receipts)
        {
            var key = fresh.Journal.Entries.First(e => e.Uuid == document.JobUuid).DocumentKey;
            var outcome = fresh.Find(key)!;
            Assert.Equal((FiscalState.Printed, document.FiscalDocumentNumber, document.FiscalSign), (outcome.State, outcome.Fiscal!.FiscalDocumentNumber, outcome.Fiscal.FiscalSign));
        }
        Assert.Empty(await fresh.RecoverAsync());
    }

    private static void Arm(DriverHarness h, Fault fault)
    {
        static bool IsSell(JsonObject t) => (string?)t["type"] == "sell";
        switch (fault)
        {
            case Fault.DropPost: h.Emulator.FaultAnswers(AnswerFault.Drop); break;
            case Fault.GatewayTimeoutPost: h.Emulator.FaultAnswers(AnswerFault.GatewayTimeout); break;
            case Fault.DropPolls: h.Emulator.FaultAnswers(AnswerFault.Drop, 2, "GET", "/api/v2/requests/"); break;
            case Fault.ErrorAfterFiscalising: h.Emulator.FailNextTask(IsSell, 2, "Нет связи", fiscaliseFirst: true); break;
            case Fault.ErrorBeforeFiscalising: h.Emulator.FailNextTask(IsSell, 2, "Нет связи"); break;
            case Fault.RestartAfterPost:
                h.Driver.StageHook = async (stage, _) => { if (stage == "posted") { h.Driver.StageHook = null; await Task.Delay(30); await h.Emulator.RestartAsync(); } };
                break;
            case Fault.BlockPrinted: h.Emulator.BlockNextFiscalTask(BlockReason.ConnectionError, fiscalised: true); break;
            case Fault.BlockNotPrinted: h.Emulator.BlockNextFiscalTask(BlockReason.FnError, fiscalised: false); break;
            case Fault.PaperOut: h.Emulator.PaperPresent = false; break;
            case Fault.KillAfterJournal: h.Driver.StageHook = (stage, _) => stage == "journalled" ? throw new IOException("killed") : Task.CompletedTask; break;
            case Fault.KillAfterPost: h.Driver.StageHook = (stage, _) => stage == "posted" ? throw new IOException("killed") : Task.CompletedTask; break;
            case Fault.SlowAnswers: h.Emulator.AnswerDelay = TimeSpan.FromSeconds(1.2); break;
        }
    }

    private static void Disarm(DriverHarness h)
    {
        h.Driver.StageHook = null;
        h.Emulator.PaperPresent = true;
        h.Emulator.AnswerDelay = TimeSpan.Zero;
        h.Emulator.ResolveBlock();
    }
}

public class FiscalJournalTests
{
    [Fact]
    public void A_torn_last_line_from_a_crash_mid_write_is_dropped_and_the_journal_goes_on_after_the_last_good_line()
    {
        var directory = Path.Combine(Path.GetTempPath(), "loyalty-journal-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var journal = FiscalJournal.Open(directory))
            {
                journal.Append(new JournalEntry { Kind = "document", DocumentKey = "R-1", Uuid = "", TaskJson = "{}" });
                journal.Append(new JournalEntry { Kind = "attempt", DocumentKey = "R-1", Uuid = "u1", Attempt = 1, FdBefore = 10 });
            }
            var path = Path.Combine(directory, FiscalJournal.FileName);
            File.AppendAllText(path, "deadbeef {\"Kind\":\"result\",\"Docu");   // torn: no newline

            using (var journal = FiscalJournal.Open(directory))
            {
                Assert.Equal(1, journal.TornLinesDropped);
                Assert.Equal([1L, 2L], journal.Entries.Select(e => e.Seq));
                journal.Append(new JournalEntry { Kind = "result", DocumentKey = "R-1", Uuid = "u1", Result = AttemptResult.NotPrinted });
            }
            using (var journal = FiscalJournal.Open(directory))
            {
                Assert.Equal(0, journal.TornLinesDropped);
                Assert.Equal([1L, 2L, 3L], journal.Entries.Select(e => e.Seq));
                Assert.Equal(AttemptResult.NotPrinted, journal.Entries[2].Result);
            }
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    [Fact]
    public void A_line_whose_checksum_does_not_match_ends_the_replay_there()
    {
        var directory = Path.Combine(Path.GetTempPath(), "loyalty-journal-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var journal = FiscalJournal.Open(directory))
                journal.Append(new JournalEntry { Kind = "document", DocumentKey = "R-1", Uuid = "", TaskJson = "{\"total\":1}" });
            var path = Path.Combine(directory, FiscalJournal.FileName);
            var text = File.ReadAllText(path).Replace("\"total\\\":1", "\"total\\\":2");
            File.WriteAllText(path, text);
            using var reopened = FiscalJournal.Open(directory);
            Assert.Empty(reopened.Entries);
            Assert.Equal(1, reopened.TornLinesDropped);
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    [Fact]
    public void A_second_driver_cannot_open_a_journal_another_one_holds()
    {
        var directory = Path.Combine(Path.GetTempPath(), "loyalty-journal-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var first = FiscalJournal.Open(directory);
            Assert.ThrowsAny<IOException>(() => FiscalJournal.Open(directory));
        }
        finally { Directory.Delete(directory, recursive: true); }
    }

    [Fact]
    public void Job_uuids_are_the_same_for_the_same_document_and_attempt_and_differ_otherwise()
    {
        Assert.Equal(AtolFiscalDriver.JobUuid("R-1", 1), AtolFiscalDriver.JobUuid("R-1", 1));
        Assert.NotEqual(AtolFiscalDriver.JobUuid("R-1", 1), AtolFiscalDriver.JobUuid("R-1", 2));
        Assert.NotEqual(AtolFiscalDriver.JobUuid("R-1", 1), AtolFiscalDriver.JobUuid("R-2", 1));
        Assert.True(Guid.TryParse(AtolFiscalDriver.JobUuid("R-1", 1), out _));
    }
}
