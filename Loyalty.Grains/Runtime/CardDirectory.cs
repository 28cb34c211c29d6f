using Loyalty.Grains.Domain;
using Loyalty.Grains.Storage;
using Npgsql;

namespace Loyalty.Grains.Runtime;

/// <summary>
/// How the server's services reach cards: a card grain by number, and the few operations that are
/// not one card's (a hold found by its id, a transfer between two cards, a range of new cards).
/// </summary>
public sealed class CardDirectory(IGrainFactory grains, CardStore store, ProgramCatalog programs, TimeProvider time)
{
    public ProgramCatalog Programs => programs;
    public CardStore Store => store;
    /// <summary>The grain factory, for the grains that are not cards (shifts, print queues, programmes).</summary>
    public IGrainFactory Grains => grains;

    /// <summary>
    /// A reference to the card's grain; cheap, and valid whether or not the card is active anywhere.
    /// The number is checked first (InvalidArgument), since Orleans itself refuses some keys (an empty one)
    /// with errors that are not ours.
    /// </summary>
    public ICardGrain Card(string number)
    {
        Validate.CardNumber(number);
        return grains.GetGrain<ICardGrain>(number);
    }

    /// <summary>Voids a hold; the card is found from the hold id. With <paramref name="storeId"/>, only a hold for a receipt of that store.</summary>
    public Task<CancelResult> CancelHoldAsync(string operationId, string holdId, CancellationToken cancellationToken = default, string? storeId = null)
    {
        var number = Domain.Card.CardNumberOfHold(holdId)
            ?? throw new CardException(CardErrorCode.NotFound, "The hold id is not one this server gave out.");
        return Card(number).CancelAsync(operationId, holdId, storeId, cancellationToken);
    }

    /// <summary>
    /// Replaces a card by a new number (issued now if it does not exist) or merges one card into
    /// another: the source's balance, lots and history move to the target and the source is closed,
    /// in one transaction (<see cref="ICardTransferGrain"/>).
    /// </summary>
    public async Task<(CardView Source, CardView Target)> TransferAsync(string operationId, string sourceNumber, string targetNumber, bool issueTarget, string reason, string actor, CancellationToken cancellationToken = default)
    {
        var result = await grains.GetGrain<ICardTransferGrain>(0).TransferAsync(operationId, sourceNumber, targetNumber, issueTarget, reason, actor, cancellationToken);
        return (result.Source, result.Target);
    }

    /// <summary>
    /// Issues every number from <paramref name="first"/> to <paramref name="last"/> (same length, digits,
    /// zero-padded) in one transaction: all or none. Cards that exist already make the whole range fail.
    /// No grain is involved: the cards are new, and a card grain reads a card it has not seen on every call.
    /// </summary>
    public async Task<int> IssueRangeAsync(string first, string last, string programId, CancellationToken cancellationToken = default)
    {
        Validate.CardNumber(first);
        Validate.CardNumber(last);
        if (first.Length != last.Length || !first.All(char.IsAsciiDigit) || !last.All(char.IsAsciiDigit))
            throw Validate.Invalid("A range of cards is two numbers of digits of the same length, such as 0001000 and 0001999.");
        if (!long.TryParse(first, out var from) || !long.TryParse(last, out var to) || to < from)
            throw Validate.Invalid($"The range {first}..{last} is empty or too long to read.");
        if (to - from + 1 > Limits.MaxCardsPerRange)
            throw Validate.Invalid($"The range {first}..{last} has {to - from + 1} cards; at most {Limits.MaxCardsPerRange} may be issued at once.");
        var program = await programs.GetAsync(programId);
        var now = time.GetUtcNow();
        var format = new string('0', first.Length);
        var states = new List<CardState>((int)(to - from + 1));
        for (var n = from; n <= to; n++)
            states.Add(Domain.Card.Issue(n.ToString(format), program, null, null, now).State);
        try
        {
            await using var connection = await store.DataSource.OpenConnectionAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using var command = new NpgsqlCommand(
                """
                INSERT INTO cards (number, program_id, status, version, balance, held, pending, state)
                SELECT u.number, $2, 'Active', 1, 0, 0, 0, u.state FROM unnest($1::text[], $3::json[]) AS u(number, state)
                ON CONFLICT (number) DO NOTHING
                """, connection, transaction);
            command.Parameters.Add(new NpgsqlParameter { Value = states.Select(s => s.Number).ToArray() });
            command.Parameters.Add(new NpgsqlParameter { Value = program.ProgramId });
            command.Parameters.Add(new NpgsqlParameter { Value = states.Select(Json.Serialize).ToArray(), NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Json });
            var inserted = await command.ExecuteNonQueryAsync(cancellationToken);
            if (inserted != states.Count)
            {
                await transaction.RollbackAsync(cancellationToken);
                throw new CardException(CardErrorCode.CardExists, $"{states.Count - inserted} cards of the range {first}..{last} exist already; nothing was issued.");
            }
            await transaction.CommitAsync(cancellationToken);
            return inserted;
        }
        catch (Exception error) when (CardGrain.IsDatabaseFailure(error))
        {
            throw CardGrain.Unavailable();
        }
    }
}
