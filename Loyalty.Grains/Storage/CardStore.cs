using Loyalty.Grains.Domain;
using Npgsql;

namespace Loyalty.Grains.Storage;

/// <summary>A page of a card's ledger, newest first.</summary>
[Orleans.Immutable]
public sealed record StatementPage(IReadOnlyList<LedgerEntry> Entries, string? NextPageToken);

/// <summary>Reads of the system of record. All writes go through the <see cref="ILedgerWriter"/>.</summary>
public sealed class CardStore(NpgsqlDataSource dataSource)
{
    public NpgsqlDataSource DataSource => dataSource;

    public async Task<CardState?> LoadCardAsync(string number)
    {
        await using var command = dataSource.CreateCommand("SELECT state::text FROM cards WHERE number = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = number });
        var json = (string?)await command.ExecuteScalarAsync();
        return json is null ? null : Json.Deserialize<CardState>(json);
    }

    /// <summary>
    /// Cards whose next time-driven change is due at <paramref name="now"/> (cards.due_at), earliest
    /// first, at most <paramref name="limit"/>: what the sweeper settles in one pass.
    /// </summary>
    public async Task<IReadOnlyList<string>> CardsDueAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("SELECT number FROM cards WHERE due_at <= $1 ORDER BY due_at LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter { Value = now.ToUniversalTime() });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        var numbers = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) numbers.Add(reader.GetString(0));
        return numbers;
    }

    /// <summary>
    /// Moves a card's due moment without writing the card (nothing was due after all, e.g. a moment
    /// stored by an older server version), only if the card is still at <paramref name="version"/>.
    /// </summary>
    public async Task SetDueAtAsync(string number, long version, DateTimeOffset? dueAt)
    {
        await using var command = dataSource.CreateCommand("UPDATE cards SET due_at = $3 WHERE number = $1 AND version = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = number });
        command.Parameters.Add(new NpgsqlParameter { Value = version });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)dueAt?.ToUniversalTime() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
        await command.ExecuteNonQueryAsync();
    }

    public async Task<StoredOperation?> FindOperationAsync(string operationId)
    {
        await using var command = dataSource.CreateCommand("SELECT operation_id, card_number, kind, payload_hash, result::text FROM operations WHERE operation_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = operationId });
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) return null;
        return new StoredOperation(reader.GetString(0), reader.GetString(1), reader.GetString(2), (byte[])reader[3], reader.GetString(4));
    }

    private const string ReceiptColumns = "receipt_number, card_number, offline, lines::text, operation_id, at, redeemed_lots::text";

    public async Task<ReceiptRecord?> LoadReceiptAsync(ReceiptRef reference)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT {ReceiptColumns} FROM receipts WHERE store_id = $1 AND register_id = $2 AND shift_number = $3 AND receipt_number = $4");
        command.Parameters.Add(new NpgsqlParameter { Value = reference.StoreId });
        command.Parameters.Add(new NpgsqlParameter { Value = reference.RegisterId });
        command.Parameters.Add(new NpgsqlParameter { Value = reference.ShiftNumber });
        command.Parameters.Add(new NpgsqlParameter { Value = reference.ReceiptNumber });
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? ReadReceipt(reader, new ShiftKey(reference.StoreId, reference.RegisterId, reference.ShiftNumber)) : null;
    }

    /// <summary>Every committed receipt of one shift (online or applied from its report), in one query.</summary>
    public async Task<IReadOnlyList<ReceiptRecord>> LoadShiftReceiptsAsync(ShiftKey shift, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT {ReceiptColumns} FROM receipts WHERE store_id = $1 AND register_id = $2 AND shift_number = $3 ORDER BY receipt_number");
        command.Parameters.Add(new NpgsqlParameter { Value = shift.StoreId });
        command.Parameters.Add(new NpgsqlParameter { Value = shift.RegisterId });
        command.Parameters.Add(new NpgsqlParameter { Value = shift.ShiftNumber });
        var records = new List<ReceiptRecord>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken)) records.Add(ReadReceipt(reader, shift));
        return records;
    }

    private static ReceiptRecord ReadReceipt(NpgsqlDataReader reader, ShiftKey shift) =>
        new(shift.Receipt(reader.GetInt64(0)), reader.GetString(1), Json.Deserialize<ReceiptRecordLine[]>(reader.GetString(3)), reader.GetBoolean(2))
        {
            OperationId = reader.GetString(4),
            CommittedAt = reader.GetFieldValue<DateTimeOffset>(5),
            RedeemedFrom = reader.IsDBNull(6) ? [] : Json.Deserialize<RedeemedLot[]>(reader.GetString(6)),
        };

    /// <summary>The ledger rows of a card and of the cards it replaced or absorbed, newest first.</summary>
    public async Task<StatementPage> GetStatementAsync(IReadOnlyList<string> cardNumbers, int pageSize, string? pageToken)
    {
        if (pageSize <= 0 || pageSize > Limits.MaxStatementPageSize)
            throw Validate.Invalid($"The page size must be between 1 and {Limits.MaxStatementPageSize}; {pageSize} was given.");
        var before = long.MaxValue;
        if (!string.IsNullOrEmpty(pageToken) && (!long.TryParse(pageToken, out before) || before <= 0))
            throw Validate.Invalid("The page token is not one this server gave out.");
        await using var command = dataSource.CreateCommand(
            """
            SELECT id, card_number, operation_id, entry_number, kind, amount, held_delta, pending_delta, balance_after, available_after,
                   version_after, store_id, register_id, shift_number, receipt_number, offline, reason, actor, at
            FROM ledger WHERE card_number = ANY($1) AND id < $2 ORDER BY id DESC LIMIT $3
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = cardNumbers.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = before });
        command.Parameters.Add(new NpgsqlParameter { Value = pageSize + 1 });
        var entries = new List<LedgerEntry>();
        long lastId = 0;
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            if (entries.Count == pageSize) return new StatementPage(entries, lastId.ToString());
            lastId = reader.GetInt64(0);
            ReceiptRef? receipt = reader.IsDBNull(11) ? null
                : new ReceiptRef(reader.GetString(11), reader.GetString(12), reader.GetInt64(13), reader.GetInt64(14));
            entries.Add(new LedgerEntry(reader.GetString(1), reader.GetString(2), reader.GetInt32(3), Enum.Parse<LedgerKind>(reader.GetString(4)),
                reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7), reader.GetInt64(8), reader.GetInt64(9), reader.GetInt64(10),
                receipt, reader.GetBoolean(15), reader.IsDBNull(16) ? null : reader.GetString(16), reader.IsDBNull(17) ? null : reader.GetString(17),
                reader.GetFieldValue<DateTimeOffset>(18)));
        }
        return new StatementPage(entries, null);
    }
}
