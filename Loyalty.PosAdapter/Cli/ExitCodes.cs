using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.PosAdapter.Cli;

/// <summary>One exit code per kind of failure, so scripts can tell "try again" from "fix the input".</summary>
public static class ExitCodes
{
    public const int Success = 0;
    /// <summary>The server or the client failed unexpectedly (INTERNAL, UNKNOWN, UNIMPLEMENTED, ...).</summary>
    public const int Failure = 1;
    /// <summary>The command line itself is wrong: unknown command, missing argument.</summary>
    public const int Usage = 2;
    /// <summary>INVALID_ARGUMENT or OUT_OF_RANGE, or an input refused before calling (an amount with three decimals).</summary>
    public const int InvalidInput = 3;
    public const int NotFound = 4;
    /// <summary>The server refused by its rules: FAILED_PRECONDITION, ALREADY_EXISTS, ABORTED.</summary>
    public const int Refused = 5;
    /// <summary>UNAUTHENTICATED or PERMISSION_DENIED: the key is missing, wrong, or of the wrong role or store.</summary>
    public const int AccessDenied = 6;
    /// <summary>UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, CANCELLED, or a server not serving: try again later.</summary>
    public const int TryAgain = 7;
    /// <summary>
    /// Not a failure of the call: <c>fiscal print --wait</c> found the job needs_attention, the office
    /// register waiting for a person (paper, cover, shift, or a document to check by hand). The adapter
    /// retries a job waiting for paper, cover or shift, so it may still print: neither "done" (0) nor
    /// "failed" (<see cref="Refused"/>), and a script must look again (<c>fiscal status JOB</c>).
    /// </summary>
    public const int NeedsAttention = 8;

    public static int For(StatusCode code) => code switch
    {
        StatusCode.Ok => Success,
        StatusCode.InvalidArgument or StatusCode.OutOfRange => InvalidInput,
        StatusCode.NotFound => NotFound,
        StatusCode.FailedPrecondition or StatusCode.AlreadyExists or StatusCode.Aborted => Refused,
        StatusCode.Unauthenticated or StatusCode.PermissionDenied => AccessDenied,
        StatusCode.Unavailable or StatusCode.DeadlineExceeded or StatusCode.ResourceExhausted or StatusCode.Cancelled => TryAgain,
        _ => Failure,
    };

    /// <summary>How a print job's state ends <c>fiscal print --wait</c>: done 0, failed <see cref="Refused"/>, needs_attention <see cref="NeedsAttention"/>; queued or printing (without --wait) 0.</summary>
    public static int ForPrintJob(PrintJobState state) => state switch
    {
        PrintJobState.Failed => Refused,
        PrintJobState.NeedsAttention => NeedsAttention,
        _ => Success,
    };

    public const string Summary =
        "Exit codes: 0 done, 1 unexpected failure, 2 bad command line, 3 invalid input (INVALID_ARGUMENT), " +
        "4 NOT_FOUND, 5 refused (FAILED_PRECONDITION, ALREADY_EXISTS), 6 UNAUTHENTICATED or PERMISSION_DENIED, " +
        "7 try again (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED), " +
        "8 the receipt waits for a person at the office register (fiscal print --wait ended at needs_attention).";
}
