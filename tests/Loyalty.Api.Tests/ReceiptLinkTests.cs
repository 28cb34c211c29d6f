using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Loyalty.Api.Tests.Support;
using Loyalty.AtolEmulator;
using Loyalty.PosAdapter.Client;
using Loyalty.PosAdapter.Fiscal;
using Loyalty.PosAdapter.Office;
using Loyalty.Protos.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Loyalty.Api.Tests;

/// <summary>
/// A server whose receipt links go to local stand-ins started first, on loopback: an SMS gateway
/// (a small Kestrel app recording the URLs it was called with, failing on demand) and an SMTP sink
/// (netDumbster).
/// </summary>
public sealed class NotifyingServerFixture : ServerFixture, IAsyncLifetime
{
    private WebApplication? _gateway;
    private int _smtpPort;

    public ConcurrentQueue<IQueryCollection> Sms { get; } = new();
    public netDumbster.smtp.SimpleSmtpServer Smtp { get; private set; } = null!;
    /// <summary>Answers the gateway gives while positive: 503.</summary>
    public int SmsFailures;
    private string _gatewayAddress = "";

    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["LOYALTY_SMS_URL"] = _gatewayAddress + "/send?to={phone}&msg={text}&api_id=test",
        ["LOYALTY_SMTP_HOST"] = "127.0.0.1",
        ["LOYALTY_SMTP_PORT"] = _smtpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["LOYALTY_SMTP_FROM"] = "chek@vodyanoy.example",
        ["LOYALTY_SMTP_TLS"] = "none",
        ["LOYALTY_RECEIPT_BASE_URL"] = "https://chek.vodyanoy.example",
    };

    async Task IAsyncLifetime.InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _gateway = builder.Build();
        _gateway.MapGet("/send", (HttpContext http) =>
        {
            if (Interlocked.Decrement(ref SmsFailures) >= 0) return Results.StatusCode(503);
            Sms.Enqueue(http.Request.Query);
            return Results.Text("100\n");
        });
        await _gateway.StartAsync();
        _gatewayAddress = _gateway.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _smtpPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        Smtp = netDumbster.smtp.SimpleSmtpServer.Start(_smtpPort);
        await InitializeAsync();
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        Smtp.Stop();
        if (_gateway is not null) await _gateway.DisposeAsync();
    }
}

/// <summary>
/// Dematerialized receipts (issue 13 point 6): the cashier's SMS or e-mail choice sends the receipt
/// page's link once the receipt is fiscalised; the link can be sent again; a gateway that is down
/// is told to the caller and recorded on the job.
/// </summary>
public sealed class ReceiptLinkTests(NotifyingServerFixture server) : IClassFixture<NotifyingServerFixture>, IAsyncLifetime
{
    private const string Office = "OFFICE-1";
    private AtolWebServerEmulator _printer = null!;
    private string _journal = "";
    private string _store = "";
    private LoyaltyClient _driver = null!;
    private LoyaltyClient _office = null!;

