using Loyalty.Api.Tests.Support;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests;

public class AuthorizationTests(ServerFixture server) : IClassFixture<ServerFixture>, IDisposable
{
    private readonly RawGrpc _grpc = new(server.GrpcAddress);

    public void Dispose() => _grpc.Dispose();

    private async Task<string> KeyAsync(string role, string store = "")
    {
        var reply = await _grpc.CallAsync("/loyalty.v1.Admin/CreateApiKey", new CreateApiKeyRequest { Role = role, StoreId = store, Name = $"{role} {store}" }, server.AdminKey);
        Assert.Equal(0, reply.GrpcStatus);
        return reply.Message(CreateApiKeyReply.Parser).ApiKey;
    }

    private async Task<string> FundedCardAsync(long kopecks)
    {
        var number = $"A{Guid.NewGuid():N}"[..20];
        Assert.Equal(0, (await _grpc.CallAsync("/loyalty.v1.Admin/IssueCard", new IssueCardRequest { CardNumber = number }, server.AdminKey)).GrpcStatus);
        Assert.Equal(0, (await _grpc.CallAsync("/loyalty.v1.Admin/Adjust", new AdjustRequest { OperationId = Guid.NewGuid().ToString(), CardNumber = number, Amount = kopecks, Reason = "welcome" }, server.AdminKey)).GrpcStatus);
        return number;
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void The_first_admin_key_file_is_readable_by_its_owner_only()
    {
        var mode = File.GetUnixFileMode(server.Server.Options.AdminKeyPath);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        Assert.StartsWith("lk_", server.AdminKey);
    }

    [Fact]
    public async Task Keys_are_stored_as_hashes_never_as_the_key_itself()
    {
        var key = await KeyAsync("accountant");
        await using var command = server.Server.Engine.DataSource.CreateCommand("SELECT count(*) FROM api_keys WHERE encode(secret_hash, 'escape') LIKE '%' || $1 || '%' OR key_id = $2");
        command.Parameters.AddWithValue(key.Split('_')[2]);
        command.Parameters.AddWithValue(key);
        Assert.Equal(0L, await command.ExecuteScalarAsync());
    }

    [Theory]
    [InlineData("Bearer lk_0000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("Bearer not-a-key")]
    [InlineData("Basic dXNlcjpwYXNz")]
    public async Task A_wrong_or_malformed_key_is_unauthenticated(string authorization)
    {
        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", RawGrpc.Frame(new GetCardRequest { CardNumber = "1" }), key: null, timeout: null);
        Assert.Equal(16, reply.GrpcStatus);
        using var http = new HttpClient { BaseAddress = server.GrpcAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/loyalty.v1.Cards/GetCard")
        {
            Content = new ByteArrayContent(RawGrpc.Frame(new GetCardRequest { CardNumber = "1" })),
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new("application/grpc");
        request.Headers.TryAddWithoutValidation("authorization", authorization);
        using var response = await http.SendAsync(request);
        Assert.Equal("16", response.Headers.GetValues("grpc-status").Single());
    }

    [Fact]
    public async Task A_made_up_key_is_looked_up_in_the_database_once_then_refused_from_memory()
    {
        var dataSource = Npgsql.NpgsqlDataSource.Create(server.Server.Options.ConnectionString!);
        var keys = new Auth.ApiKeyStore(dataSource, TimeProvider.System);
        const string madeUp = "lk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        Assert.Null(await keys.VerifyAsync(madeUp));
        await dataSource.DisposeAsync();
        // With the database out of reach, the same made-up key is still refused at once.
        for (var i = 0; i < 1_000; i++) Assert.Null(await keys.VerifyAsync(madeUp));
    }

    [Fact]
    public async Task A_key_whose_secret_is_altered_is_unauthenticated()
    {
        var key = await KeyAsync("accountant");
        var altered = key[..^1] + (key[^1] == 'A' ? 'B' : 'A');
        Assert.Equal(0, (await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = await FundedCardAsync(100) }, key)).GrpcStatus);
        Assert.Equal(16, (await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = "1" }, altered)).GrpcStatus);
    }

    [Fact]
    public async Task A_revoked_key_stops_working_at_once_and_is_listed_as_revoked()
    {
        var created = (await _grpc.CallAsync("/loyalty.v1.Admin/CreateApiKey", new CreateApiKeyRequest { Role = "pos", StoreId = "S9", Name = "lost till" }, server.AdminKey)).Message(CreateApiKeyReply.Parser);
        var card = await FundedCardAsync(100);
        Assert.Equal(0, (await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = card }, created.ApiKey)).GrpcStatus);

