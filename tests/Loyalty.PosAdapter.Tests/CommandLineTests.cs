using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Loyalty.PosAdapter.Cli;
using Loyalty.PosAdapter.Client;

namespace Loyalty.PosAdapter.Tests;

public class CommandLineTests
{
    [Fact]
    public void A_negative_adjustment_is_read_as_the_amount_not_as_an_option()
    {
        var parseResult = LoyaltyCommandLine.BuildRootCommand().Parse(["card", "adjust", "1001", "-25.50", "--reason", "typo"]);
        Assert.Empty(parseResult.Errors);
    }

    [Fact]
    public async Task An_amount_with_three_decimals_is_refused_before_any_call()
    {
        var (exitCode, output, error) = await RunAsync("card", "adjust", "1001", "1.234", "--reason", "x", "--server", ClosedPortAddress());

        Assert.Equal(ExitCodes.InvalidInput, exitCode);
        Assert.Equal("", output);
        Assert.StartsWith("error: INVALID_ARGUMENT: ", error);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task A_missing_report_file_or_catalog_folder_is_a_one_line_error_with_exit_code_3_not_a_stack_trace()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-" + Guid.NewGuid().ToString("N"));

        var upload = await RunAsync("report", "upload", Path.Combine(missing, "report.txt"), "--store", "S", "--register", "R", "--format", "frontol", "--server", ClosedPortAddress(), "--key", "lk_a_b");
        var folder = await RunAsync("report", "upload", Path.GetTempPath(), "--store", "S", "--register", "R", "--format", "frontol", "--server", ClosedPortAddress(), "--key", "lk_a_b");
        var export = await RunAsync("catalog", "export", "--store", "S", "--format", "csv", "--out", Path.Combine(missing, "cards.csv"), "--server", ClosedPortAddress(), "--key", "lk_a_b");

        foreach (var (exitCode, _, error) in new[] { upload, folder, export })
        {
            Assert.Equal(ExitCodes.InvalidInput, exitCode);
            Assert.StartsWith("error: INVALID_ARGUMENT: ", error);
            Assert.Single(error.TrimEnd().Split('\n'));
        }
        Assert.Contains("it is a folder", folder.Error);
        Assert.Contains("does not exist", export.Error);
    }

    [Fact]
    public async Task An_unknown_command_is_a_usage_error()
    {
        var (exitCode, _, error) = await RunAsync("card", "frobnicate");

        Assert.Equal(ExitCodes.Usage, exitCode);
        Assert.StartsWith("error: ", error);
    }

    [Fact]
    public async Task An_unreachable_server_is_one_unavailable_line_that_never_shows_the_key()
    {
        var (exitCode, output, error) = await RunAsync("health", "--server", ClosedPortAddress(), "--key", "lk_secret_key_value");

        Assert.Equal(ExitCodes.TryAgain, exitCode);
        Assert.Equal("", output);
        Assert.StartsWith("error: UNAVAILABLE: ", error);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.DoesNotContain("lk_secret_key_value", error);
    }

    [Fact]
    public async Task Help_never_shows_a_key()
    {
        var (_, output, _) = await RunAsync("card", "show", "--help", "--key", "lk_secret_key_value");

        Assert.Contains("--key", output);
        Assert.DoesNotContain("lk_secret_key_value", output);
    }

    [Fact]
    public async Task A_server_address_that_is_not_http_is_invalid_input()
    {
        var (exitCode, _, error) = await RunAsync("health", "--server", "ftp://example");

        Assert.Equal(ExitCodes.InvalidInput, exitCode);
        Assert.StartsWith("error: INVALID_ARGUMENT: --server", error);
    }

    [Fact]
    public void Receipt_lines_are_sku_category_and_amount_in_roubles()
    {
        var lines = LoyaltyCommandLine.ParseReceiptLines(["4601:dairy:89.90", "bag::5"]);

        Assert.Equal(2, lines.Count);
        Assert.Equal(("4601", "dairy", 8990L, 8990L, LoyaltyCommandLine.OneUnitMilli), (lines[0].Sku, lines[0].Category, lines[0].Amount, lines[0].Price, lines[0].QuantityMilli));
        Assert.Equal(("bag", "", 500L), (lines[1].Sku, lines[1].Category, lines[1].Amount));
    }

