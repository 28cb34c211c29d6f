using Loyalty.PosAdapter.Client;

namespace Loyalty.PosAdapter.Tests;

public class OperationIdTests
{
    [Fact]
    public void A_new_operation_id_is_a_uuid_string_the_server_accepts()
    {
        var operationId = OperationId.New();

        Assert.True(Guid.TryParseExact(operationId, "D", out _));
        Assert.True(OperationId.IsValid(operationId));
    }

    [Fact]
    public void New_operation_ids_do_not_repeat()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => OperationId.New()).ToHashSet();
        Assert.Equal(10_000, ids.Count);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sys:expiry:1")]
    public void Empty_or_reserved_operation_ids_are_invalid(string? operationId)
    {
        Assert.False(OperationId.IsValid(operationId));
    }

    [Fact]
    public void An_operation_id_longer_than_64_characters_is_invalid()
    {
        Assert.True(OperationId.IsValid(new string('a', 64)));
        Assert.False(OperationId.IsValid(new string('a', 65)));
    }
}
