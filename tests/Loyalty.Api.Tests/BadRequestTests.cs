using Google.Protobuf;
using Loyalty.Api.Tests.Support;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests;

/// <summary>Hostile or careless requests through the API: each gets a clear status and changes nothing.</summary>
public class BadRequestTests(ServerFixture server) : IClassFixture<ServerFixture>, IAsyncLifetime
{
    private readonly RawGrpc _grpc = new(server.GrpcAddress);
    private string _card = "";

    public async Task InitializeAsync()
    {
        _card = "B" + Guid.NewGuid().ToString("N")[..12];
        Assert.Equal(0, (await _grpc.CallAsync("/loyalty.v1.Admin/IssueCard", new IssueCardRequest { CardNumber = _card }, server.AdminKey)).GrpcStatus);
        Assert.Equal(0, (await _grpc.CallAsync("/loyalty.v1.Admin/Adjust", new AdjustRequest { OperationId = $"open-{_card}", CardNumber = _card, Amount = 100_000, Reason = "opening" }, server.AdminKey)).GrpcStatus);
    }

    public Task DisposeAsync()
    {
        _grpc.Dispose();
        return Task.CompletedTask;
    }

    private Receipt Receipt(int lines = 1, long amount = 50_000) => Receipts.Of("S1", 1, Enumerable.Repeat(amount, lines).ToArray());

    public static TheoryData<string, string> Cases() => new()
    {
        { "redeem of a negative amount", "amount" },
        { "redeem of long.MaxValue", "limit" },
        { "redeem of zero", "amount" },
        { "adjust by long.MinValue", "limit" },
        { "adjust without a reason", "reason" },
        { "an operation id of 65 characters", "operation id" },
        { "an empty operation id", "operation id" },
        { "a reserved operation id", "reserved" },
        { "a card number of 10,000 characters", "card number" },
        { "a card number with a control character", "card number" },
        { "a receipt without lines", "no lines" },
        { "a receipt of 1,001 lines", "1000" },
        { "a receipt without its reference", "receipt reference" },
        { "a line with a negative amount", "of line 1" },
        { "a line with an overflowing amount", "of line 1" },
        { "a SKU twice in one receipt", "more than once" },
        { "a refund without its original receipt", "original receipt" },
        { "a page size of a million", "page size" },
    };

    private IMessage Request(string name) => name switch
    {
        "redeem of a negative amount" => Redeem(-5),
        "redeem of long.MaxValue" => Redeem(long.MaxValue),
        "redeem of zero" => Redeem(0),
        "adjust by long.MinValue" => new AdjustRequest { OperationId = "x1", CardNumber = _card, Amount = long.MinValue, Reason = "r" },
        "adjust without a reason" => new AdjustRequest { OperationId = "x2", CardNumber = _card, Amount = 100 },
        "an operation id of 65 characters" => Redeem(100, operationId: new string('o', 65)),
        "an empty operation id" => Redeem(100, operationId: ""),
        "a reserved operation id" => Redeem(100, operationId: "sys:expire"),
        "a card number of 10,000 characters" => Redeem(100, card: new string('7', 10_000)),
        "a card number with a control character" => Redeem(100, card: "12\u000734"),
        "a receipt without lines" => Redeem(100, receipt: new Receipt { Ref = Receipt().Ref }),
        "a receipt of 1,001 lines" => Redeem(100, receipt: Receipts.Of("S1", 1, Enumerable.Repeat(1_000L, 1_001).ToArray())),
        "a receipt without its reference" => Redeem(100, receipt: new Receipt { Lines = { Receipt().Lines } }),
        "a line with a negative amount" => Redeem(100, receipt: Receipt(amount: -1)),
        "a line with an overflowing amount" => Redeem(100, receipt: Receipt(amount: long.MaxValue)),
        "a SKU twice in one receipt" => Redeem(100, receipt: new Receipt { Ref = Receipt().Ref, Lines = { Receipt().Lines, Receipt().Lines } }),
        "a refund without its original receipt" => new RefundRequest { OperationId = "f1", CardNumber = _card, Lines = { new ReturnedLine { Sku = "A", QuantityMilli = 1 } } },
        "a page size of a million" => new GetStatementRequest { CardNumber = _card, PageSize = 1_000_000 },
        _ => throw new ArgumentException(name),
    };

    private RedeemRequest Redeem(long amount, string operationId = "r1", string? card = null, Receipt? receipt = null) =>
        new() { OperationId = operationId, CardNumber = card ?? _card, Receipt = receipt ?? Receipt(), Amount = amount };

    private static string PathOf(IMessage request) => request switch
    {
        RedeemRequest => "/loyalty.v1.Cards/Redeem",
        CommitRequest => "/loyalty.v1.Cards/Commit",
        RefundRequest => "/loyalty.v1.Cards/Refund",
        AdjustRequest => "/loyalty.v1.Admin/Adjust",
        GetStatementRequest => "/loyalty.v1.Admin/GetStatement",
        _ => throw new ArgumentException(request.GetType().Name),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_request_is_an_invalid_argument_that_says_what_is_wrong_and_changes_nothing(string name, string messagePart)
    {
        var before = (await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = _card }, server.AdminKey)).Message(Card.Parser);
        var request = Request(name);
        var reply = await _grpc.CallAsync(PathOf(request), request, server.AdminKey);

        Assert.Equal(3, reply.GrpcStatus);
        Assert.Contains(messagePart, reply.GrpcMessage, StringComparison.OrdinalIgnoreCase);
        Assert.EndsWith(".", reply.GrpcMessage);
        var after = (await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = _card }, server.AdminKey)).Message(Card.Parser);
        Assert.Equal(before, after);
    }

    [Fact]
    public async Task A_commit_naming_a_hold_that_was_never_given_is_not_found_and_changes_nothing()
    {
        var reply = await _grpc.CallAsync("/loyalty.v1.Cards/Commit",
            new CommitRequest { OperationId = "c1", CardNumber = _card, Receipt = Receipt(), HoldId = "not-a-hold" }, server.AdminKey);
        Assert.Equal(5, reply.GrpcStatus);
        var card = (await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = _card }, server.AdminKey)).Message(Card.Parser);
        Assert.Equal((100_000L, 2L), (card.Balance, card.Version));
    }

    [Fact]
    public async Task Invalid_UTF8_in_a_string_field_is_refused_without_harm()
    {
        // Field 1 (card_number), length 4, bytes that are not UTF-8.
        var reply = await _grpc.SendAsync("/loyalty.v1.Cards/GetCard", RawGrpc.Frame([0x0A, 0x04, 0xC3, 0x28, 0xFF, 0xFE]), server.AdminKey);
        Assert.Equal(3, reply.GrpcStatus);
        Assert.Equal(0, (await _grpc.CallAsync("/loyalty.v1.Cards/GetCard", new GetCardRequest { CardNumber = _card }, server.AdminKey)).GrpcStatus);
    }
}
