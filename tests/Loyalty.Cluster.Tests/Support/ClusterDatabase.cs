using System.Net;
using System.Net.Sockets;
using Loyalty.Grains.Storage;
using Loyalty.Grains.Tests.Support;
using Npgsql;

namespace Loyalty.Cluster.Tests.Support;

/// <summary>A fresh, migrated database for one test class, with the few reads the tests make of our Orleans tables.</summary>
public sealed class ClusterDatabase : IAsyncDisposable
{
    private ClusterDatabase(string connectionString)
    {
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
    }

    /// <summary>The database's connection string.</summary>
    public string ConnectionString { get; }

    /// <summary>A data source for the test's own queries.</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>Creates a database named after <paramref name="namePrefix"/> and applies every migration.</summary>
    public static async Task<ClusterDatabase> CreateMigratedAsync(string namePrefix)
    {
        var database = new ClusterDatabase(await TestDatabase.CreateAsync(namePrefix));
        await Migrator.ApplyAsync(database.DataSource);
        return database;
    }

    /// <summary>The members of a cluster as (port, status, silo name), from our orleans_silo table.</summary>
    public async Task<IReadOnlyList<(int Port, int Status, string SiloName)>> MembersAsync(string clusterId)
    {
        await using var command = DataSource.CreateCommand("SELECT port, status, silo_name FROM orleans_silo WHERE deployment_id = $1 ORDER BY port, generation");
        command.Parameters.Add(new NpgsqlParameter { Value = clusterId });
        var members = new List<(int, int, string)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            members.Add((reader.GetInt32(0), reader.GetInt32(1), reader.GetString(2)));
        }

        return members;
    }

    /// <summary>Runs a statement and returns its first column of the first row (or null).</summary>
    public async Task<object?> ScalarAsync(string sql, params object[] parameters)
    {
        await using var command = DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        var value = await command.ExecuteScalarAsync();
        return value is DBNull ? null : value;
    }

    /// <summary>A TCP port free on 127.0.0.1 right now (the OS picks it; a race with another process is unlikely and would fail loudly).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Polls <paramref name="condition"/> every 50 ms until it holds; false if <paramref name="timeout"/> passes first.</summary>
    public static async Task<bool> WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return true;
            }

            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(50);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => DataSource.DisposeAsync();
}
