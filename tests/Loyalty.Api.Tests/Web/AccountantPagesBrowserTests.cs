using System.Net;
using System.Text.RegularExpressions;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;
using Loyalty.Api.Tests.Support;
using Npgsql;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;

namespace Loyalty.Api.Tests.Web;

/// <summary>
/// The accountant's pages against the real server in a real browser (<see cref="HeadlessChromium"/>).
/// A screenshot of each page is kept under the test output directory (screenshots/).
/// </summary>
public sealed class AccountantPagesBrowserTests(AccountantWorkplaceFixture server) : IClassFixture<AccountantWorkplaceFixture>, IDisposable
{
    private readonly HeadlessChromium _browser = new();

    private ChromeDriver Browser() => _browser.Driver;

    private void Open(string path) => Browser().Navigate().GoToUrl(new Uri(server.HttpAddress, path));

    private void Screenshot(string name) => _browser.Screenshot(name);

    private void SignIn(string key)
    {
        Open("/");
        Browser().FindElement(By.Id("key")).SendKeys(key);
        Browser().FindElement(By.Id("signin")).Click();
    }

    public void Dispose() => _browser.Dispose();

    [Fact]
    public void An_accountant_signs_in_sees_the_shift_that_needs_attention_and_every_page_and_signs_out()
    {
        Open("/");
        Assert.NotNull(Browser().FindElement(By.Id("signin-form")));
        Assert.Contains("Вход", Browser().Title);   // Accept-Language: ru
        Screenshot("01-sign-in");
        SignIn(server.AccountantKey);
        Assert.EndsWith("/shifts", Browser().Url);
        var shifts = Browser().FindElement(By.Id("shifts")).Text;
        Assert.Contains("WEB-01", shifts);
        Assert.Contains("требует внимания", shifts);
        // The key's name is shown encoded, never as markup.
        Assert.Contains("Мария <b>Бухгалтер</b>", Browser().FindElement(By.ClassName("who")).Text);
        Screenshot("02-shifts");

        Browser().FindElement(By.LinkText("7")).Click();
        var receipts = Browser().FindElement(By.Id("receipts")).Text;
        Assert.Contains("расхождение", receipts);
        Assert.Contains("только онлайн", receipts);
        Screenshot("03-shift");

        Browser().FindElement(By.Id("lang-en")).Click();
        Assert.Contains("mismatch", Browser().FindElement(By.Id("receipts")).Text);
        Open("/debts");
        Assert.Contains(AccountantWorkplaceFixture.Poor, Browser().FindElement(By.Id("debts")).Text);
        Assert.Contains("outstanding", Browser().FindElement(By.Id("debts")).Text);
        Screenshot("04-debts");
        Open("/liability");
        Assert.Contains("ties", Browser().FindElement(By.Id("check-roll")).Text);
        Assert.Contains("ties", Browser().FindElement(By.Id("check-cards")).Text);
        Assert.NotNull(Browser().FindElement(By.CssSelector("svg#chart polyline")));
        Screenshot("05-liability");
        Open($"/card?number={AccountantWorkplaceFixture.Rich}");
        var card = Browser().FindElement(By.Id("card")).Text;
        Assert.Contains("+7********67", card);
        Assert.Contains("i***@example.com", card);
        Assert.DoesNotContain("1234567", Browser().PageSource);
        Screenshot("06-card");

        Browser().FindElement(By.Id("signout")).Click();
        Assert.NotNull(Browser().FindElement(By.Id("signin-form")));
        Open("/shifts");
        Assert.NotNull(Browser().FindElement(By.Id("signin-form")));   // the session is gone
    }

    [Fact]
    public void A_pos_key_is_refused_and_gets_no_session()
    {
        SignIn(server.PosKey);
        Assert.Contains("pos", Browser().FindElement(By.Id("error")).Text);
        Screenshot("07-pos-key-refused");
        Assert.Null(Browser().Manage().Cookies.GetCookieNamed("loyalty_session"));
        Open("/shifts");
        Assert.NotNull(Browser().FindElement(By.Id("signin-form")));
    }

