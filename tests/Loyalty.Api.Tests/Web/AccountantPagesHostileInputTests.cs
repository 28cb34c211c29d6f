using System.Net;
using System.Text;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests.Web;

/// <summary>
/// The pages' refusals over plain HTTP: a POST without the session's CSRF token changes nothing,
/// hostile query strings and form fields get a clear 4xx page with the input encoded (never echoed
/// as markup), CSV is UTF-8 with a BOM and ';', the session cookie has its flags, and a pos key's
/// gRPC calls to the Reconciliation service are refused.
/// </summary>
public sealed class AccountantPagesHostileInputTests(AccountantWorkplaceFixture server) : IClassFixture<AccountantWorkplaceFixture>
{
    private static readonly string[] Hostile =
    [
        "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "' OR 1=1 --", "%00", "\u0001\u0002", new string('9', 5000), "../../etc/passwd",
        "2026-13-45", "-1", "１２３", "\uD800",
    ];

    [Fact]
    public async Task The_session_cookie_is_HttpOnly_SameSite_Strict_with_an_expiry()
    {
        using var http = server.Browserless(out _);
        var page = await http.GetStringAsync("/");
        var answer = await http.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
            { ["csrf"] = AccountantWorkplaceFixture.CsrfOf(page), ["key"] = server.AccountantKey }));
        Assert.Equal(HttpStatusCode.SeeOther, answer.StatusCode);
        var cookie = answer.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("loyalty_session=", StringComparison.Ordinal)).ToLowerInvariant();
        Assert.Contains("httponly", cookie);
        Assert.Contains("samesite=strict", cookie);
        Assert.Contains("expires=", cookie);
    }

    [Fact]
    public async Task A_post_without_the_right_CSRF_token_is_refused_and_changes_nothing()
    {
        using var http = server.Browserless(out _);
        await server.SignInAsync(http, server.AccountantKey);
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        var before = (await admin.GetCardAsync(AccountantWorkplaceFixture.Poor)).Balance;
        foreach (var token in new[] { null, "", "forged", new string('A', 43) })
        {
            var fields = new Dictionary<string, string>
            {
                ["store"] = AccountantWorkplaceFixture.Store, ["register"] = "R1", ["shift"] = "7", ["receipt"] = "3", ["kind"] = "adjustment", ["amount"] = "500", ["reason"] = "csrf",
            };
            if (token is not null) fields["csrf"] = token;
            var answer = await http.PostAsync("/resolve", new FormUrlEncodedContent(fields));
            Assert.Equal(HttpStatusCode.Forbidden, answer.StatusCode);
            Assert.Contains("CSRF", await answer.Content.ReadAsStringAsync());
        }
        // The sign-in form refuses a post without its token too.
        using var fresh = server.Browserless(out _);
        var signIn = await fresh.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["key"] = server.AccountantKey }));
        Assert.Equal(HttpStatusCode.Forbidden, signIn.StatusCode);
        Assert.DoesNotContain(signIn.Headers.TryGetValues("Set-Cookie", out var set) ? set : [], c => c.StartsWith("loyalty_session=", StringComparison.Ordinal));
        Assert.Equal(before, (await admin.GetCardAsync(AccountantWorkplaceFixture.Poor)).Balance);
        var shift = await admin.GetShiftDetailAsync(new GetShiftRequest { StoreId = AccountantWorkplaceFixture.Store, RegisterId = "R1", ShiftNumber = 7 });
        Assert.DoesNotContain(shift.Resolutions, r => r.ReceiptNumber == 3);
    }

    [Fact]
    public async Task Hostile_query_strings_get_a_clear_refusal_with_the_input_encoded()
    {
        using var http = server.Browserless(out _);
        await server.SignInAsync(http, server.AccountantKey);
        foreach (var value in Hostile)
            foreach (var (path, name) in new[] { ("/shifts", "store"), ("/shifts", "from"), ("/shift", "shift"), ("/liability", "to"), ("/card", "number"), ("/debts", "outstanding"), ("/shifts", "format") })
            {
                var query = path == "/shift" ? $"store=WEB-01&register=R1&{name}={Uri.EscapeDataString(value)}" : $"{name}={Uri.EscapeDataString(value)}";
                var answer = await http.GetAsync($"{path}?{query}");
                var body = await answer.Content.ReadAsStringAsync();
                Assert.True((int)answer.StatusCode is 200 or 400 or 404, $"{path}?{query}: {(int)answer.StatusCode}");
                Assert.DoesNotContain("<script>", body);
                Assert.DoesNotContain("<img src=x", body);
            }
    }

    [Fact]
    public async Task Hostile_keys_at_sign_in_are_refused_with_the_page_encoded_and_no_session()
    {
        foreach (var key in Hostile.Append(server.AccountantKey + "x").Append("lk_" + new string('0', 16) + "_" + new string('A', 43)))
        {
            using var http = server.Browserless(out var cookies);
            var page = await http.GetStringAsync("/");
            var answer = await http.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["csrf"] = AccountantWorkplaceFixture.CsrfOf(page), ["key"] = key }));
            // 401 for a key that is not one; 400 for a field longer than a form may carry.
            Assert.True(answer.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.BadRequest, $"{key[..Math.Min(20, key.Length)]}: {answer.StatusCode}");
            var body = await answer.Content.ReadAsStringAsync();
            Assert.DoesNotContain("<script>", body);
            Assert.DoesNotContain(key.Length > 3 ? key : "<never>", body);   // the key typed is not echoed back
            Assert.DoesNotContain(cookies.GetCookies(server.HttpAddress), c => c.Name == "loyalty_session");
        }
    }

    [Fact]
    public async Task Hostile_form_fields_are_refused_and_change_nothing()
    {
        using var http = server.Browserless(out _);
        var csrf = await server.SignInAsync(http, server.AccountantKey);
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        var before = (await admin.GetCardAsync(AccountantWorkplaceFixture.Poor)).Balance;
        foreach (var value in Hostile.Append("1e9").Append("99999999999999").Append("0"))
            foreach (var field in new[] { "store", "register", "shift", "receipt", "kind", "amount", "reason" })
            {
                var fields = new Dictionary<string, string>
                {
                    ["csrf"] = csrf, ["store"] = AccountantWorkplaceFixture.Store, ["register"] = "R1", ["shift"] = "7", ["receipt"] = "3", ["kind"] = "adjustment",
                    ["amount"] = "1", ["reason"] = "hostile",
                };
                fields[field] = value;
                var answer = await http.PostAsync("/resolve", new FormUrlEncodedContent(fields));
                var body = await answer.Content.ReadAsStringAsync();
                if (answer.StatusCode == HttpStatusCode.SeeOther)
                {
                    // A hostile reason is only text: stored as given, shown encoded. Undo nothing; it is the one accepted case.
                    Assert.Equal("reason", field);
                    break;
                }
                Assert.True((int)answer.StatusCode is 400 or 404 or 409, $"{field}={value}: {(int)answer.StatusCode}");
                Assert.DoesNotContain("<script>", body);
            }
        // Only the one accepted adjustment (1.00 rouble) moved the card, and the shift page shows its reason encoded.
        Assert.Equal(before + 100, (await admin.GetCardAsync(AccountantWorkplaceFixture.Poor)).Balance);
        var page = await http.GetStringAsync("/shift?store=WEB-01&register=R1&shift=7");
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", page);
        Assert.DoesNotContain("<script>", page);
        var oversized = await http.PostAsync("/resolve", new StringContent("csrf=" + csrf + "&reason=" + new string('x', 100_000), Encoding.ASCII, "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.BadRequest, oversized.StatusCode);
        var notForm = await http.PostAsync("/resolve", new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, notForm.StatusCode);
    }

    [Fact]
    public async Task Every_table_is_CSV_with_a_BOM_and_semicolons_and_the_statement_is_also_XLSX()
    {
        using var http = server.Browserless(out _);
        await server.SignInAsync(http, server.AccountantKey);
        foreach (var path in new[] { "/shifts?format=csv", "/shift?store=WEB-01&register=R1&shift=7&format=csv", "/debts?format=csv", "/liability?format=csv", $"/card?number={AccountantWorkplaceFixture.Rich}&format=csv" })
        {
            var answer = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal("text/csv", answer.Content.Headers.ContentType!.MediaType);
            var bytes = await answer.Content.ReadAsByteArrayAsync();
            Assert.Equal(new byte[] { 0xEF, 0xBB, 0xBF }, bytes[..3]);
            var text = Encoding.UTF8.GetString(bytes, 3, bytes.Length - 3);
            Assert.Contains(';', text.Split("\r\n")[0]);
        }
        var xlsx = await http.GetAsync("/liability?format=xlsx");
        Assert.Equal(HttpStatusCode.OK, xlsx.StatusCode);
        var zip = await xlsx.Content.ReadAsByteArrayAsync();
        Assert.Equal((byte)'P', zip[0]);   // an OOXML package is a zip: "PK"
        Assert.Equal((byte)'K', zip[1]);
    }

    [Fact]
    public async Task A_pos_key_is_refused_by_the_Reconciliation_service_and_an_accountant_key_is_served()
    {
        using var pos = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.PosKey, TimeSpan.FromSeconds(30));
        var refused = await Assert.ThrowsAsync<RpcException>(() => pos.ListShiftsAsync(new ListShiftsRequest()));
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        using var accountant = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AccountantKey, TimeSpan.FromSeconds(30));
        var shifts = await accountant.ListShiftsAsync(new ListShiftsRequest { StoreId = AccountantWorkplaceFixture.Store });
        var shift = Assert.Single(shifts.Shifts, s => s.ShiftNumber == 7);
        Assert.Equal(1, shift.Matched);
        Assert.Equal(1, shift.Mismatch);
        Assert.Equal(1, shift.OnlineOnly);
        Assert.Equal(1, shift.AppliedFromReport);
        Assert.Equal(1, shift.Debts);
        Assert.Equal(ShiftState.NeedsAttention, shift.State);
        Assert.Equal(ShiftState.Open, Assert.Single(shifts.Shifts, s => s.ShiftNumber == 8).State);
        var debts = await accountant.ListDebtsAsync(new ListDebtsRequest());
        var debt = Assert.Single(debts.Debts, d => d.CardNumber == AccountantWorkplaceFixture.Poor);
        Assert.True(debt.DebtNow > 0);
        // What repaid it (the same receipt's accrual, spendable at once) plus what is left is what the redemption overdrew.
        Assert.Equal(-debt.AvailableAfter, debt.Repayments.Sum(r => r.Amount) + debt.DebtNow);
        var bad = await Assert.ThrowsAsync<RpcException>(() => accountant.GetLiabilityStatementAsync(new LiabilityRequest { From = new BookDay { Year = 2026, Month = 2, Day = 30 }, To = new BookDay { Year = 2026, Month = 3, Day = 1 } }));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
    }
}
