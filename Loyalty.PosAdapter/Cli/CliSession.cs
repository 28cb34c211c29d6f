using System.CommandLine;
using Loyalty.PosAdapter.Client;

namespace Loyalty.PosAdapter.Cli;

/// <summary>The global options, resolved once per command: where the server is, which key, how to print.</summary>
public sealed class CliSession : IDisposable
{
    public const string DefaultServer = "http://127.0.0.1:5080";
    public const string ServerVariable = "LOYALTY_SERVER";
    public const string KeyVariable = "LOYALTY_KEY";
    public const string DataDirectoryVariable = "LOYALTY_DATA_DIR";
    public const string DefaultDataDirectory = ".data";
    public const string AdminKeyFileName = "admin.key";

    public const double DefaultTimeoutSeconds = 10;

    /// <summary>A key file larger than this is not a key file.</summary>
    public const int MaxKeyFileBytes = 4096;

    private CliSession(LoyaltyClient client, Output output, TextWriter error)
    {
        Client = client;
        Output = output;
        Error = error;
    }

    public LoyaltyClient Client { get; }

    public Output Output { get; }

    public TextWriter Error { get; }

    public static CliSession Open(ParseResult parseResult, GlobalOptions globals)
    {
        var server = parseResult.GetValue(globals.Server) ?? DefaultServer;
        if (!Uri.TryCreate(server, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
        {
            throw new CommandLineInputException($"--server '{server}' is not an http:// or https:// address, e.g. {DefaultServer}.");
        }
        var timeoutSeconds = parseResult.GetValue(globals.Timeout);
        if (!(timeoutSeconds > 0) || timeoutSeconds > CallOptions.MaxTimeout.TotalSeconds)
        {
            throw new CommandLineInputException($"--timeout must be more than 0 and at most {CallOptions.MaxTimeout.TotalSeconds:0} seconds.");
        }

        var options = new LoyaltyClientOptions
        {
            Address = address,
            ApiKey = ResolveKey(parseResult, globals),
            DefaultTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        };
        var configuration = parseResult.InvocationConfiguration;
        var output = new Output(configuration.Output, parseResult.GetValue(globals.Json));
        try
        {
            return new CliSession(new LoyaltyClient(options), output, configuration.Error);
        }
        catch (ArgumentException error)
        {
            // The channel's messages say what is wrong with the key without repeating it.
            throw new CommandLineInputException(error.Message);
        }
    }

    /// <summary>
    /// The CLI's data directory, absolute: <c>LOYALTY_DATA_DIR</c> when set (as the server's own, which
    /// <c>./run.sh</c> sets), else <c>./.data</c> of the current directory. It holds the server's
    /// <c>admin.key</c> and the office adapters' fiscal journals (<c>office-STORE-REGISTER/</c>), so an
    /// adapter started from another directory with the same variable finds the journal that keeps it
    /// from printing a receipt twice.
    /// </summary>
    public static string DataDirectory => Path.GetFullPath(
        Environment.GetEnvironmentVariable(DataDirectoryVariable) is { Length: > 0 } directory ? directory : DefaultDataDirectory);

    /// <summary>--key, else --key-file, else LOYALTY_KEY, else the server's admin key file if present, else none.</summary>
    public static string? ResolveKey(ParseResult parseResult, GlobalOptions globals)
    {
        if (parseResult.GetValue(globals.Key) is { Length: > 0 } key) return key;
        if (parseResult.GetValue(globals.KeyFile) is { Length: > 0 } keyFile) return ReadKeyFile(keyFile);
        if (Environment.GetEnvironmentVariable(KeyVariable) is { Length: > 0 } environmentKey) return environmentKey;
        var adminKeyFile = Path.Combine(DataDirectory, AdminKeyFileName);
        return File.Exists(adminKeyFile) ? ReadKeyFile(adminKeyFile) : null;
    }

    private static string ReadKeyFile(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new CommandLineInputException($"The key file '{path}' does not exist.");
            if (info.Length > MaxKeyFileBytes) throw new CommandLineInputException($"The key file '{path}' is larger than {MaxKeyFileBytes} bytes; it is not a key file.");
            var key = File.ReadAllText(path).Trim();
            if (key.Length == 0) throw new CommandLineInputException($"The key file '{path}' is empty.");
            return key;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new CommandLineInputException($"The key file '{path}' could not be read: {error.Message}");
        }
    }

    public void Dispose() => Client.Dispose();
}

/// <summary>The options every command takes; one set per root command, added to it as recursive options.</summary>
public sealed class GlobalOptions
{
    public Option<string> Server { get; } = new("--server")
    {
        Description = $"The gRPC address of the loyalty server (env {CliSession.ServerVariable}).",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable(CliSession.ServerVariable) is { Length: > 0 } server ? server : CliSession.DefaultServer,
    };

    // No default value factory: help would print the key it found.
    public Option<string?> Key { get; } = new("--key")
    {
        Description = $"The API key (env {CliSession.KeyVariable}). Prefer --key-file or the variable: arguments are visible to other users.",
        Recursive = true,
    };

    public Option<string?> KeyFile { get; } = new("--key-file")
    {
        Description = $"A file holding the API key. Without --key, --key-file or {CliSession.KeyVariable}: ${CliSession.DataDirectoryVariable}/{CliSession.AdminKeyFileName} (./{CliSession.DefaultDataDirectory}/{CliSession.AdminKeyFileName}) if it exists.",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print the reply as JSON (the protobuf JSON mapping).",
        Recursive = true,
    };

    public Option<double> Timeout { get; } = new("--timeout")
    {
        Description = "Seconds each call may take.",
        Recursive = true,
        DefaultValueFactory = _ => CliSession.DefaultTimeoutSeconds,
    };

    public IEnumerable<Option> All => [Server, Key, KeyFile, Json, Timeout];
}
