namespace Loyalty.PosAdapter.Client;

/// <summary>
/// Operation ids make writes idempotent: the server applies an operation id once and answers every
/// repetition with the first answer. A terminal makes one id per intended operation and keeps it
/// across every retry of that operation.
/// </summary>
public static class OperationId
{
    /// <summary>The server refuses longer ids.</summary>
    public const int MaxLength = 64;

    /// <summary>Ids the server writes itself for time-driven rows; clients may not use them.</summary>
    public const string ReservedPrefix = "sys:";

    /// <summary>
    /// A new UUID string. Version 7 (time-ordered) so ids made close in time sort close together,
    /// which keeps the server's operation index compact.
    /// </summary>
    public static string New() => Guid.CreateVersion7().ToString("D");

    /// <summary>
    /// An id derived from what the operation is (a step name and a stable key, e.g. a receipt key),
    /// so a program that crashed and runs the same step again names the same operation: the server
    /// then answers with the first result instead of doing it twice. 64 hex characters of SHA-256.
    /// </summary>
    public static string Derive(string step, string key) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{step}\n{key}")));

    /// <summary>Whether the server would take this id: 1–64 characters, not starting with "sys:".</summary>
    public static bool IsValid(string? operationId) =>
        !string.IsNullOrEmpty(operationId)
        && operationId.Length <= MaxLength
        && !operationId.StartsWith(ReservedPrefix, StringComparison.Ordinal);
}