    [Theory]
    [InlineData("4601:dairy")]
    [InlineData(":dairy:10")]
    [InlineData("4601:dairy:-10")]
    [InlineData("4601:dairy:10.001")]
    [InlineData("4601:dairy:10:extra")]
    public void A_malformed_receipt_line_is_refused(string line)
    {
        Assert.Throws<CommandLineInputException>(() => LoyaltyCommandLine.ParseReceiptLines([line]));
    }

    [Fact]
    public void Category_rates_are_category_equals_basis_points()
    {
        Assert.Equal(new Dictionary<string, int> { ["dairy"] = 300, ["a=b"] = 5 }, LoyaltyCommandLine.ParseCategoryRates(["dairy=300", "a=b=5"]));
        Assert.Throws<CommandLineInputException>(() => LoyaltyCommandLine.ParseCategoryRates(["dairy"]));
        Assert.Throws<CommandLineInputException>(() => LoyaltyCommandLine.ParseCategoryRates(["dairy=-1"]));
    }

    [Fact]
    public void A_given_operation_id_is_kept_and_a_missing_one_is_made()
    {
        Assert.Equal("till1-42", LoyaltyCommandLine.ResolveOperationId("till1-42"));
        Assert.True(OperationId.IsValid(LoyaltyCommandLine.ResolveOperationId(null)));
        Assert.Throws<CommandLineInputException>(() => LoyaltyCommandLine.ResolveOperationId("sys:mine"));
    }

    [Theory]
    [InlineData(StatusCode.InvalidArgument, ExitCodes.InvalidInput)]
    [InlineData(StatusCode.NotFound, ExitCodes.NotFound)]
    [InlineData(StatusCode.FailedPrecondition, ExitCodes.Refused)]
    [InlineData(StatusCode.AlreadyExists, ExitCodes.Refused)]
    [InlineData(StatusCode.Unauthenticated, ExitCodes.AccessDenied)]
    [InlineData(StatusCode.PermissionDenied, ExitCodes.AccessDenied)]
    [InlineData(StatusCode.Unavailable, ExitCodes.TryAgain)]
    [InlineData(StatusCode.DeadlineExceeded, ExitCodes.TryAgain)]
    [InlineData(StatusCode.Internal, ExitCodes.Failure)]
    public void Each_kind_of_failure_has_its_exit_code(StatusCode code, int exitCode)
    {
        Assert.Equal(exitCode, ExitCodes.For(code));
    }

    [Fact]
    public void A_print_job_that_waits_for_a_person_ends_wait_with_its_own_exit_code_apart_from_done_and_failed()
    {
        Assert.Equal(ExitCodes.Success, ExitCodes.ForPrintJob(Loyalty.Protos.V1.PrintJobState.Done));
        Assert.Equal(ExitCodes.Refused, ExitCodes.ForPrintJob(Loyalty.Protos.V1.PrintJobState.Failed));
        Assert.Equal(ExitCodes.NeedsAttention, ExitCodes.ForPrintJob(Loyalty.Protos.V1.PrintJobState.NeedsAttention));
        Assert.Equal(8, ExitCodes.NeedsAttention);
        Assert.Contains("8 ", ExitCodes.Summary);
    }

