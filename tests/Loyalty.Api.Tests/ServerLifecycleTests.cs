using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Health.V1;
using Loyalty.Api.Tests.Support;
using Loyalty.Grains.Tests.Support;
using Loyalty.Protos.V1;
using Loyalty.Silo;

namespace Loyalty.Api.Tests;

/// <summary>Servers started and stopped by the test itself: shutdown while calls are in flight, TLS.</summary>
public class ServerLifecycleTests : IAsyncLifetime
{
    private string _dataDirectory = "";
    private string _database = "";

    public async Task InitializeAsync()
    {
        _dataDirectory = TestDatabase.CreateTempDirectory();
        _database = await TestDatabase.CreateAsync("lifecycle");
    }

    public Task DisposeAsync()
    {
        TestDatabase.DeleteTempDirectory(_dataDirectory);
        return Task.CompletedTask;
    }

    private Task<LoyaltyServer> StartAsync(params (string Name, string Value)[] settings)
    {
        var values = new Dictionary<string, string?>
        {
            [SiloOptions.DataDirectoryVariable] = _dataDirectory,
            [SiloOptions.DatabaseVariable] = _database,
            [SiloOptions.GrpcUrlVariable] = "http://127.0.0.1:0",
            [SiloOptions.HttpUrlVariable] = "http://127.0.0.1:0",
            [SiloOptions.SiloPortVariable] = "0",
        };
        foreach (var (name, value) in settings) values[name] = value;
        return LoyaltyServer.StartAsync([], values);
    }

    [Fact]
    public async Task Stopping_the_server_mid_load_answers_or_refuses_every_call_and_stores_every_acknowledged_write()
    {
        var server = await StartAsync();
        var key = (await File.ReadAllTextAsync(server.Options.AdminKeyPath)).Trim();
        using var grpc = new RawGrpc(server.GrpcAddress);
        var card = "L" + Guid.NewGuid().ToString("N")[..12];
        Assert.Equal(0, (await grpc.CallAsync("/loyalty.v1.Admin/IssueCard", new IssueCardRequest { CardNumber = card }, key)).GrpcStatus);

        var acknowledged = new List<string>();
        var calls = Enumerable.Range(0, 400).Select(async i =>
        {
            await Task.Delay(i / 4);
            var operationId = $"stop-{i}";
            try
            {
                var reply = await grpc.CallAsync("/loyalty.v1.Admin/Adjust", new AdjustRequest { OperationId = operationId, CardNumber = card, Amount = 100, Reason = "load" }, key);
                if (reply.GrpcStatus == 0) lock (acknowledged) acknowledged.Add(operationId);
                else Assert.True(reply.GrpcStatus is 14 or 1, $"A call during shutdown got {reply.GrpcStatus}: {reply.GrpcMessage}");
            }
            catch (HttpRequestException)
            {
                // Refused at the connection: the server had stopped accepting. Nothing was acknowledged.
            }
        }).ToArray();
        await Task.Delay(30);
        await server.DisposeAsync();
        await Task.WhenAll(calls);

        Assert.NotEmpty(acknowledged);
        var again = await StartAsync();
        await using (again)
        {
            Assert.Empty(await again.Engine.CheckInvariantsAsync());
            await using var command = again.Engine.DataSource.CreateCommand("SELECT count(*) FROM operations WHERE operation_id = ANY($1)");
            command.Parameters.AddWithValue(acknowledged.ToArray());
            Assert.Equal((long)acknowledged.Count, await command.ExecuteScalarAsync());
        }
    }