    public async Task InitializeAsync()
    {
        _printer = await AtolWebServerEmulator.StartAsync();
        _journal = Path.Combine(Path.GetTempPath(), "loyalty-links-" + Guid.NewGuid().ToString("N"));
        _store = "L" + Guid.NewGuid().ToString("N")[..8];
        using var admin = LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));
        _driver = LoyaltyClient.Create(server.GrpcAddress.ToString(), (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = "pos", StoreId = _store, Name = "driver" })).ApiKey, TimeSpan.FromSeconds(30));
        _office = LoyaltyClient.Create(server.GrpcAddress.ToString(), (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = "pos", StoreId = _store, Name = "office", OfficeRegisterId = Office })).ApiKey, TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        _driver.Dispose();
        _office.Dispose();
        await _printer.DisposeAsync();
        if (Directory.Exists(_journal)) Directory.Delete(_journal, recursive: true);
    }

    private async Task<PrintJob> PrintAsync(string operationId, ReceiptDelivery delivery, FiscalCustomerInfo customer)
    {
        var sale = new SubmitReceiptRequest
        {
            OperationId = operationId, OfficeRegisterId = Office, Delivery = delivery, Customer = customer,
            Receipt = new Receipt { Ref = new ReceiptRef { StoreId = _store, RegisterId = "DRIVER-1", ShiftNumber = 1, ReceiptNumber = 1 } },
        };
        sale.Receipt.Lines.Add(new ReceiptLine { Sku = "WATER19", Category = "water", Name = "Вода 19 л", QuantityMilli = 2000, Price = 350_00, Amount = 700_00 });
        sale.Payments.Add(new FiscalPaymentPart { Type = FiscalPaymentKind.Card, Amount = 700_00 });
        return await PrintedAsync(await _driver.SubmitReceiptAsync(sale), delivery);
    }

    /// <summary>Runs the office adapter until <paramref name="job"/> is done (and, for a link delivery, its notice is in).</summary>
    private async Task<PrintJob> PrintedAsync(PrintJob job, ReceiptDelivery delivery = ReceiptDelivery.Paper)
    {
        await using var adapter = OfficeAdapter.Open(new OfficeAdapterOptions
        {
            StoreId = _store, RegisterId = Office,
            Printer = new AtolDriverOptions { BaseAddress = _printer.BaseAddress, DataDirectory = _journal, RequestTimeout = TimeSpan.FromSeconds(1), PollInterval = TimeSpan.FromMilliseconds(40), MaxWait = TimeSpan.FromSeconds(3) },
            RetryInterval = TimeSpan.FromMilliseconds(100), ReconnectDelay = TimeSpan.FromMilliseconds(100),
        }, _office);
        using var stop = new CancellationTokenSource();
        var run = adapter.RunAsync(stop.Token);
        for (var round = 0; round < 600 && (job.State != PrintJobState.Done || (delivery != ReceiptDelivery.Paper && job.Notice.Length == 0)); round++)
        {
            await Task.Delay(50);
            job = await _driver.GetPrintJobAsync(job.JobId);
        }
        stop.Cancel();
        await run;
        Assert.Equal(PrintJobState.Done, job.State);
        return job;
    }

    [Fact]
    public async Task The_cashiers_SMS_choice_sends_the_receipt_link_to_the_mobile_phone_the_rule_chose_and_prints_no_paper()
    {
        var job = await PrintAsync("sms-1", ReceiptDelivery.Sms, new FiscalCustomerInfo { DeliveryAddress = new DeliveryAddressContacts { Phones = { "8 (495) 111-22-33", "8-916-555-44-33" } } });

        var sms = Assert.Single(server.Sms, q => q["to"] == "+79165554433");
        Assert.Equal($"Link sent by SMS to +79165554433.", job.Notice);
        Assert.Contains("https://chek.vodyanoy.example" + job.ReceiptUrl, sms["msg"].ToString());
        Assert.Contains("700.00", sms["msg"].ToString());
        Assert.True((bool?)Assert.Single(_printer.Receipts).Task["electronically"]);
    }

    [Fact]
    public async Task The_e_mail_choice_sends_the_link_by_SMTP_and_it_can_be_sent_again_to_another_address()
    {
        var job = await PrintAsync("mail-1", ReceiptDelivery.Email, new FiscalCustomerInfo { Email = "ivanov@example.ru" });
        var again = await _driver.ResendReceiptAsync(new ResendReceiptRequest { JobId = job.JobId, Channel = ResendChannel.Email, Contact = "buh@example.ru" });

        var mails = server.Smtp.ReceivedEmail.Where(m => m.MessageParts.Any(p => p.BodyData.Contains(job.ReceiptUrl, StringComparison.Ordinal))).ToList();
        Assert.Equal(["buh@example.ru", "ivanov@example.ru"], mails.Select(m => m.ToAddresses[0].Address).Order());
        Assert.Equal("Link sent by e-mail to ivanov@example.ru.", job.Notice);
        Assert.Equal("Link sent by e-mail to buh@example.ru.", again.Notice);
    }

    [Fact]
    public async Task A_resend_through_a_gateway_that_is_down_is_refused_as_unavailable_and_the_job_says_why()
    {
        var job = await PrintAsync("sms-down", ReceiptDelivery.Paper, new FiscalCustomerInfo { DeliveryAddress = new DeliveryAddressContacts { OfdContact = "+7 916 000-11-22" } });
        Interlocked.Exchange(ref server.SmsFailures, 1);

        var refused = await Assert.ThrowsAsync<RpcException>(() => _driver.ResendReceiptAsync(new ResendReceiptRequest { JobId = job.JobId, Channel = ResendChannel.Sms }));
        var read = await _driver.GetPrintJobAsync(job.JobId);
        var sent = await _driver.ResendReceiptAsync(new ResendReceiptRequest { JobId = job.JobId, Channel = ResendChannel.Sms });

        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("503", read.Notice);
        Assert.Equal("Link sent by SMS to +79160001122.", sent.Notice);
        Assert.Single(server.Sms, q => q["to"] == "+79160001122");
    }

    [Fact]
    public async Task A_receipt_link_is_sent_again_at_most_five_times_even_when_the_resends_come_at_once_and_the_rest_are_refused_unsent()
    {
        var job = await PrintAsync("sms-bound", ReceiptDelivery.Paper, new FiscalCustomerInfo { DeliveryAddress = new DeliveryAddressContacts { OfdContact = "+7 916 000-33-44" } });

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            try { await _driver.ResendReceiptAsync(new ResendReceiptRequest { JobId = job.JobId, Channel = ResendChannel.Sms }); return StatusCode.Ok; }
            catch (RpcException refused) { return refused.StatusCode; }
        }));

        Assert.Equal(5, outcomes.Count(o => o == StatusCode.Ok));
        Assert.Equal(3, outcomes.Count(o => o == StatusCode.FailedPrecondition));
        Assert.Equal(5, server.Sms.Count(q => q["to"] == "+79160003344"));
        var refused = await Assert.ThrowsAsync<RpcException>(() => _driver.ResendReceiptAsync(new ResendReceiptRequest { JobId = job.JobId, Channel = ResendChannel.Sms }));
        Assert.Contains("already sent again 5 times", refused.Message);
        // A paper copy is the same receipt: its job starts no new count.
        var copy = await PrintedAsync(await _driver.ReprintReceiptAsync(new ReprintReceiptRequest { JobId = job.JobId, OperationId = "sms-bound-copy" }));
        var viaCopy = await Assert.ThrowsAsync<RpcException>(() => _driver.ResendReceiptAsync(new ResendReceiptRequest { JobId = copy.JobId, Channel = ResendChannel.Sms }));
        Assert.Equal(StatusCode.FailedPrecondition, viaCopy.StatusCode);
        Assert.Contains($"receipt job {job.JobId} was already sent again 5 times", viaCopy.Message);
        Assert.Equal(5, server.Sms.Count(q => q["to"] == "+79160003344"));
    }

    [Fact]
    public async Task A_link_is_resent_to_a_phone_in_any_usual_form_normalised_and_a_contact_of_the_wrong_kind_is_refused_unsent()
    {
        var job = await PrintAsync("resend-forms", ReceiptDelivery.Paper, new FiscalCustomerInfo { Email = "ivanov@example.ru" });

        var sent = await _driver.ResendReceiptAsync(new ResendReceiptRequest { JobId = job.JobId, Channel = ResendChannel.Sms, Contact = "8 (916) 000-55-66" });
        var notAnEmail = await Assert.ThrowsAsync<RpcException>(() => _driver.ResendReceiptAsync(new ResendReceiptRequest { JobId = job.JobId, Channel = ResendChannel.Email, Contact = "not an email" }));
        var landline = await Assert.ThrowsAsync<RpcException>(() => _driver.ResendReceiptAsync(new ResendReceiptRequest { JobId = job.JobId, Channel = ResendChannel.Sms, Contact = "8 495 123-45-67" }));

        Assert.Equal("Link sent by SMS to +79160005566.", sent.Notice);
        Assert.Single(server.Sms, q => q["to"] == "+79160005566");
        Assert.Equal((StatusCode.InvalidArgument, StatusCode.InvalidArgument), (notAnEmail.StatusCode, landline.StatusCode));
        Assert.DoesNotContain(server.Sms, q => q["to"] == "+74951234567");
    }
}
