using Loyalty.Api.Tests.Support;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.Api.Tests;

/// <summary>
/// The three failures of issue 9, replayed over gRPC exactly as they were found (default programme:
/// 5 %, cap 30 %, min line 1.00): each is now refused with FAILED_PRECONDITION, and the refusal
/// carries what the till needs to recover, in the message and as trailing metadata.
/// </summary>
public sealed class ReceiptLifecycleApiTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private LoyaltyClient Admin() => LoyaltyClient.Create(server.GrpcAddress.ToString(), server.AdminKey, TimeSpan.FromSeconds(30));

    private static Receipt OneLine(string run, long number) => new()
    {
        Ref = new ReceiptRef { StoreId = "S", RegisterId = "R1", ShiftNumber = 1, ReceiptNumber = number },
        Lines = { new ReceiptLine { Sku = $"MILK{run}", Category = "dairy", Name = "Milk", QuantityMilli = 1000, Price = 100_00, Amount = 100_00 } },
    };

    private static string Run() => Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task A_redeem_on_a_receipt_committed_without_a_hold_is_refused_and_names_the_commit_operation()
    {
        using var client = Admin();
        var run = Run();
        var card = $"L{run}1";
        await client.IssueCardAsync(new IssueCardRequest { CardNumber = card });
        await client.AdjustAsync(new AdjustRequest { OperationId = $"{run}-credit", CardNumber = card, Amount = 50_00, Reason = "welcome" });
        await client.CommitAsync(new CommitRequest { OperationId = $"{run}-commit", CardNumber = card, Receipt = OneLine(run, 1) });

        var error = await Assert.ThrowsAsync<RpcException>(() => client.RedeemAsync(new RedeemRequest
        {
            OperationId = $"{run}-late-redeem", CardNumber = card, Receipt = OneLine(run, 1), Amount = 1,
        }));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains($"{run}-commit", error.Message);
        Assert.Equal("committed", error.Details["receipt-stage"]);
        Assert.Equal($"{run}-commit", error.Details["operation-id"]);
        var after = await client.GetCardAsync(card);
        Assert.Equal(0, after.Held);
    }

    [Fact]
    public async Task A_redeem_after_redeem_and_commit_of_the_receipt_is_refused_and_a_merge_is_not_blocked_by_a_stray_hold()
    {
        using var client = Admin();
        var run = Run();
        var (card, other) = ($"L{run}2", $"L{run}3");
        await client.IssueCardAsync(new IssueCardRequest { CardNumber = card });
        await client.IssueCardAsync(new IssueCardRequest { CardNumber = other });
        await client.AdjustAsync(new AdjustRequest { OperationId = $"{run}-credit", CardNumber = card, Amount = 50_00, Reason = "welcome" });
        var hold = await client.RedeemAsync(new RedeemRequest { OperationId = $"{run}-hold", CardNumber = card, Receipt = OneLine(run, 2), Amount = 10_00 });
        await client.CommitAsync(new CommitRequest { OperationId = $"{run}-commit", CardNumber = card, Receipt = OneLine(run, 2), HoldId = hold.HoldId });

        var error = await Assert.ThrowsAsync<RpcException>(() => client.RedeemAsync(new RedeemRequest
        {
            OperationId = $"{run}-again", CardNumber = card, Receipt = OneLine(run, 2), Amount = 1,
        }));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        await client.TransferCardAsync(new TransferCardRequest { OperationId = $"{run}-merge", SourceCardNumber = card, TargetCardNumber = other, Reason = "one card" });
    }

    [Fact]
    public async Task A_second_hold_on_an_open_receipt_is_refused_with_the_first_holds_id_so_a_till_that_lost_the_reply_can_cancel_it()
    {
        using var client = Admin();
        var run = Run();
        var card = $"L{run}4";
        await client.IssueCardAsync(new IssueCardRequest { CardNumber = card });
        await client.AdjustAsync(new AdjustRequest { OperationId = $"{run}-credit", CardNumber = card, Amount = 50_00, Reason = "welcome" });
        var first = await client.RedeemAsync(new RedeemRequest { OperationId = $"{run}-hold-1", CardNumber = card, Receipt = OneLine(run, 3), Amount = 10_00 });

        var error = await Assert.ThrowsAsync<RpcException>(() => client.RedeemAsync(new RedeemRequest
        {
            OperationId = $"{run}-hold-2", CardNumber = card, Receipt = OneLine(run, 3), Amount = 10_00,
        }));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains(first.HoldId, error.Message);
        Assert.Equal("held", error.Details["receipt-stage"]);
        var cancelled = await client.CancelAsync(new CancelRequest { OperationId = $"{run}-cancel", HoldId = error.Details["hold-id"] });
        Assert.Equal(10_00, cancelled.Released);
    }

    [Theory]
    [InlineData("blocked")]
    [InlineData("merged")]
    [InlineData("replaced")]
    public async Task Quote_on_a_card_that_cannot_commit_is_refused_instead_of_promising_an_accrual(string how)
    {
        using var client = Admin();
        var run = Run();
        var card = $"L{run}5";
        await client.IssueCardAsync(new IssueCardRequest { CardNumber = card });
        switch (how)
        {
            case "blocked":
                await client.BlockCardAsync(new BlockCardRequest { CardNumber = card, Reason = "lost" });
                break;
            case "merged":
                await client.IssueCardAsync(new IssueCardRequest { CardNumber = $"L{run}6" });
                await client.TransferCardAsync(new TransferCardRequest { OperationId = $"{run}-merge", SourceCardNumber = card, TargetCardNumber = $"L{run}6", Reason = "one card" });
                break;
            default:
                await client.TransferCardAsync(new TransferCardRequest { OperationId = $"{run}-replace", SourceCardNumber = card, TargetCardNumber = $"L{run}7", Reason = "lost", IssueTarget = true });
                break;
        }

        var quote = await Assert.ThrowsAsync<RpcException>(() => client.QuoteAsync(new QuoteRequest { CardNumber = card, Receipt = OneLine(run, 4) }));
        var commit = await Assert.ThrowsAsync<RpcException>(() => client.CommitAsync(new CommitRequest { OperationId = $"{run}-commit", CardNumber = card, Receipt = OneLine(run, 4) }));

        Assert.Equal(StatusCode.FailedPrecondition, quote.StatusCode);
        Assert.Equal(commit.StatusCode, quote.StatusCode);
        Assert.Equal(commit.Message, quote.Message);
    }
}
