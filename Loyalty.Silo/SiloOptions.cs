using Microsoft.Extensions.Configuration;

namespace Loyalty.Silo;

/// <summary>
/// The server's settings, from environment variables (or --key=value flags of the same names).
/// Validated at start-up with messages that name the setting.
/// </summary>
public sealed record SiloOptions(string DataDirectory, string? ConnectionString)
{
    public const string DataDirectoryVariable = "LOYALTY_DATA_DIR";
    public const string DatabaseVariable = "LOYALTY_DB";

    public static SiloOptions From(IConfiguration configuration)
    {
        var dataDirectory = Path.GetFullPath(configuration[DataDirectoryVariable] is { Length: > 0 } d ? d : "./.data");
        var connectionString = configuration[DatabaseVariable] is { Length: > 0 } c ? c : null;
        if (connectionString is not null)
        {
            try
            {
                _ = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
            }
            catch (ArgumentException error)
            {
                throw new InvalidOperationException($"{DatabaseVariable} is not a valid PostgreSQL connection string: {error.Message}");
            }
        }
        return new SiloOptions(dataDirectory, connectionString);
    }
}