    private static Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) => RunAsync(CancellationToken.None, args);

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exitCode = await LoyaltyCommandLine.RunAsync(args, new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
        return (exitCode, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("truncated", "{\"operationId\": \"x\", ", "(line 1, byte 22)")]
    [InlineData("empty", "", "the file is empty")]
    [InlineData("leading 0xFF", "\xFF{}", "(line 1, byte 1)")]
    [InlineData("trailing brace", "{\"operationId\": \"x\"}}", "(line 1, byte 21)")]
    [InlineData("comment", "{}\n// a comment\n", "(line 2, byte 1)")]
    [InlineData("unknown field", "{\"operationId\": \"x\", \"colour\": 1}", "colour")]
    public async Task A_sale_file_that_is_not_a_SubmitReceiptRequest_in_protobuf_JSON_is_one_line_naming_the_file_and_where_with_exit_code_3(string what, string content, string expected)
    {
        var file = Path.Combine(Path.GetTempPath(), $"sale-{what.Replace(' ', '-')}-{Guid.NewGuid():N}.json");
        // \xFF stands for the byte 0xFF (not U+00FF); everything else is written as UTF-8.
        var bytes = content.StartsWith('\xFF') ? [0xFF, .. System.Text.Encoding.UTF8.GetBytes(content[1..])] : System.Text.Encoding.UTF8.GetBytes(content);
        await File.WriteAllBytesAsync(file, bytes);
        try
        {
            var (exitCode, output, error) = await RunAsync("fiscal", "print", file, "--server", ClosedPortAddress(), "--key", "lk_a_b");

            Assert.Equal(ExitCodes.InvalidInput, exitCode);
            Assert.Equal("", output);
            Assert.StartsWith($"error: INVALID_ARGUMENT: {file}: not a SubmitReceiptRequest in protobuf JSON: ", error);
            Assert.Contains(expected, error);
            Assert.Single(error.TrimEnd().Split('\n'));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_sale_file_in_UTF_8_with_a_byte_order_mark_is_read_past_the_mark()
    {
        var file = Path.Combine(Path.GetTempPath(), $"sale-bom-{Guid.NewGuid():N}.json");
        await File.WriteAllBytesAsync(file, [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes("{\"operationId\": \"x\", \"officeRegisterId\": \"Офис-1\"}")]);
        try
        {
            var request = await ProtobufJsonFile.ReadAsync<Loyalty.Protos.V1.SubmitReceiptRequest>(file, CancellationToken.None);

            Assert.Equal(("x", "Офис-1"), (request.OperationId, request.OfficeRegisterId));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task The_office_adapter_keeps_its_journal_under_LOYALTY_DATA_DIR_wherever_it_is_started_and_names_it_by_its_absolute_path()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "loyalty-cli-data-" + Guid.NewGuid().ToString("N"));
        var relative = "loyalty-cli-relative-" + Guid.NewGuid().ToString("N");
        var journal = Path.Combine(dataDirectory, "office-S1-OFFICE-1", "fiscal-journal.log");
        var before = Environment.GetEnvironmentVariable(CliSession.DataDirectoryVariable);
        // The variable is the process's: this class's tests run one at a time, and no other class of this project reads it.
        Environment.SetEnvironmentVariable(CliSession.DataDirectoryVariable, dataDirectory);
        try
        {
            var none = await RunAsync("office", "status", "--store", "S1", "--register", "OFFICE-1");
            using var stop = new CancellationTokenSource();
            // No server answers: the adapter opens its journal, says where, and waits to reconnect until stopped.
            var run = RunAsync(stop.Token, "office", "run", "--atol", "http://127.0.0.1:16732/", "--store", "S1", "--register", "OFFICE-1",
                "--server", ClosedPortAddress(), "--key", "lk_a_b");
            for (var round = 0; round < 600 && !File.Exists(journal) && !run.IsCompleted; round++) await Task.Delay(50);
            stop.Cancel();
            var (_, runOutput, runError) = await run;
            Environment.SetEnvironmentVariable(CliSession.DataDirectoryVariable, relative);
            var relativeNone = await RunAsync("office", "status", "--store", "S1", "--register", "OFFICE-1");

            Assert.Equal(0, none.ExitCode);
            Assert.Contains($"No journal in {Path.GetDirectoryName(journal)}:", none.Output);
            Assert.True(File.Exists(journal), runOutput + runError);
            Assert.Contains($"journal {journal} (new: no document in it yet).", runOutput);
            Assert.Contains($"No journal in {Path.Combine(Path.GetFullPath(relative), "office-S1-OFFICE-1")}:", relativeNone.Output);
        }
        finally
        {
            Environment.SetEnvironmentVariable(CliSession.DataDirectoryVariable, before);
            if (Directory.Exists(dataDirectory)) Directory.Delete(dataDirectory, recursive: true);
        }
    }

    private static string ClosedPortAddress()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"http://127.0.0.1:{port}";
    }
}