    [Fact]
    public async Task Accepting_the_report_posted_twice_applies_the_difference_once_and_shows_who_and_when()
    {
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        var before = (await admin.GetCardAsync(AccountantWorkplaceFixture.Rich)).Balance;
        SignIn(server.AccountantKey);
        Open($"/shift?store={AccountantWorkplaceFixture.Store}&register=R1&shift=7");
        // The form as the browser would post it again (a double click, a reload after the POST).
        var form = Browser().FindElement(By.Id("accept-2")).FindElement(By.XPath(".."));
        var fields = form.FindElements(By.CssSelector("input[type=hidden]")).ToDictionary(i => i.GetAttribute("name")!, i => i.GetAttribute("value")!);
        var sessionCookie = Browser().Manage().Cookies.GetCookieNamed("loyalty_session")!.Value;
        Browser().FindElement(By.Id("accept-2")).Click();
        Assert.Contains("проведено", await NoticeAfterPostAsync(), StringComparison.OrdinalIgnoreCase);
        Screenshot("08-resolved");
        var after = (await admin.GetCardAsync(AccountantWorkplaceFixture.Rich)).Balance;
        Assert.NotEqual(before, after);

        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = server.HttpAddress };
        var again = new HttpRequestMessage(HttpMethod.Post, "/resolve") { Content = new FormUrlEncodedContent(fields) };
        again.Headers.Add("Cookie", $"loyalty_session={sessionCookie}");
        var answer = await http.SendAsync(again);
        Assert.Equal(HttpStatusCode.SeeOther, answer.StatusCode);
        Assert.Contains("done=repeated", answer.Headers.Location!.ToString());
        Assert.Equal(after, (await admin.GetCardAsync(AccountantWorkplaceFixture.Rich)).Balance);

        Open($"/shift?store={AccountantWorkplaceFixture.Store}&register=R1&shift=7");
        var history = Browser().FindElement(By.Id("history")).Text;
        Assert.Contains("Мария <b>Бухгалтер</b>", history);
        Assert.Single(Browser().FindElements(By.CssSelector("#history tbody tr")));
        var movements = Browser().FindElement(By.Id("movements")).Text;
        Assert.Contains("Adjustment", movements);
        Assert.Empty(await server.Server.Engine.CheckInvariantsAsync());
    }

    /// <summary>
    /// The notice of the page the POST redirected to: the click can return while the browser is still
    /// on the old page, so this waits (bounded) for the new page's notice instead of reading at once.
    /// </summary>
    private async Task<string> NoticeAfterPostAsync()
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                return Browser().FindElement(By.Id("notice")).Text;
            }
            catch (WebDriverException) when (DateTime.UtcNow < until)
            {
                await Task.Delay(100);
            }
        }
    }

    [Fact]
    public async Task The_liability_statement_equals_the_sums_computed_independently_from_the_ledger_rows()
    {
        using var accountant = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AccountantKey, TimeSpan.FromSeconds(30));
        var today = DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(DateTimeOffset.UtcNow, Grains.Runtime.AccountantBooks.BookZone).DateTime);
        var day = new BookDay { Year = today.Year, Month = today.Month, Day = today.Day };
        var statement = await accountant.GetLiabilityStatementAsync(new LiabilityRequest { From = day, To = day });

        // Straight from the ledger rows, classified here rather than by the statement's code.
        long closing = 0, pending = 0, accrued = 0, online = 0, offline = 0, adjustments = 0, held = 0;
        await using (var rows = server.Server.Engine.DataSource.CreateCommand("SELECT kind, amount, pending_delta, held_delta FROM ledger"))
        await using (var reader = await rows.ExecuteReaderAsync())
            while (await reader.ReadAsync())
            {
                var (kind, amount, pendingDelta) = (reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2));
                closing += amount - pendingDelta;
                pending += pendingDelta;
                held += reader.GetInt64(3);
                if (kind == "Accrual") accrued += amount - pendingDelta;
                if (kind == "HoldPost") online -= amount;
                if (kind == "OfflineRedeem") offline -= amount;
                if (kind == "Adjustment") adjustments += amount;
            }
        Assert.Equal(closing, statement.Total.Closing);
        Assert.Equal(pending, statement.Total.PendingClosing);
        Assert.Equal(held, statement.Total.HeldClosing);
        Assert.Equal(accrued, statement.Total.Accrued);
        Assert.Equal(online, statement.Total.RedeemedOnline);
        Assert.Equal(offline, statement.Total.RedeemedOffline);
        Assert.Equal(adjustments, statement.Total.Adjustments);
        Assert.Equal(0, statement.Total.Opening);   // everything happened today
        Assert.True(statement.RollsForward);
        Assert.True(statement.CheckedAgainstCards && statement.TiesToCards);
        Assert.Empty(await new Grains.Runtime.AccountantBooks(server.Server.Engine.Cards, TimeProvider.System).VerifySummaryAsync());

        // The page shows the same closing figure.
        SignIn(server.AccountantKey);
        Open($"/liability?from={today:yyyy-MM-dd}&to={today:yyyy-MM-dd}&lang=en");
        var closingRow = Browser().FindElements(By.CssSelector("#liability tbody tr")).Single(r => r.Text.StartsWith("Closing liability", StringComparison.Ordinal));
        Assert.EndsWith((closing / 100m).ToString("N2", System.Globalization.CultureInfo.InvariantCulture), closingRow.Text);
    }
}
