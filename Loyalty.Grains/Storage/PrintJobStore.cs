using Loyalty.Grains.Domain;
using Npgsql;

namespace Loyalty.Grains.Storage;

/// <summary>
/// The print_jobs table (migration 0010): each print job as one row. Every write is one statement,
/// durable when it returns (synchronous commit), so a job is stored before SubmitReceipt answers.
/// </summary>
public sealed class PrintJobStore(NpgsqlDataSource dataSource)
{
    private const string Columns =
        "job_id, sequence, request, state, message, contact_used, fiscal, bonuses, bonus_message, receipt_token, deliveries, submitted_at, updated_at, notice";

    /// <summary>
    /// Inserts new jobs in one round trip and one commit (an Npgsql batch is one implicit
    /// transaction); per job, false when its operation id is taken in its store or its sale already
    /// has a job that did not fail (migration 0014; the caller then loads that job).
    /// </summary>
    public async Task<bool[]> TryInsertManyAsync(IReadOnlyList<PrintJob> jobs, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection);
        foreach (var job in jobs)
        {
            var command = new NpgsqlBatchCommand(
                $"INSERT INTO print_jobs ({Columns}, store_id, office_register_id, operation_id, submitted_by, receipt_ref, hold_id) " +
                "VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) " +
                // Either key may be taken (the operation id, or the sale by another operation id).
                "ON CONFLICT DO NOTHING");
            AddRow(command.Parameters, job);
            command.Parameters.Add(new NpgsqlParameter { Value = job.Request.StoreId });
            command.Parameters.Add(new NpgsqlParameter { Value = job.Request.OfficeRegisterId });
            command.Parameters.Add(new NpgsqlParameter { Value = job.Request.OperationId });
            command.Parameters.Add(new NpgsqlParameter { Value = job.Request.SubmittedBy });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)PrintQueue.SaleKey(job.Request) ?? DBNull.Value });
            command.Parameters.Add(new NpgsqlParameter { Value = job.Request.ReprintOf is null && !string.IsNullOrEmpty(job.Request.HoldId) ? job.Request.HoldId : DBNull.Value });
            batch.BatchCommands.Add(command);
        }
        await batch.ExecuteNonQueryAsync(cancellationToken);
        var inserted = new bool[jobs.Count];
        for (var i = 0; i < jobs.Count; i++) inserted[i] = batch.BatchCommands[i].RecordsAffected == 1;
        return inserted;
    }

    /// <summary>Writes a job's changing fields (state, outcome, bonuses, deliveries).</summary>
    public async Task UpdateAsync(PrintJob job, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE print_jobs SET state = $2, message = $3, contact_used = $4, fiscal = $5::json, bonuses = $6, bonus_message = $7, deliveries = $8, updated_at = $9, notice = $10 WHERE job_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = job.JobId });
        command.Parameters.Add(new NpgsqlParameter { Value = job.State.ToString() });
        command.Parameters.Add(new NpgsqlParameter { Value = job.Message });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)job.ContactUsed ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { Value = job.Fiscal is null ? DBNull.Value : Json.Serialize(job.Fiscal) });
        command.Parameters.Add(new NpgsqlParameter { Value = job.Bonuses.ToString() });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)job.BonusMessage ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { Value = job.Deliveries });
        command.Parameters.Add(new NpgsqlParameter { Value = job.UpdatedAt });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)job.Notice ?? DBNull.Value });
        if (await command.ExecuteNonQueryAsync(cancellationToken) != 1)
            throw new InvalidOperationException($"Print job {job.JobId} is not in print_jobs.");
    }

    /// <summary>Marks jobs handed to the feed, in one statement.</summary>
    public async Task UpdateManyAsync(IReadOnlyList<PrintJob> jobs, CancellationToken cancellationToken)
    {
        if (jobs.Count == 0) return;
        await using var command = dataSource.CreateCommand(
            "UPDATE print_jobs p SET state = u.state, message = u.message, deliveries = u.deliveries, updated_at = u.updated_at " +
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[]) AS u(job_id, state, message, deliveries, updated_at) WHERE p.job_id = u.job_id");
        command.Parameters.Add(new NpgsqlParameter { Value = jobs.Select(j => j.JobId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = jobs.Select(j => j.State.ToString()).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = jobs.Select(j => j.Message).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = jobs.Select(j => j.Deliveries).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = jobs.Select(j => j.UpdatedAt).ToArray() });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<PrintJob?> LoadAsync(string jobId, CancellationToken cancellationToken) =>
        LoadOneAsync("job_id = $1", jobId, cancellationToken);

    /// <summary>The job behind a receipt page's token, or null.</summary>
    public Task<PrintJob?> LoadByTokenAsync(string token, CancellationToken cancellationToken) =>
        LoadOneAsync("receipt_token = $1", token, cancellationToken);

    public async Task<PrintJob?> LoadByOperationAsync(string storeId, string operationId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM print_jobs WHERE store_id = $1 AND operation_id = $2");
        command.Parameters.Add(new NpgsqlParameter { Value = storeId });
        command.Parameters.Add(new NpgsqlParameter { Value = operationId });
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>The job of a sale (<see cref="PrintQueue.SaleKey"/>) that did not fail, or null.</summary>
    public async Task<PrintJob?> LoadSaleAsync(string storeId, string saleKey, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM print_jobs WHERE store_id = $1 AND receipt_ref = $2 AND state <> 'Failed'");
        command.Parameters.Add(new NpgsqlParameter { Value = storeId });
        command.Parameters.Add(new NpgsqlParameter { Value = saleKey });
        return (await ReadAsync(command, cancellationToken)).FirstOrDefault();
    }

    /// <summary>A register's open jobs (neither done nor failed, or done/failed with a bonus step owed) and its last sequence.</summary>
    public async Task<(IReadOnlyList<PrintJob> Open, long LastSequence)> LoadRegisterAsync(string storeId, string registerId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT {Columns} FROM print_jobs WHERE store_id = $1 AND office_register_id = $2 AND (state NOT IN ('Done', 'Failed') OR bonuses = 'Held') ORDER BY sequence");
        command.Parameters.Add(new NpgsqlParameter { Value = storeId });
        command.Parameters.Add(new NpgsqlParameter { Value = registerId });
        var open = await ReadAsync(command, cancellationToken);
        await using var last = dataSource.CreateCommand("SELECT coalesce(max(sequence), 0) FROM print_jobs WHERE store_id = $1 AND office_register_id = $2");
        last.Parameters.Add(new NpgsqlParameter { Value = storeId });
        last.Parameters.Add(new NpgsqlParameter { Value = registerId });
        return (open, (long)(await last.ExecuteScalarAsync(cancellationToken))!);
    }

    /// <summary>The register's most recent jobs, newest first (the customer display and the office status).</summary>
    public async Task<IReadOnlyList<PrintJob>> LoadRecentAsync(string storeId, string registerId, int count, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            $"SELECT {Columns} FROM print_jobs WHERE store_id = $1 AND office_register_id = $2 ORDER BY sequence DESC LIMIT $3");
        command.Parameters.Add(new NpgsqlParameter { Value = storeId });
        command.Parameters.Add(new NpgsqlParameter { Value = registerId });
        command.Parameters.Add(new NpgsqlParameter { Value = count });
        return await ReadAsync(command, cancellationToken);
    }

    /// <summary>
    /// The customer display's token of a register (table print_displays): the stored one, or
    /// <paramref name="newToken"/> when there is none yet or <paramref name="rotate"/> is set. One
    /// statement, so two first calls at once agree on one token.
    /// </summary>
    public async Task<string> DisplayTokenAsync(string storeId, string registerId, string newToken, bool rotate, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "INSERT INTO print_displays (store_id, office_register_id, token, created_at) VALUES ($1, $2, $3, $4) " +
            "ON CONFLICT (store_id, office_register_id) DO UPDATE SET " +
            "token = CASE WHEN $5 THEN excluded.token ELSE print_displays.token END, " +
            "created_at = CASE WHEN $5 THEN excluded.created_at ELSE print_displays.created_at END " +
            "RETURNING token");
        command.Parameters.Add(new NpgsqlParameter { Value = storeId });
        command.Parameters.Add(new NpgsqlParameter { Value = registerId });
        command.Parameters.Add(new NpgsqlParameter { Value = newToken });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = rotate });
        return (string)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    /// <summary>The register a display token belongs to, or null for a token never given out (or rotated away).</summary>
    public async Task<(string StoreId, string RegisterId)?> DisplayOfTokenAsync(string token, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT store_id, office_register_id FROM print_displays WHERE token = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = token });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (reader.GetString(0), reader.GetString(1)) : null;
    }

    /// <summary>
    /// Counts one more resend of a job's link unless it already had <paramref name="max"/>: the new
    /// count, or null at the bound. One conditional statement, so concurrent resends never pass it.
    /// </summary>
    public async Task<int?> TryCountResendAsync(string jobId, int max, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("UPDATE print_jobs SET resends = resends + 1 WHERE job_id = $1 AND resends < $2 RETURNING resends");
        command.Parameters.Add(new NpgsqlParameter { Value = jobId });
        command.Parameters.Add(new NpgsqlParameter { Value = max });
        return await command.ExecuteScalarAsync(cancellationToken) is int count ? count : null;
    }

    /// <summary>Mode 3 of a driver key; false when never set.</summary>
    public async Task<bool> ElectronicOnlyAsync(string keyId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT electronic_only FROM print_driver_modes WHERE key_id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = keyId });
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    public async Task SetElectronicOnlyAsync(string keyId, bool electronicOnly, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "INSERT INTO print_driver_modes (key_id, electronic_only, updated_at) VALUES ($1, $2, $3) " +
            "ON CONFLICT (key_id) DO UPDATE SET electronic_only = excluded.electronic_only, updated_at = excluded.updated_at");
        command.Parameters.Add(new NpgsqlParameter { Value = keyId });
        command.Parameters.Add(new NpgsqlParameter { Value = electronicOnly });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private async Task<PrintJob?> LoadOneAsync(string where, string value, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM print_jobs WHERE {where}");
        command.Parameters.Add(new NpgsqlParameter { Value = value });
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    private static void AddRow(NpgsqlParameterCollection parameters, PrintJob job)
    {
        parameters.Add(new NpgsqlParameter { Value = job.JobId });
        parameters.Add(new NpgsqlParameter { Value = job.Sequence });
        parameters.Add(new NpgsqlParameter { Value = Json.Serialize(job.Request with { SubmittedBy = "" }) });
        parameters.Add(new NpgsqlParameter { Value = job.State.ToString() });
        parameters.Add(new NpgsqlParameter { Value = job.Message });
        parameters.Add(new NpgsqlParameter { Value = (object?)job.ContactUsed ?? DBNull.Value });
        parameters.Add(new NpgsqlParameter { Value = job.Fiscal is null ? DBNull.Value : Json.Serialize(job.Fiscal) });
        parameters.Add(new NpgsqlParameter { Value = job.Bonuses.ToString() });
        parameters.Add(new NpgsqlParameter { Value = (object?)job.BonusMessage ?? DBNull.Value });
        parameters.Add(new NpgsqlParameter { Value = job.ReceiptToken });
        parameters.Add(new NpgsqlParameter { Value = job.Deliveries });
        parameters.Add(new NpgsqlParameter { Value = job.SubmittedAt });
        parameters.Add(new NpgsqlParameter { Value = job.UpdatedAt });
        parameters.Add(new NpgsqlParameter { Value = (object?)job.Notice ?? DBNull.Value });
    }

    /// <summary>Two submits are the same request when these texts are equal: <see cref="PrintQueue.SubmitIdentity"/> as JSON.</summary>
    public static string SubmitKey(PrintJobRequest request) => Json.Serialize(PrintQueue.SubmitIdentity(request));

    private static async Task<IReadOnlyList<PrintJob>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var jobs = new List<PrintJob>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            jobs.Add(new PrintJob(
                JobId: reader.GetString(0),
                Sequence: reader.GetInt64(1),
                Request: Json.Deserialize<PrintJobRequest>(reader.GetString(2)),
                State: Enum.Parse<PrintJobState>(reader.GetString(3)),
                Message: reader.GetString(4),
                ContactUsed: reader.IsDBNull(5) ? null : reader.GetString(5),
                Fiscal: reader.IsDBNull(6) ? null : Json.Deserialize<PrintFiscalData>(reader.GetString(6)),
                Bonuses: Enum.Parse<BonusSettlement>(reader.GetString(7)),
                BonusMessage: reader.IsDBNull(8) ? null : reader.GetString(8),
                ReceiptToken: reader.GetString(9),
                Deliveries: reader.GetInt32(10),
                SubmittedAt: reader.GetFieldValue<DateTimeOffset>(11),
                UpdatedAt: reader.GetFieldValue<DateTimeOffset>(12),
                Notice: reader.IsDBNull(13) ? null : reader.GetString(13)));
        }
        return jobs;
    }
}
