using System.Net;
using System.Text.RegularExpressions;
using Google.Protobuf.WellKnownTypes;
using Loyalty.Api.Tests.Support;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests.Web;

/// <summary>
/// A real server with one reconciled shift (WEB-01/R1/7) that needs an accountant: receipt 1 matched,
/// receipt 2 a mismatch (the register gave 20.00 of bonuses the server did not see), receipt 3 online
/// only, receipt 4 applied from the report beyond the card's balance (a debt); shift 8 open (a receipt
/// committed online, no report yet); plus an accountant
/// key and a pos key.
/// </summary>
public sealed class AccountantWorkplaceFixture : ServerFixture, IAsyncLifetime
{
    public const string Store = "WEB-01";
    public const string Rich = "3000001";
    public const string Poor = "3000002";

    public string AccountantKey { get; private set; } = "";
    public string PosKey { get; private set; } = "";
    public Uri HttpAddress => Server.HttpAddress;

    async Task IAsyncLifetime.InitializeAsync()
    {
        await InitializeAsync();
        using var admin = LoyaltyClient.Create(GrpcAddress.ToString(), AdminKey, TimeSpan.FromSeconds(30));
        AccountantKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = "accountant", Name = "Мария <b>Бухгалтер</b>" })).ApiKey;
        PosKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = "pos", StoreId = Store, Name = "till 1" })).ApiKey;
        await admin.IssueCardAsync(new IssueCardRequest { CardNumber = Rich, Phone = "+79991234567", Email = "ivan@example.com" });
        await admin.IssueCardAsync(new IssueCardRequest { CardNumber = Poor });
        await admin.AdjustAsync(new AdjustRequest { OperationId = "web-open-rich", CardNumber = Rich, Amount = 1_000_00, Reason = "opening" });
        await admin.AdjustAsync(new AdjustRequest { OperationId = "web-open-poor", CardNumber = Poor, Amount = 10_00, Reason = "opening" });
        foreach (var (number, card, amount) in new[] { (1L, Rich, 100_00L), (2L, Rich, 200_00L), (3L, Poor, 50_00L) })
            await admin.CommitAsync(new CommitRequest { OperationId = $"web-commit-{number}", CardNumber = card, Receipt = Receipt(number, amount) });

        var report = new ShiftReport
        {
            StoreId = Store, RegisterId = "R1", ShiftNumber = 7, ClosedAt = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow), ZReportPresent = true,
            SourceFormat = "csv", Digest = new string('a', 64),
        };
        report.Receipts.Add(Reported(1, Rich, 100_00, 0));
        report.Receipts.Add(Reported(2, Rich, 200_00, 20_00));
        report.Receipts.Add(Reported(4, Poor, 300_00, 150_00));
        await admin.UploadShiftReportAsync(report);
        // Shift 8 is still open: a receipt committed online, no report yet.
        var open = Receipt(1, 40_00);
        open.Ref.ShiftNumber = 8;
        await admin.CommitAsync(new CommitRequest { OperationId = "web-commit-open", CardNumber = Rich, Receipt = open });
    }

    private static Receipt Receipt(long number, long amount)
    {
        var receipt = new Receipt { Ref = new ReceiptRef { StoreId = Store, RegisterId = "R1", ShiftNumber = 7, ReceiptNumber = number } };
        receipt.Lines.Add(new ReceiptLine { Sku = "MILK", Category = "food", Name = "Milk", QuantityMilli = 1000, Price = amount, Amount = amount });
        return receipt;
    }

    private static ReportedReceipt Reported(long number, string card, long amount, long bonus)
    {
        var receipt = new ReportedReceipt { ReceiptNumber = number, Kind = ReportedReceiptKind.Sale, CardNumber = card };
        receipt.Lines.Add(new ReportedLine { Sku = "MILK", Category = "food", Name = "Milk", QuantityMilli = 1000, Price = amount, Amount = amount, BonusDiscount = bonus });
        return receipt;
    }

    /// <summary>An HTTP client of the pages that keeps cookies and does not follow redirects (so a test sees each answer).</summary>
    public HttpClient Browserless(out CookieContainer cookies)
    {
        cookies = new CookieContainer();
        return new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = HttpAddress };
    }

    /// <summary>Signs an HTTP client in with <paramref name="key"/> the way the form does; returns the session's CSRF token from the next page.</summary>
    public async Task<string> SignInAsync(HttpClient http, string key)
    {
        var page = await http.GetStringAsync("/");
        var token = CsrfOf(page);
        var answer = await http.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string> { ["csrf"] = token, ["key"] = key }));
        Assert.Equal(HttpStatusCode.SeeOther, answer.StatusCode);
        return CsrfOf(await http.GetStringAsync("/shifts"));
    }

    public static string CsrfOf(string html) => Regex.Match(html, "name=\"csrf\" value=\"([^\"]+)\"").Groups[1].Value;
}
