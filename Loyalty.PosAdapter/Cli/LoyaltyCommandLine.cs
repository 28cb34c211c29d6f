using System.CommandLine;
using System.Globalization;
using Grpc.Health.V1;
using Loyalty.PosAdapter.Client;
using Loyalty.Protos.V1;

namespace Loyalty.PosAdapter.Cli;

/// <summary>
/// The `loyalty` command: one subcommand per back-office or terminal task. Amounts are typed in
/// roubles ("150.50") and shown in roubles; errors are one line on stderr,
/// <c>error: STATUS_NAME: message</c>, with an exit code per kind of failure.
/// </summary>
public static partial class LoyaltyCommandLine
{
    /// <summary>A receipt on the command line is for trying things out; a real one comes from the till.</summary>
    public const int MaxCommandLineReceiptLines = 100;

    /// <summary>A whole unit: quantities are in thousandths on the wire.</summary>
    public const long OneUnitMilli = 1000;

    public static async Task<int> RunAsync(string[] args, InvocationConfiguration configuration, CancellationToken cancellationToken = default)
    {
        var root = BuildRootCommand();
        var parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            foreach (var parseError in parseResult.Errors)
            {
                await configuration.Error.WriteLineAsync($"error: {parseError.Message}").ConfigureAwait(false);
            }
            await configuration.Error.WriteLineAsync("See 'loyalty --help'.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }
        return await parseResult.InvokeAsync(configuration, cancellationToken).ConfigureAwait(false);
    }

    public static RootCommand BuildRootCommand()
    {
        var globals = new GlobalOptions();
        var root = new RootCommand(
            "Loyalty bonus cards from the command line: cards, keys, programmes and health of a loyalty server; " +
            "catalog files, sales reports, shifts and the store adapter for offline stores; fiscal receipts through an office register. " +
            "Amounts are in roubles with up to two decimals (150.50). " + ExitCodes.Summary);
        foreach (var option in globals.All) root.Options.Add(option);
        root.Subcommands.Add(BuildCardCommand(globals));
        root.Subcommands.Add(BuildKeyCommand(globals));
        root.Subcommands.Add(BuildProgramCommand(globals));
        root.Subcommands.Add(BuildHealthCommand(globals));
        root.Subcommands.Add(BuildCatalogCommand(globals));
        root.Subcommands.Add(BuildReportCommand(globals));
        root.Subcommands.Add(BuildShiftCommand(globals));
        root.Subcommands.Add(BuildLiabilityCommand(globals));
        root.Subcommands.Add(BuildAdapterCommand());
        root.Subcommands.Add(BuildFiscalCommand(globals));
        root.Subcommands.Add(BuildOfficeCommand(globals));
        return root;
    }

    // card ...

    private static Command BuildCardCommand(GlobalOptions globals)
    {
        var card = new Command("card", "Show, issue, adjust, block and unblock cards; statements and quotes.");
        card.Subcommands.Add(BuildCardShow(globals));
        card.Subcommands.Add(BuildCardIssue(globals));
        card.Subcommands.Add(BuildCardAdjust(globals));
        card.Subcommands.Add(BuildCardBlock(globals, block: true));
        card.Subcommands.Add(BuildCardBlock(globals, block: false));
        card.Subcommands.Add(BuildCardStatement(globals));
        card.Subcommands.Add(BuildCardQuote(globals));
        return card;
    }

    private static Argument<string> CardNumberArgument() => new("number") { Description = "The card number." };

    private static Option<string?> OperationIdOption() => new("--operation-id")
    {
        Description = "The operation id (default: a new UUID). Repeating a command with the same id applies it once.",
    };

    private static Command BuildCardShow(GlobalOptions globals)
    {
        var number = CardNumberArgument();
        var command = new Command("show", "Show a card's balance, available, held and pending bonuses.") { number };
        SetClientAction(command, globals, async (parseResult, session, cancellationToken) =>
        {
            var cardNumber = parseResult.GetRequiredValue(number);
            var card = await RetryPolicy.Default.ExecuteAsync(cardNumber,
                (request, token) => session.Client.GetCardAsync(request, null, token), cancellationToken);
            session.Output.Reply(card, () => ReplyWriter.WriteCard(session.Output, card));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildCardIssue(GlobalOptions globals)
    {
        var number = CardNumberArgument();
        var phone = new Option<string?>("--phone") { Description = "The holder's phone number." };
        var email = new Option<string?>("--email") { Description = "The holder's e-mail address." };
        var program = new Option<string?>("--program") { Description = "The programme id (default: the default programme)." };
        var command = new Command("issue", "Issue a card. Issuing the same number again with the same details answers the same card.")
        {
            number, phone, email, program,
        };
        SetClientAction(command, globals, async (parseResult, session, cancellationToken) =>
        {
            var request = new IssueCardRequest
            {
                CardNumber = parseResult.GetRequiredValue(number),
                Phone = parseResult.GetValue(phone) ?? "",
                Email = parseResult.GetValue(email) ?? "",
                ProgramId = parseResult.GetValue(program) ?? "",
            };
            // Safe to retry: the same number with the same details answers the same card.
            var card = await RetryPolicy.Default.ExecuteAsync(request,
                (call, token) => session.Client.IssueCardAsync(call, null, token), cancellationToken);
            session.Output.Reply(card, () => ReplyWriter.WriteCard(session.Output, card));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildCardAdjust(GlobalOptions globals)
    {
        var number = CardNumberArgument();
        var amount = new Argument<string>("amount")
        {
            Description = "Roubles to credit, or to debit when negative (e.g. 100, -25.50).",
        };
        var reason = new Option<string>("--reason") { Description = "Why; goes into the ledger with the key's name.", Required = true };
        var operationId = OperationIdOption();
        var command = new Command("adjust", "Correct a card's balance by hand (signed amount).") { number, amount, reason, operationId };
        SetClientAction(command, globals, async (parseResult, session, cancellationToken) =>
        {
            var request = new AdjustRequest
            {
                OperationId = ResolveOperationId(parseResult.GetValue(operationId)),
                CardNumber = parseResult.GetRequiredValue(number),
                Amount = ParseAmount(parseResult.GetRequiredValue(amount), "amount"),
                Reason = parseResult.GetRequiredValue(reason),
            };
            var card = await RetryPolicy.Default.ExecuteAsync(request,
                (call, token) => session.Client.AdjustAsync(call, null, token), cancellationToken);
            session.Output.Reply(card, () => session.Output.KeyValues([.. ReplyWriter.CardRows(card), ("operation id", request.OperationId)]));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildCardBlock(GlobalOptions globals, bool block)
    {
        var number = CardNumberArgument();
        var reason = new Option<string>("--reason") { Description = "Why; goes into the card's history.", Required = true };
        var operationId = new Option<string?>("--operation-id")
        {
            Description = "The operation id (default: the server derives one from the request, so repeating it is harmless).",
        };
        var command = block
            ? new Command("block", "Block a card: it takes no redemptions or accruals until unblocked.") { number, reason, operationId }
            : new Command("unblock", "Unblock a blocked card.") { number, reason, operationId };
        SetClientAction(command, globals, async (parseResult, session, cancellationToken) =>
        {
            var cardNumber = parseResult.GetRequiredValue(number);
            var reasonText = parseResult.GetRequiredValue(reason);
            var operation = parseResult.GetValue(operationId) is { } given ? ResolveOperationId(given) : "";
            var card = block
                ? await RetryPolicy.Default.ExecuteAsync(
                    new BlockCardRequest { CardNumber = cardNumber, Reason = reasonText, OperationId = operation },
                    (call, token) => session.Client.BlockCardAsync(call, null, token), cancellationToken)
                : await RetryPolicy.Default.ExecuteAsync(
                    new UnblockCardRequest { CardNumber = cardNumber, Reason = reasonText, OperationId = operation },
                    (call, token) => session.Client.UnblockCardAsync(call, null, token), cancellationToken);
            session.Output.Reply(card, () => ReplyWriter.WriteCard(session.Output, card));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildCardStatement(GlobalOptions globals)
    {
        var number = CardNumberArgument();
        var pageSize = new Option<int>("--page-size") { Description = "Rows per page, 1 to 500 (default 50)." };
        var pageToken = new Option<string?>("--page-token") { Description = "The next-page token printed by the previous page." };
        var command = new Command("statement", "A card's ledger rows, newest first.") { number, pageSize, pageToken };
        SetClientAction(command, globals, async (parseResult, session, cancellationToken) =>
        {
            var request = new GetStatementRequest
            {
                CardNumber = parseResult.GetRequiredValue(number),
                PageSize = parseResult.GetValue(pageSize),
                PageToken = parseResult.GetValue(pageToken) ?? "",
            };
            var reply = await RetryPolicy.Default.ExecuteAsync(request,
                (call, token) => session.Client.GetStatementAsync(call, null, token), cancellationToken);
            session.Output.Reply(reply, () => ReplyWriter.WriteStatement(session.Output, reply));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildCardQuote(GlobalOptions globals)
    {
        var number = CardNumberArgument();
        var lines = new Option<string[]>("--line")
        {
            Description = "A receipt line as sku:category:amount in roubles (category may be empty: sku::100). Repeat for more lines.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var redeem = new Option<string?>("--redeem") { Description = "Roubles the customer would like to pay with bonuses (default: only tell the maximum)." };
        var store = new Option<string>("--store") { Description = "The store of the receipt (a pos key may quote for its own store only).", Required = true };
        // A quote changes nothing, so a made-up register, shift and receipt number are harmless.
        var register = new Option<string>("--register") { Description = "The register of the receipt.", DefaultValueFactory = _ => "cli" };
        var shift = new Option<long>("--shift") { Description = "The shift number of the receipt.", DefaultValueFactory = _ => 1 };
        var receiptNumber = new Option<long>("--receipt") { Description = "The receipt number.", DefaultValueFactory = _ => 1 };
        var command = new Command("quote", "How much of a receipt bonuses may pay, how it spreads over the lines, and what it would earn. Changes nothing.")
        {
            number, lines, redeem, store, register, shift, receiptNumber,
        };
        SetClientAction(command, globals, async (parseResult, session, cancellationToken) =>
        {
            var receipt = new Receipt
            {
                Ref = new ReceiptRef
                {
                    StoreId = parseResult.GetRequiredValue(store),
                    RegisterId = parseResult.GetRequiredValue(register),
                    ShiftNumber = parseResult.GetValue(shift),
                    ReceiptNumber = parseResult.GetValue(receiptNumber),
                },
            };
            receipt.Lines.AddRange(ParseReceiptLines(parseResult.GetValue(lines) ?? []));
            var request = new QuoteRequest
            {
                CardNumber = parseResult.GetRequiredValue(number),
                Receipt = receipt,
                RequestedRedeem = parseResult.GetValue(redeem) is { } redeemText ? ParseAmount(redeemText, "--redeem", allowNegative: false) : 0,
            };
            var reply = await RetryPolicy.Default.ExecuteAsync(request,
                (call, token) => session.Client.QuoteAsync(call, null, token), cancellationToken);
            session.Output.Reply(reply, () => ReplyWriter.WriteQuote(session.Output, reply));
            return ExitCodes.Success;
        });
        return command;
    }

    // key ...

    private static Command BuildKeyCommand(GlobalOptions globals)
    {
        var role = new Option<string>("--role") { Description = "pos (a register of one store), accountant or admin.", Required = true };
        role.AcceptOnlyFromAmong("pos", "accountant", "admin");
        var store = new Option<string?>("--store") { Description = "The store a pos key acts for (required for pos)." };
        var name = new Option<string>("--name") { Description = "Who or what uses the key, e.g. till1; shown in the ledger.", Required = true };
        var officeRegister = new Option<string?>("--office-register") { Description = "Make the pos key an office register's own key: only it (or an admin key) runs `office run` for that register." };
        var create = new Command("create", "Create an API key. The key is printed once; the server keeps only its hash.") { role, store, name, officeRegister };
        SetClientAction(create, globals, async (parseResult, session, cancellationToken) =>
        {
            var request = new CreateApiKeyRequest
            {
                Role = parseResult.GetRequiredValue(role),
                StoreId = parseResult.GetValue(store) ?? "",
                Name = parseResult.GetRequiredValue(name),
                OfficeRegisterId = parseResult.GetValue(officeRegister) ?? "",
            };
            // Not retried: a repeat after a lost answer would create a second key.
            var reply = await session.Client.CreateApiKeyAsync(request, null, cancellationToken);
            session.Output.Reply(reply, () =>
            {
                session.Output.KeyValues(
                    ("key id", reply.KeyId),
                    ("role", reply.Role),
                    ("store", reply.StoreId),
                    ("office register", reply.OfficeRegisterId),
                    ("name", reply.Name),
                    ("api key", reply.ApiKey));
            });
            await session.Error.WriteLineAsync("The API key is shown only this once; the server keeps only its hash.");
            return ExitCodes.Success;
        });
        var includeRevoked = new Option<bool>("--all") { Description = "Include revoked keys." };
        var list = new Command("list", "List the API keys (never their secrets; the server does not have them).") { includeRevoked };
        SetClientAction(list, globals, async (parseResult, session, cancellationToken) =>
        {
            var request = new ListApiKeysRequest { IncludeRevoked = parseResult.GetValue(includeRevoked) };
            var reply = await RetryPolicy.Default.ExecuteAsync(request,
                (call, token) => session.Client.ListApiKeysAsync(call, null, token), cancellationToken);
            session.Output.Reply(reply, () => ReplyWriter.WriteApiKeys(session.Output, reply));
            return ExitCodes.Success;
        });

        var keyId = new Argument<string>("key-id") { Description = "The key's id (the part after lk_ and before the next _)." };
        var revoke = new Command("revoke", "Revoke an API key: it stops working at once on this server, within 1 s on others.") { keyId };
        SetClientAction(revoke, globals, async (parseResult, session, cancellationToken) =>
        {
            var request = new RevokeApiKeyRequest { KeyId = parseResult.GetRequiredValue(keyId) };
            // Revoking is idempotent (a revoked key answers the same), so a lost answer may be retried.
            var reply = await RetryPolicy.Default.ExecuteAsync(request,
                (call, token) => session.Client.RevokeApiKeyAsync(call, null, token), cancellationToken);
            session.Output.Reply(reply, () => ReplyWriter.WriteApiKeys(session.Output, new ListApiKeysReply { Keys = { reply } }));
            return ExitCodes.Success;
        });
        return new Command("key", "Manage API keys.") { create, list, revoke };
    }

    // program ...

    private static Command BuildProgramCommand(GlobalOptions globals)
    {
        return new Command("program", "Show or change a programme's settings.")
        {
            BuildProgramShow(globals),
            BuildProgramSet(globals),
        };
    }

    private static Argument<string?> ProgramIdArgument() => new("id")
    {
        Description = "The programme id (default: the default programme).",
        Arity = ArgumentArity.ZeroOrOne,
    };

    private static Command BuildProgramShow(GlobalOptions globals)
    {
        var id = ProgramIdArgument();
        var command = new Command("show", "Show a programme's settings.") { id };
        SetClientAction(command, globals, async (parseResult, session, cancellationToken) =>
        {
            var programId = parseResult.GetValue(id) ?? "";
            var program = await RetryPolicy.Default.ExecuteAsync(programId,
                (request, token) => session.Client.GetProgramAsync(request, null, token), cancellationToken);
            session.Output.Reply(program, () => ReplyWriter.WriteProgram(session.Output, program));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command BuildProgramSet(GlobalOptions globals)
    {
        var id = ProgramIdArgument();
        var accrualBasisPoints = new Option<int?>("--accrual-bp") { Description = "Accrual rate in basis points (500 = 5 %)." };
        var categoryRates = new Option<string[]>("--category-rate")
        {
            Description = "category=bp, a category's own accrual rate; repeat for more. Replaces all category rates.",
            AllowMultipleArgumentsPerToken = true,
        };
        var noCategoryRates = new Option<bool>("--no-category-rates") { Description = "Remove every category rate." };
        var excluded = new Option<string[]>("--exclude")
        {
            Description = "A category that neither earns nor may be paid with bonuses; repeat for more. Replaces the excluded list.",
            AllowMultipleArgumentsPerToken = true,
        };
        var noExcluded = new Option<bool>("--no-excluded-categories") { Description = "Remove every excluded category." };
        var maxRedeemPercent = new Option<int?>("--max-redeem-percent") { Description = "At most this percentage of a receipt may be paid with bonuses." };
        var minLineAmount = new Option<string?>("--min-line-amount") { Description = "Roubles every line keeps to be paid with money." };
        var holdTimeoutSeconds = new Option<int?>("--hold-timeout-seconds") { Description = "A hold not committed or cancelled within this is released." };
        var accrualDelayDays = new Option<int?>("--accrual-delay-days") { Description = "Accrued bonuses are pending this many days." };
        var expiryDays = new Option<int?>("--expiry-days") { Description = "Bonuses burn this many days after they became spendable." };
        var command = new Command("set",
            "Change a programme's settings. Settings not given keep their current values " +
            "(a new programme starts from the default programme's).")
        {
            id, accrualBasisPoints, categoryRates, noCategoryRates, excluded, noExcluded,
            maxRedeemPercent, minLineAmount, holdTimeoutSeconds, accrualDelayDays, expiryDays,
        };
        SetClientAction(command, globals, async (parseResult, session, cancellationToken) =>
        {
            var programId = parseResult.GetValue(id) ?? "";
            // Parse every input before the first call, so a typo changes nothing.
            var minLineKopecks = parseResult.GetValue(minLineAmount) is { } minLineText ? ParseAmount(minLineText, "--min-line-amount", allowNegative: false) : (long?)null;
            var givenRates = parseResult.GetValue(categoryRates) is { Length: > 0 } rateTexts ? ParseCategoryRates(rateTexts) : null;
            var givenExcluded = parseResult.GetValue(excluded) is { Length: > 0 } excludedTexts ? excludedTexts : null;

            var request = await ReadCurrentSettingsAsync(session.Client, programId, cancellationToken);
            if (parseResult.GetValue(accrualBasisPoints) is { } accrual) request.AccrualBp = accrual;
            if (parseResult.GetValue(noCategoryRates)) request.CategoryRates.Clear();
            if (givenRates is not null)
            {
                request.CategoryRates.Clear();
                request.CategoryRates.Add(givenRates);
            }
            if (parseResult.GetValue(noExcluded)) request.ExcludedCategories.Clear();
            if (givenExcluded is not null)
            {
                request.ExcludedCategories.Clear();
                request.ExcludedCategories.AddRange(givenExcluded);
            }
            if (parseResult.GetValue(maxRedeemPercent) is { } percent) request.MaxRedeemPercent = percent;
            if (minLineKopecks is { } minLine) request.MinLineAmount = minLine;
            if (parseResult.GetValue(holdTimeoutSeconds) is { } holdTimeout) request.HoldTimeoutSeconds = holdTimeout;
            if (parseResult.GetValue(accrualDelayDays) is { } delay) request.AccrualDelayDays = delay;
            if (parseResult.GetValue(expiryDays) is { } expiry) request.ExpiryDays = expiry;

            // Safe to retry: it replaces the settings with the same values.
            var program = await RetryPolicy.Default.ExecuteAsync(request,
                (call, token) => session.Client.SetProgramAsync(call, null, token), cancellationToken);
            session.Output.Reply(program, () => ReplyWriter.WriteProgram(session.Output, program));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The programme's current settings as a request; a new programme starts from the default programme's.</summary>
    private static async Task<SetProgramRequest> ReadCurrentSettingsAsync(LoyaltyClient client, string programId, CancellationToken cancellationToken)
    {
        Program? current;
        try
        {
            current = await RetryPolicy.Default.ExecuteAsync(programId, (request, token) => client.GetProgramAsync(request, null, token), cancellationToken);
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound && programId.Length > 0)
        {
            try
            {
                current = await RetryPolicy.Default.ExecuteAsync("", (request, token) => client.GetProgramAsync(request, null, token), cancellationToken);
            }
            catch (RpcException defaultError) when (defaultError.StatusCode == StatusCode.NotFound)
            {
                current = null;
            }
        }
        catch (RpcException error) when (error.StatusCode == StatusCode.NotFound)
        {
            current = null;
        }

        var request = new SetProgramRequest { ProgramId = programId };
        if (current is null) return request;
        request.AccrualBp = current.AccrualBp;
        request.CategoryRates.Add(current.CategoryRates);
        request.ExcludedCategories.AddRange(current.ExcludedCategories);
        request.MaxRedeemPercent = current.MaxRedeemPercent;
        request.MinLineAmount = current.MinLineAmount;
        request.HoldTimeoutSeconds = current.HoldTimeoutSeconds;
        request.AccrualDelayDays = current.AccrualDelayDays;
        request.ExpiryDays = current.ExpiryDays;
        return request;
    }

    // health

    private static Command BuildHealthCommand(GlobalOptions globals)
    {
        var service = new Option<string?>("--service") { Description = "A service name (default: the whole server)." };
        var watch = new Option<bool>("--watch") { Description = "Keep watching and print every change until Ctrl+C." };
        var command = new Command("health", "Ask whether the server is serving (grpc.health.v1). Exit code 0 only when SERVING.") { service, watch };
        SetClientAction(command, globals, async (parseResult, session, cancellationToken) =>
        {
            var serviceName = parseResult.GetValue(service) ?? "";
            if (!parseResult.GetValue(watch))
            {
                // Not retried: a probe reports what it sees now.
                var reply = await session.Client.CheckHealthAsync(serviceName, null, cancellationToken);
                session.Output.Reply(reply, () => session.Output.Line(HealthName(reply.Status)));
                return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving ? ExitCodes.Success : ExitCodes.TryAgain;
            }

            var last = HealthCheckResponse.Types.ServingStatus.Unknown;
            try
            {
                await foreach (var reply in session.Client.WatchHealthAsync(serviceName, null, cancellationToken))
                {
                    last = reply.Status;
                    session.Output.Reply(reply, () =>
                        session.Output.Line($"{DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm:ss}Z  {HealthName(reply.Status)}"));
                }
            }
            catch (RpcException error) when (error.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                // Ctrl+C is how watching ends.
            }
            return last == HealthCheckResponse.Types.ServingStatus.Serving ? ExitCodes.Success : ExitCodes.TryAgain;
        });
        return command;
    }

    private static string HealthName(HealthCheckResponse.Types.ServingStatus status) => status switch
    {
        HealthCheckResponse.Types.ServingStatus.Serving => "SERVING",
        HealthCheckResponse.Types.ServingStatus.NotServing => "NOT_SERVING",
        HealthCheckResponse.Types.ServingStatus.ServiceUnknown => "SERVICE_UNKNOWN",
        _ => "UNKNOWN",
    };

    // Running a command.

    /// <summary>
    /// Opens the session, runs the command, and turns failures into one line on stderr and an exit
    /// code. Messages come from the server or from this tool; neither ever contains the key.
    /// </summary>
    private static void SetClientAction(
        Command command, GlobalOptions globals, Func<ParseResult, CliSession, CancellationToken, Task<int>> body)
    {
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var error = parseResult.InvocationConfiguration.Error;
            try
            {
                using var session = CliSession.Open(parseResult, globals);
                return await body(parseResult, session, cancellationToken);
            }
            catch (RpcException failure)
            {
                await error.WriteLineAsync($"error: {failure.StatusCode.ToWireName()}: {OneLine(failure.Message)}");
                return ExitCodes.For(failure.StatusCode);
            }
            catch (CommandLineInputException failure)
            {
                await error.WriteLineAsync($"error: {StatusCode.InvalidArgument.ToWireName()}: {OneLine(failure.Message)}");
                return ExitCodes.InvalidInput;
            }
            catch (Exception failure) when (failure is IOException or UnauthorizedAccessException)
            {
                // A file the command reads or writes (a report, a catalog's folder): a sentence, never a stack trace.
                await error.WriteLineAsync($"error: {StatusCode.InvalidArgument.ToWireName()}: {OneLine(failure.Message)}");
                return ExitCodes.InvalidInput;
            }
        });
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");

    // Inputs.

    public static long ParseAmount(string text, string what, bool allowNegative = true)
    {
        if (!Money.TryParseRoubles(text, out var kopecks, out var problem))
        {
            throw new CommandLineInputException($"{what}: {problem}");
        }
        if (kopecks < 0 && !allowNegative)
        {
            throw new CommandLineInputException($"{what}: the amount may not be negative.");
        }
        return kopecks;
    }

    public static string ResolveOperationId(string? given)
    {
        if (given is null) return OperationId.New();
        if (!OperationId.IsValid(given))
        {
            throw new CommandLineInputException(
                $"--operation-id must be 1 to {OperationId.MaxLength} characters and may not start with '{OperationId.ReservedPrefix}'.");
        }
        return given;
    }

    /// <summary>"sku:category:amount" per line; one whole unit at that price.</summary>
    public static IReadOnlyList<ReceiptLine> ParseReceiptLines(IReadOnlyList<string> texts)
    {
        if (texts.Count == 0) throw new CommandLineInputException("A receipt needs at least one --line sku:category:amount.");
        if (texts.Count > MaxCommandLineReceiptLines)
        {
            throw new CommandLineInputException($"At most {MaxCommandLineReceiptLines} lines may be given on the command line.");
        }
        var lines = new List<ReceiptLine>(texts.Count);
        foreach (var text in texts)
        {
            var parts = text.Split(':');
            if (parts.Length != 3 || parts[0].Length == 0)
            {
                throw new CommandLineInputException($"--line '{text}' is not sku:category:amount, e.g. 4601234567890:dairy:89.90.");
            }
            var amount = ParseAmount(parts[2], $"--line '{text}'", allowNegative: false);
            lines.Add(new ReceiptLine
            {
                Sku = parts[0],
                Category = parts[1],
                QuantityMilli = OneUnitMilli,
                Price = amount,
                Amount = amount,
            });
        }
        return lines;
    }

    public static Dictionary<string, int> ParseCategoryRates(IReadOnlyList<string> texts)
    {
        var rates = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var text in texts)
        {
            var separator = text.LastIndexOf('=');
            if (separator <= 0
                || !int.TryParse(text.AsSpan(separator + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var basisPoints))
            {
                throw new CommandLineInputException($"--category-rate '{text}' is not category=basis-points, e.g. dairy=300.");
            }
            rates[text[..separator]] = basisPoints;
        }
        return rates;
    }
}