        var revoked = (await _grpc.CallAsync("/loyalty.v1.Admin/RevokeApiKey", new RevokeApiKeyRequest { KeyId = created.KeyId }, server.AdminKey)).Message(ApiKeyInfo.Parser);
        Assert.NotNull(revoked.RevokedAt);
        Assert.Equal(16, (await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = card }, created.ApiKey)).GrpcStatus);
        var again = (await _grpc.CallAsync("/loyalty.v1.Admin/RevokeApiKey", new RevokeApiKeyRequest { KeyId = created.KeyId }, server.AdminKey)).Message(ApiKeyInfo.Parser);
        Assert.Equal(revoked, again);

        var inForce = (await _grpc.CallAsync("/loyalty.v1.Admin/ListApiKeys", new ListApiKeysRequest(), server.AdminKey)).Message(ListApiKeysReply.Parser);
        Assert.DoesNotContain(inForce.Keys, k => k.KeyId == created.KeyId);
        var all = (await _grpc.CallAsync("/loyalty.v1.Admin/ListApiKeys", new ListApiKeysRequest { IncludeRevoked = true }, server.AdminKey)).Message(ListApiKeysReply.Parser);
        Assert.Contains(all.Keys, k => k.KeyId == created.KeyId && k.RevokedAt is not null && k.Name == "lost till");
        // The secret is everything after "lk_<id>_"; base64url may itself contain '_', so it is not split on '_'.
        Assert.DoesNotContain(server.AdminKey[(Auth.ApiKeyStore.Prefix.Length + 17)..], all.ToString());
    }

    [Fact]
    public async Task A_pos_key_may_not_call_the_Admin_service()
    {
        var pos = await KeyAsync("pos", "S1");
        var reply = await _grpc.CallAsync("/loyalty.v1.Admin/IssueCard", new IssueCardRequest { CardNumber = "999" }, pos);
        Assert.Equal(7, reply.GrpcStatus);
    }

    [Fact]
    public async Task A_pos_key_may_not_redeem_on_a_receipt_of_another_store_and_nothing_changes()
    {
        var card = await FundedCardAsync(100_000);
        var storeB = await KeyAsync("pos", "S2");
        var reply = await _grpc.CallAsync("/loyalty.v1.Cards/Redeem",
            new RedeemRequest { OperationId = "r1", CardNumber = card, Receipt = Receipts.Of("S1", 1, 50_000), Amount = 1_000 }, storeB);
        Assert.Equal(7, reply.GrpcStatus);
        Assert.Contains("store S2", reply.GrpcMessage);
        var after = (await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = card }, server.AdminKey)).Message(Card.Parser);
        Assert.Equal(0, after.Held);
    }

    [Fact]
    public async Task A_pos_key_may_not_even_quote_a_receipt_of_another_store()
    {
        var card = await FundedCardAsync(100_000);
        var storeB = await KeyAsync("pos", "S2");
        var other = await _grpc.CallAsync("/loyalty.v1.Cards/Quote", new QuoteRequest { CardNumber = card, Receipt = Receipts.Of("S1", 9, 50_000) }, storeB);
        Assert.Equal(7, other.GrpcStatus);
        var own = await _grpc.CallAsync("/loyalty.v1.Cards/Quote", new QuoteRequest { CardNumber = card, Receipt = Receipts.Of("S2", 9, 50_000) }, storeB);
        Assert.Equal(15_000, own.Message(QuoteReply.Parser).MaxRedeem);
    }

    [Fact]
    public async Task A_pos_key_may_not_cancel_a_hold_made_by_another_store()
    {
        var card = await FundedCardAsync(100_000);
        var storeA = await KeyAsync("pos", "S1");
        var storeB = await KeyAsync("pos", "S2");
        var hold = (await _grpc.CallAsync("/loyalty.v1.Cards/Redeem",
            new RedeemRequest { OperationId = "h1", CardNumber = card, Receipt = Receipts.Of("S1", 2, 50_000), Amount = 1_000 }, storeA)).Message(RedeemReply.Parser);
        var refused = await _grpc.CallAsync("/loyalty.v1.Cards/Cancel", new CancelRequest { OperationId = "c1", HoldId = hold.HoldId }, storeB);
        Assert.Equal(7, refused.GrpcStatus);
        var cancelled = await _grpc.CallAsync("/loyalty.v1.Cards/Cancel", new CancelRequest { OperationId = "c2", HoldId = hold.HoldId }, storeA);
        Assert.Equal(1_000, cancelled.Message(CancelReply.Parser).Released);
    }

    [Fact]
    public async Task An_accountant_key_reads_cards_but_may_not_change_balances()
    {
        var card = await FundedCardAsync(100_000);
        var accountant = await KeyAsync("accountant");
        Assert.Equal(0, (await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = card }, accountant)).GrpcStatus);
        var redeem = await _grpc.CallAsync("/loyalty.v1.Cards/Redeem",
            new RedeemRequest { OperationId = "a1", CardNumber = card, Receipt = Receipts.Of("S1", 3, 50_000), Amount = 1_000 }, accountant);
        Assert.Equal(7, redeem.GrpcStatus);
    }

    [Theory]
    [InlineData("pos", "")]
    [InlineData("admin", "S1")]
    [InlineData("cashier", "")]
    public async Task A_key_with_an_unknown_role_or_a_store_that_does_not_fit_its_role_is_refused(string role, string store)
    {
        var reply = await _grpc.CallAsync("/loyalty.v1.Admin/CreateApiKey", new CreateApiKeyRequest { Role = role, StoreId = store, Name = "x" }, server.AdminKey);
        Assert.Equal(3, reply.GrpcStatus);
    }

    [Fact]
    public async Task Adjustments_record_the_name_of_the_key_that_made_them()
    {
        var card = await FundedCardAsync(12_345);
        var statement = (await _grpc.CallAsync("/loyalty.v1.Admin/GetStatement", new GetStatementRequest { CardNumber = card }, server.AdminKey)).Message(GetStatementReply.Parser);
        Assert.Contains("first admin key", statement.Entries.Single().Actor);
        Assert.Equal("welcome", statement.Entries.Single().Reason);
    }
}
