using System.Text.Json.Nodes;

namespace Loyalty.AtolEmulator;

/// <summary>
/// One document the emulated fiscal drive (FN) closed. The list of these is the emulator's fiscal
/// journal: it survives <see cref="AtolWebServerEmulator.RestartAsync"/> as a real FN survives a
/// web-server restart, and tests count receipts from it ("fiscalised exactly once").
/// </summary>
/// <param name="Type">The ATOL task type: <c>sell</c>, <c>sellReturn</c>, <c>openShift</c>, <c>closeShift</c>.</param>
/// <param name="JobUuid">The web-server job that made it.</param>
/// <param name="TotalKopecks">The receipt total (tag 1020); 0 for shift documents.</param>
/// <param name="Task">The task JSON as received (a copy).</param>
public sealed record EmulatedDocument(
    string Type,
    string JobUuid,
    long FiscalDocumentNumber,
    string FiscalSign,
    int ShiftNumber,
    int ReceiptNumber,
    DateTimeOffset DateTime,
    long TotalKopecks,
    JsonObject Task)
{
    public bool IsReceipt => Type is "sell" or "sellReturn" or "buy" or "buyReturn";
}

/// <summary>How an injected fault spoils an HTTP answer.</summary>
public enum AnswerFault
{
    /// <summary>The request is fully handled (a job queued and later done), then the connection is aborted: the answer is lost.</summary>
    Drop,
    /// <summary>The request is fully handled, then a gateway timeout (504) is answered instead of the real answer.</summary>
    GatewayTimeout,
}

/// <summary>Why the emulated queue is blocked (protocols.md §1.2 <c>blockReason</c>).</summary>
public enum BlockReason { ConnectionError, FnError, PaperError }
