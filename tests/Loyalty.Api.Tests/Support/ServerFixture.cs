using Loyalty.Grains.Tests.Support;
using Loyalty.Silo;

namespace Loyalty.Api.Tests.Support;

/// <summary>
/// A real server for a test class: Kestrel on free loopback ports, its own database on the test
/// process's embedded cluster, its own data directory (so its own admin.key). A derived fixture may
/// add settings (small limits, say) through <see cref="Settings"/>.
/// </summary>
public class ServerFixture : IAsyncLifetime
{
    private string _dataDirectory = "";

    public LoyaltyServer Server { get; private set; } = null!;
    public string AdminKey { get; private set; } = "";
    public Uri GrpcAddress => Server.GrpcAddress;
    public string DataDirectory => _dataDirectory;

    /// <summary>Settings besides the addresses and the database, as environment variables would give them.</summary>
    protected virtual IReadOnlyDictionary<string, string?> Settings { get; } = new Dictionary<string, string?>();

    public async Task InitializeAsync()
    {
        _dataDirectory = TestDatabase.CreateTempDirectory();
        var database = await TestDatabase.CreateAsync("api");
        var settings = new Dictionary<string, string?>(Settings)
        {
            [SiloOptions.DataDirectoryVariable] = _dataDirectory,
            [SiloOptions.DatabaseVariable] = database,
            [SiloOptions.GrpcUrlVariable] = "http://127.0.0.1:0",
            [SiloOptions.SiloPortVariable] = "0",
            [SiloOptions.HttpUrlVariable] = "http://127.0.0.1:0",
        };
        Server = await LoyaltyServer.StartAsync([], settings);
        AdminKey = (await File.ReadAllTextAsync(Server.Options.AdminKeyPath)).Trim();
    }

    public async Task DisposeAsync()
    {
        if (Server is not null) await Server.DisposeAsync();
        TestDatabase.DeleteTempDirectory(_dataDirectory);
    }
}