    [Fact]
    public async Task Stopping_the_server_ends_health_watches_with_NOT_SERVING_instead_of_waiting_for_them()
    {
        var server = await StartAsync();
        using var client = Loyalty.PosAdapter.Client.LoyaltyClient.Create(server.GrpcAddress.ToString(), apiKey: null);
        var seen = new List<HealthCheckResponse.Types.ServingStatus>();
        var firstSeen = new TaskCompletionSource();
        var watching = Task.Run(async () =>
        {
            try
            {
                await foreach (var status in client.WatchHealthAsync())
                {
                    seen.Add(status.Status);
                    firstSeen.TrySetResult();
                }
            }
            catch (Loyalty.PosAdapter.Client.RpcException)
            {
                // The connection going away at the very end is fine; what matters is what came before.
            }
        });
        await firstSeen.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await server.DisposeAsync();
        await watching.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(stopping.Elapsed < LoyaltyServer.ShutdownTimeout / 2, $"The stop took {stopping.Elapsed}: an open watch held it up.");
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, seen[0]);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, seen[^1]);
    }

    [Fact]
    public async Task Stopping_the_server_ends_an_office_registers_print_feed_with_UNAVAILABLE_instead_of_waiting_for_it()
    {
        var server = await StartAsync();
        using var admin = Loyalty.PosAdapter.Client.LoyaltyClient.Create(server.GrpcAddress.ToString(), (await File.ReadAllTextAsync(server.Options.AdminKeyPath)).Trim());
        var officeKey = (await admin.CreateApiKeyAsync(new CreateApiKeyRequest { Role = "pos", StoreId = "S1", Name = "office", OfficeRegisterId = "OFFICE-1" })).ApiKey;
        using var office = Loyalty.PosAdapter.Client.LoyaltyClient.Create(server.GrpcAddress.ToString(), officeKey);
        var sale = new SubmitReceiptRequest { OperationId = "feed-1", OfficeRegisterId = "OFFICE-1", Receipt = new Receipt { Ref = new ReceiptRef { StoreId = "S1", RegisterId = "D1", ShiftNumber = 1, ReceiptNumber = 1 } } };
        sale.Receipt.Lines.Add(new ReceiptLine { Sku = "A", Category = "c", Name = "A", QuantityMilli = 1000, Price = 100_00, Amount = 100_00 });
        sale.Payments.Add(new FiscalPaymentPart { Type = FiscalPaymentKind.Cash, Amount = 100_00 });
        await office.SubmitReceiptAsync(sale);
        var firstTask = new TaskCompletionSource();
        var feeding = Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in office.ReceivePrintJobsAsync("S1", "OFFICE-1")) firstTask.TrySetResult();
                return (StatusCode?)null;
            }
            catch (Loyalty.PosAdapter.Client.RpcException ended) { return ended.StatusCode; }
        });
        await firstTask.Task.WaitAsync(TimeSpan.FromSeconds(30));

        var stopping = System.Diagnostics.Stopwatch.StartNew();
        await server.DisposeAsync();
        var ended = await feeding.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(stopping.Elapsed < LoyaltyServer.ShutdownTimeout / 2, $"The stop took {stopping.Elapsed}: the open print feed held it up.");
        Assert.Equal(StatusCode.Unavailable, ended);
    }

    [Fact]
    public async Task With_a_certificate_the_grpc_port_speaks_TLS_with_ALPN_h2()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificatePath = Path.Combine(_dataDirectory, "server.crt");
        var keyPath = Path.Combine(_dataDirectory, "server.key");
        await File.WriteAllTextAsync(certificatePath, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, rsa.ExportPkcs8PrivateKeyPem());

        await using var server = await StartAsync(
            (SiloOptions.GrpcUrlVariable, "https://127.0.0.1:0"),
            (SiloOptions.TlsCertificateVariable, certificatePath),
            (SiloOptions.TlsKeyVariable, keyPath));
        Assert.Equal("https", server.GrpcAddress.Scheme);

        var thumbprint = certificate.Thumbprint;
        using var http = new HttpClient(new SocketsHttpHandler
        {
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, cert, _, _) => cert?.GetCertHashString() == thumbprint },
        }) { BaseAddress = server.GrpcAddress };
        using var call = new HttpRequestMessage(HttpMethod.Post, "/grpc.health.v1.Health/Check")
        {
            Content = new ByteArrayContent(RawGrpc.Frame(new HealthCheckRequest())),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        call.Content.Headers.ContentType = new("application/grpc");
        using var response = await http.SendAsync(call);
        var body = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("0", response.TrailingHeaders.GetValues("grpc-status").Single());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, HealthCheckResponse.Parser.ParseFrom(body.AsSpan(5)).Status);
    }

    [Fact]
    public async Task Two_servers_on_one_database_share_keys_and_cards_and_lose_no_update()
    {
        await using var first = await StartAsync();
        var secondDirectory = TestDatabase.CreateTempDirectory();
        try
        {
            await using var second = await StartAsync((SiloOptions.DataDirectoryVariable, secondDirectory));
            // The database already had an admin key, so the second server made none of its own.
            Assert.False(File.Exists(second.Options.AdminKeyPath));
            var key = (await File.ReadAllTextAsync(first.Options.AdminKeyPath)).Trim();
            using var one = new RawGrpc(first.GrpcAddress);
            using var two = new RawGrpc(second.GrpcAddress);
            var cards = Enumerable.Range(0, 4).Select(i => $"M{Guid.NewGuid():N}"[..16]).ToArray();
            foreach (var card in cards)
                Assert.Equal(0, (await one.CallAsync("/loyalty.v1.Admin/IssueCard", new IssueCardRequest { CardNumber = card }, key)).GrpcStatus);

            // 400 adjustments of 1.00 on 4 cards, each card written through both servers in turn: the two
            // servers are one Orleans cluster, so each card has one activation whichever server is called.
            var replies = await Task.WhenAll(Enumerable.Range(0, 400).Select(i =>
                (i / 4 % 2 == 0 ? one : two).CallAsync("/loyalty.v1.Admin/Adjust",
                    new AdjustRequest { OperationId = $"two-{i}", CardNumber = cards[i % 4], Amount = 100, Reason = "both servers" }, key)));
            Assert.All(replies, reply => Assert.Equal(0, reply.GrpcStatus));
            // A read on either server sees the last acknowledged write at once.
            foreach (var card in cards)
                foreach (var server in new[] { one, two })
                    Assert.Equal(100 * 100, (await server.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = card }, key)).Message(Card.Parser).Balance);
            Assert.Empty(await first.Engine.CheckInvariantsAsync());
        }
        finally
        {
            TestDatabase.DeleteTempDirectory(secondDirectory);
        }
    }

    [Fact]
    public async Task A_key_revoked_through_one_server_is_refused_by_the_other_server_of_the_cluster_once_its_cache_second_has_passed()
    {
        await using var first = await StartAsync();
        var secondDirectory = TestDatabase.CreateTempDirectory();
        try
        {
            await using var second = await StartAsync((SiloOptions.DataDirectoryVariable, secondDirectory));
            var admin = (await File.ReadAllTextAsync(first.Options.AdminKeyPath)).Trim();
            using var one = new RawGrpc(first.GrpcAddress);
            using var two = new RawGrpc(second.GrpcAddress);
            var created = (await one.CallAsync("/loyalty.v1.Admin/CreateApiKey", new CreateApiKeyRequest { Role = "pos", StoreId = "S1", Name = "lost till" }, admin)).Message(CreateApiKeyReply.Parser);
            var probe = new GetCardRequest { CardNumber = "2000001" };
            // The second server has verified the key and keeps it for its cache second.
            Assert.Equal(5, (await two.CallAsync("/loyalty.v1.Cards/GetCard", probe, created.ApiKey)).GrpcStatus);   // NOT_FOUND: the key works

            Assert.Equal(0, (await one.CallAsync("/loyalty.v1.Admin/RevokeApiKey", new RevokeApiKeyRequest { KeyId = created.KeyId }, admin)).GrpcStatus);
            // The cache second, with room for a slow machine; counted in calls, each after a short pause.
            int? status;
            var calls = 0;
            do
            {
                await Task.Delay(100);
                status = (await two.CallAsync("/loyalty.v1.Cards/GetCard", probe, created.ApiKey)).GrpcStatus;
                calls++;
            }
            while (status != 16 && calls < 50);

            Assert.Equal(16, status);   // UNAUTHENTICATED on the other server too
        }
        finally
        {
            TestDatabase.DeleteTempDirectory(secondDirectory);
        }
    }

    [Fact]
    public async Task The_last_admin_key_in_force_cannot_be_revoked_so_the_server_always_has_an_administrator()
    {
        await using var server = await StartAsync();
        using var grpc = new RawGrpc(server.GrpcAddress);
        var first = (await File.ReadAllTextAsync(server.Options.AdminKeyPath)).Trim();
        var firstId = first.Split('_')[1];

        var alone = await grpc.CallAsync("/loyalty.v1.Admin/RevokeApiKey", new RevokeApiKeyRequest { KeyId = firstId }, first);
        Assert.Equal(9, alone.GrpcStatus);
        Assert.Contains("last admin key", alone.GrpcMessage);

        var second = (await grpc.CallAsync("/loyalty.v1.Admin/CreateApiKey", new CreateApiKeyRequest { Role = "admin", Name = "second admin" }, first)).Message(CreateApiKeyReply.Parser);
        Assert.Equal(0, (await grpc.CallAsync("/loyalty.v1.Admin/RevokeApiKey", new RevokeApiKeyRequest { KeyId = firstId }, second.ApiKey)).GrpcStatus);
        Assert.Equal(16, (await grpc.CallAsync("/loyalty.v1.Admin/GetProgram", new GetProgramRequest(), first)).GrpcStatus);
        Assert.Equal(9, (await grpc.CallAsync("/loyalty.v1.Admin/RevokeApiKey", new RevokeApiKeyRequest { KeyId = second.KeyId }, second.ApiKey)).GrpcStatus);
        Assert.Equal(5, (await grpc.CallAsync("/loyalty.v1.Admin/RevokeApiKey", new RevokeApiKeyRequest { KeyId = "0000000000000000" }, second.ApiKey)).GrpcStatus);
        Assert.Equal(0, (await grpc.CallAsync("/loyalty.v1.Admin/GetProgram", new GetProgramRequest(), second.ApiKey)).GrpcStatus);
    }

    [Fact]
    public async Task A_second_start_on_the_same_database_keeps_the_first_admin_key_working()
    {
        string key;
        await using (var first = await StartAsync())
            key = (await File.ReadAllTextAsync(first.Options.AdminKeyPath)).Trim();
        await using var second = await StartAsync();
        using var grpc = new RawGrpc(second.GrpcAddress);
        Assert.Equal(key, (await File.ReadAllTextAsync(second.Options.AdminKeyPath)).Trim());
        var reply = await grpc.CallAsync("/loyalty.v1.Admin/GetProgram", new GetProgramRequest(), key);
        Assert.Equal(0, reply.GrpcStatus);
        Assert.Equal(500, reply.Message(Loyalty.Protos.V1.Program.Parser).AccrualBp);
    }
}
