using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>Which database failures a grain answers as UNAVAILABLE (retry with the same operation id) rather than as an error.</summary>
public class DatabaseOutageTests
{
    [Theory]
    [InlineData("57P01", true)]   // admin_shutdown: the chaos run's PostgreSQL restart
    [InlineData("57P03", true)]   // cannot_connect_now: still starting
    [InlineData("08006", true)]   // connection_failure
    [InlineData("53300", true)]   // too_many_connections (Npgsql: transient)
    [InlineData("23505", false)]  // unique_violation: a defect, not an outage
    [InlineData("42601", false)]  // syntax_error
    public void A_server_side_failure_is_an_outage_only_when_it_says_nothing_about_the_request(string sqlState, bool outage)
    {
        var error = new PostgresException("message", "FATAL", "FATAL", sqlState);

        Assert.Equal(outage, GroupCommitWriter.IsConnectionFailure(error));
    }

    [Fact]
    public void A_connection_that_could_not_be_made_is_an_outage_and_other_exceptions_are_not()
    {
        Assert.True(GroupCommitWriter.IsConnectionFailure(new NpgsqlException("Failed to connect to 127.0.0.1:5432", new System.Net.Sockets.SocketException(111))));
        Assert.False(GroupCommitWriter.IsConnectionFailure(new InvalidOperationException("a defect")));
    }
}
