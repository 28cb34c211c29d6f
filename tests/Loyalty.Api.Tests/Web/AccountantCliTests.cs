using System.CommandLine;
using System.Text;
using Loyalty.PosAdapter.Cli;

namespace Loyalty.Api.Tests.Web;

/// <summary>The accountant's CLI commands against the real server: shift list, show, resolve (twice), liability with its CSV.</summary>
public sealed class AccountantCliTests(AccountantWorkplaceFixture server) : IClassFixture<AccountantWorkplaceFixture>
{
    private async Task<(int ExitCode, string Output, string Error)> CliAsync(string key, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await LoyaltyCommandLine.RunAsync([.. args, "--server", server.GrpcAddress.ToString(), "--key", key],
            new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task An_accountant_lists_resolves_once_and_prints_the_liability_with_its_CSV()
    {
        var list = await CliAsync(server.AccountantKey, "shift", "list", "--store", AccountantWorkplaceFixture.Store);
        Assert.True(list.ExitCode == 0, list.Error);
        Assert.Contains("needs attention", list.Output);

        var first = await CliAsync(server.AccountantKey, "shift", "resolve", AccountantWorkplaceFixture.Store, "R1", "7", "3", "--as", "adjustment", "--amount", "5.25", "--reason", "till error");
        Assert.True(first.ExitCode == 0, first.Error);
        Assert.Contains("repeated", first.Output);
        Assert.Contains("no", first.Output);
        var again = await CliAsync(server.AccountantKey, "shift", "resolve", AccountantWorkplaceFixture.Store, "R1", "7", "3", "--as", "adjustment", "--amount", "5.25", "--reason", "till error");
        Assert.True(again.ExitCode == 0, again.Error);
        Assert.Contains("yes: nothing more was applied", again.Output);
        var other = await CliAsync(server.AccountantKey, "shift", "resolve", AccountantWorkplaceFixture.Store, "R1", "7", "3", "--as", "keep-online");
        Assert.Equal(ExitCodes.For(StatusCode.FailedPrecondition), other.ExitCode);

        var shown = await CliAsync(server.AccountantKey, "shift", "show", AccountantWorkplaceFixture.Store, "R1", "7");
        Assert.True(shown.ExitCode == 0, shown.Error);
        Assert.Contains("till error", shown.Output);
        var posShown = await CliAsync(server.PosKey, "shift", "show", AccountantWorkplaceFixture.Store, "R1", "7");
        Assert.True(posShown.ExitCode == 0, posShown.Error);   // a register's key sees its shift through Exchange
        var posList = await CliAsync(server.PosKey, "shift", "list");
        Assert.Equal(ExitCodes.For(StatusCode.PermissionDenied), posList.ExitCode);

        var csv = Path.Combine(Path.GetTempPath(), $"liability-{Guid.NewGuid():N}.csv");
        try
        {
            var today = DateTime.UtcNow.AddHours(3).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
            var liability = await CliAsync(server.AccountantKey, "liability", "--from", "2026-01-01", "--to", today, "--csv", csv);
            Assert.True(liability.ExitCode == 0, liability.Error + liability.Output);
            Assert.Contains("yes: opening + movements = closing on every line", liability.Output);
            var bytes = await File.ReadAllBytesAsync(csv);
            Assert.Equal(new byte[] { 0xEF, 0xBB, 0xBF }, bytes[..3]);
            Assert.StartsWith("programme;store;opening", Encoding.UTF8.GetString(bytes, 3, bytes.Length - 3));
            var badDay = await CliAsync(server.AccountantKey, "liability", "--from", "2026-02-30", "--to", today);
            Assert.Equal(ExitCodes.InvalidInput, badDay.ExitCode);
        }
        finally
        {
            File.Delete(csv);
        }
    }
}
