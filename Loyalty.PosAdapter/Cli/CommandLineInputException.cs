namespace Loyalty.PosAdapter.Cli;

/// <summary>An input refused before any call was made; reported as INVALID_ARGUMENT like the server's refusals.</summary>
public sealed class CommandLineInputException(string message) : Exception(message);
