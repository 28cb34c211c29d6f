using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Orleans.Concurrency;

namespace Loyalty.Grains.Runtime;

/// <summary>Both cards of a transfer as they are after it.</summary>
[Orleans.Immutable]
public sealed record TransferResult(CardView Source, CardView Target);

/// <summary>
/// Replaces or merges cards. A grain cannot hold another grain's turn, and Orleans' transactions have
/// no PostgreSQL store (style.md §1 A6), so a transfer is not two card calls: it decides under both card
/// rows' lock in one database transaction (the writer's locked path), then tells both card grains to
/// read their cards again. A card activation that missed the reload is still safe: its next write is
/// conditional on the version it read, finds the card moved on, and reloads.
/// </summary>
public interface ICardTransferGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// Moves everything of <paramref name="sourceNumber"/> into <paramref name="targetNumber"/> (issued now
    /// when <paramref name="issueTarget"/> and it does not exist) and closes the source. Idempotent by
    /// <paramref name="operationId"/>. Refusals: NotFound, CardExists (a used target for a replacement),
    /// InvalidArgument, CardNotActive.
    /// </summary>
    Task<TransferResult> TransferAsync(string operationId, string sourceNumber, string targetNumber, bool issueTarget, string reason, string actor, CancellationToken cancellationToken = default);
}

/// <summary>Stateless: any silo runs it locally, next to the caller.</summary>
[StatelessWorker]
public sealed class CardTransferGrain(CardGrainServices services) : Grain, ICardTransferGrain
{
    public async Task<TransferResult> TransferAsync(string operationId, string sourceNumber, string targetNumber, bool issueTarget, string reason, string actor, CancellationToken cancellationToken)
    {
        Validate.CardNumber(sourceNumber);
        Validate.CardNumber(targetNumber);
        Validate.OperationId(operationId, system: false);
        if (sourceNumber == targetNumber) throw Validate.Invalid($"Card {sourceNumber} cannot be moved into itself.");
        var kind = issueTarget ? "replace" : "merge";
        var hash = CardGrain.PayloadHash(kind, new { sourceNumber, targetNumber, issueTarget, reason, actor });
        try
        {
            if (await services.Store.FindOperationAsync(operationId) is { } stored)
                return Stored(operationId, hash, stored);
            (CardView, CardView)? reply = null;
            var outcome = await services.Writer.WriteLockedAsync([sourceNumber, targetNumber], async cards =>
            {
                var from = cards[sourceNumber] ?? throw CardGrain.NotFound(sourceNumber);
                var to = cards[targetNumber];
                var sourceProgram = await services.Programs.GetAsync(from.ProgramId);
                var now = services.Time.GetUtcNow();
                if (to is null)
                {
                    if (!issueTarget) throw CardGrain.NotFound(targetNumber);
                    to = CardState.Issued(targetNumber, from.ProgramId, from.Phone, from.Email, now);
                }
                else if (issueTarget && (to.Version > 1 || to.BalanceKopecks != 0))
                    throw new CardException(CardErrorCode.CardExists, $"Card {targetNumber} is already in use; merge into it instead of replacing with it.");
                var targetProgram = await services.Programs.GetAsync(to.ProgramId);
                var (s, t) = Domain.Card.Transfer(from, to, sourceProgram, targetProgram, operationId, reason, actor, now);
                reply = (s.Reply, t.Reply);
                return new LedgerWrite(
                    [new CardWrite(s.State, from.Version), new CardWrite(t.State, cards[targetNumber]?.Version ?? 0)],
                    [.. s.Entries, .. t.Entries], new OperationRecord(operationId, sourceNumber, kind, hash, Json.Serialize(reply.Value)),
                    null, null, now);
            });
            switch (outcome)
            {
                case WriteOutcome.Committed:
                    await Task.WhenAll(GrainFactory.GetGrain<ICardGrain>(sourceNumber).ReloadAsync(), GrainFactory.GetGrain<ICardGrain>(targetNumber).ReloadAsync());
                    return new TransferResult(reply!.Value.Item1, reply.Value.Item2);
                case WriteOutcome.Duplicate duplicate:
                    return Stored(operationId, hash, duplicate.Stored);
                case WriteOutcome.Failed failed:
                    throw failed.Error;
                default:
                    throw new CardException(CardErrorCode.Unavailable, $"Cards {sourceNumber} and {targetNumber} changed during the transfer; try again with the same operation id.");
            }
        }
        catch (Exception error) when (CardGrain.IsDatabaseFailure(error))
        {
            throw CardGrain.Unavailable();
        }
    }

    /// <summary>The stored answer (a pair of card views, as first written) for a repeated operation id.</summary>
    private static TransferResult Stored(string operationId, byte[] hash, StoredOperation stored)
    {
        var (source, target) = CardGrain.Answer<(CardView, CardView)>(operationId, hash, stored.PayloadHash, stored.ResultJson);
        return new TransferResult(source, target);
    }
}
