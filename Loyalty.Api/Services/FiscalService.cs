using Google.Protobuf.WellKnownTypes;
using Loyalty.Api.Auth;
using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Microsoft.Extensions.Logging;
using V1 = Loyalty.Protos.V1;

namespace Loyalty.Api.Services;

/// <summary>
/// loyalty.v1.Fiscal: drivers submit sales to an office register's print queue, the office adapter
/// takes them as a stream and reports results, drivers read their jobs (issue 13 point 4). Proto in,
/// one call of the register's queue, proto out; the rules are in <c>Domain/PrintQueue.cs</c>.
/// Who may: a pos key of the receipt's store (the drivers and the office adapter are the office's
/// store's registers) or an admin; an accountant may read jobs.
/// </summary>
public sealed class FiscalService(PrintQueues queues, Access access, Web.ReceiptNotifier notifier, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime, ILogger<FiscalService> logger) : V1.Fiscal.FiscalBase
{
    /// <summary>The service's full name on the wire.</summary>
    public const string Name = "loyalty.v1.Fiscal";

    public override async Task<V1.PrintJob> SubmitReceipt(V1.SubmitReceiptRequest request, ServerCallContext context)
    {
        if (request.Receipt?.Ref is null) throw Grpc.Rpc.Error(StatusCode.InvalidArgument, "receipt with its ref (store, register, shift, receipt number) is required.");
        var caller = access.RegisterOfStore(context, request.Receipt.Ref.StoreId);
        var electronicByDefault = request.Delivery == V1.ReceiptDelivery.Unspecified
            && await queues.Store.ElectronicOnlyAsync(caller.KeyId, context.CancellationToken);
        var job = await queues.SubmitAsync(FiscalMapping.ToDomain(request, caller.KeyId, electronicByDefault), context.CancellationToken);
        return FiscalMapping.ToWire(job);
    }

    public override async Task<V1.PrintJob> GetPrintJob(V1.GetPrintJobRequest request, ServerCallContext context)
    {
        access.Reader(context);
        var job = await queues.GetAsync(request.JobId, context.CancellationToken);
        access.ReaderOfStore(context, job.Request.StoreId);
        return FiscalMapping.ToWire(job);
    }

    public override async Task ReceivePrintJobs(V1.ReceivePrintJobsRequest request, IServerStreamWriter<V1.PrintJobTask> responseStream, ServerCallContext context)
    {
        access.OfficeRegister(context, request.StoreId, request.OfficeRegisterId);
        Validate.Identifier(request.StoreId, "store_id");
        Validate.Identifier(request.OfficeRegisterId, "office_register_id");
        // The feed is endless: it also ends when the server stops, so a stop does not wait for the
        // adapter to hang up (Kestrel would wait out its shutdown timeout); the adapter reconnects.
        using var feed = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        try
        {
            await foreach (var batch in queues.FeedAsync(request.StoreId, request.OfficeRegisterId, feed.Token))
                foreach (var job in batch)
                    await responseStream.WriteAsync(FiscalMapping.ToTask(job));
        }
        catch (FeedSupersededException superseded)
        {
            throw Grpc.Rpc.Error(StatusCode.Aborted, superseded.Message);
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            throw Grpc.Rpc.Error(StatusCode.Unavailable, "The server is stopping; connect again (to another server of the cluster, or to this one once it is back).");
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The adapter went away; what it was handed and did not report is handed out again on its next feed.
        }
    }

    public override async Task<V1.PrintJob> ReportPrintResult(V1.ReportPrintResultRequest request, ServerCallContext context)
    {
        access.Register(context);
        var job = await queues.GetAsync(request.JobId, context.CancellationToken);
        access.OfficeRegister(context, job.Request.StoreId, job.Request.OfficeRegisterId);
        var after = await queues.ReportAsync(FiscalMapping.ToDomain(request), context.CancellationToken);
        if (job.State != PrintJobState.Done && after.State == PrintJobState.Done && after.Request.Delivery is ReceiptDeliveryKind.Sms or ReceiptDeliveryKind.Email)
        {
            // Sent off the office adapter's call, so a slow gateway or mail server never holds up the register's queue.
            _ = Task.Run(() => NotifyAsync(after, after.Request.Delivery, null, CancellationToken.None));
        }
        return FiscalMapping.ToWire(after);
    }

    public override async Task<V1.PrintJob> ReprintReceipt(V1.ReprintReceiptRequest request, ServerCallContext context)
    {
        var caller = access.Register(context);
        var job = await queues.GetAsync(request.JobId, context.CancellationToken);
        access.RegisterOfStore(context, job.Request.StoreId);
        return FiscalMapping.ToWire(await queues.ReprintAsync(job, request.OperationId, caller.KeyId, context.CancellationToken));
    }

    public override async Task<V1.PrintJob> ResendReceipt(V1.ResendReceiptRequest request, ServerCallContext context)
    {
        access.Register(context);
        var job = await queues.GetAsync(request.JobId, context.CancellationToken);
        access.RegisterOfStore(context, job.Request.StoreId);
        var channel = request.Channel switch
        {
            V1.ResendChannel.Sms => ReceiptDeliveryKind.Sms,
            V1.ResendChannel.Email => ReceiptDeliveryKind.Email,
            _ => throw Grpc.Rpc.Error(StatusCode.InvalidArgument, "channel must be sms or email."),
        };
        if (job.State != PrintJobState.Done)
            throw Grpc.Rpc.Error(StatusCode.FailedPrecondition, $"Job {job.JobId} is {job.State}; only a printed receipt's link can be sent.");
        Validate.Text(request.Contact, "contact", required: false);
        var contact = string.IsNullOrWhiteSpace(request.Contact) ? null : channel == ReceiptDeliveryKind.Sms
            ? Loyalty.Protos.ContactText.NormalisePhone(request.Contact) is { } phone && Loyalty.Protos.ContactText.IsMobile(phone) ? phone
                : throw Grpc.Rpc.Error(StatusCode.InvalidArgument, $"contact '{request.Contact}' is not a Russian mobile number (+7 9XX XXX-XX-XX); an SMS link goes to a mobile phone.")
            : Loyalty.Protos.ContactText.IsValidEmail(request.Contact.Trim()) ? request.Contact.Trim()
                : throw Grpc.Rpc.Error(StatusCode.InvalidArgument, $"contact '{request.Contact}' is not an e-mail address.");
        // Counted on the receipt's own job: a copy (reprint) is the same receipt and starts no new count.
        var receiptJob = job.Request.ReprintOf ?? job.JobId;
        if (await queues.Store.TryCountResendAsync(receiptJob, PrintQueue.MaxResendsPerReceipt, context.CancellationToken) is null)
            throw Grpc.Rpc.Error(StatusCode.FailedPrecondition,
                $"The link of receipt job {receiptJob} was already sent again {PrintQueue.MaxResendsPerReceipt} times, the most one receipt allows (copies included); print a paper copy instead (ReprintReceipt).");
        var (noted, sent) = await NotifyAsync(job, channel, contact, context.CancellationToken);
        if (!sent) throw Grpc.Rpc.Error(noted.Notice!.StartsWith("No ", StringComparison.Ordinal) ? StatusCode.FailedPrecondition : StatusCode.Unavailable, noted.Notice);
        return FiscalMapping.ToWire(noted);
    }

    /// <summary>Sends the link and records on the job what became of it; never throws for a send that failed.</summary>
    private async Task<(PrintJob Job, bool Sent)> NotifyAsync(PrintJob job, ReceiptDeliveryKind channel, string? contact, CancellationToken cancellationToken)
    {
        var to = PrintQueue.LinkContact(job, channel, contact);
        string notice;
        var sent = false;
        if (to is null) notice = channel == ReceiptDeliveryKind.Sms ? "No mobile phone for the SMS link: none was valid for tag 1008." : "No e-mail for the link.";
        else
        {
            try
            {
                await notifier.SendAsync(job, channel, to, cancellationToken);
                notice = $"Link sent by {(channel == ReceiptDeliveryKind.Sms ? "SMS" : "e-mail")} to {to}.";
                sent = true;
            }
            catch (Web.ReceiptNotSentException failed)
            {
                notice = failed.Message;
                logger.LogWarning("Print job {JobId}: {Notice}", job.JobId, failed.Message);
            }
        }
        try { return (await queues.NoteAsync(job, notice, cancellationToken), sent); }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            logger.LogWarning(error, "Print job {JobId}: could not record the notice.", job.JobId);
            return (PrintQueue.Noticed(job, notice, DateTimeOffset.UtcNow), sent);
        }
    }

    public override async Task<V1.DriverMode> SetDriverMode(V1.SetDriverModeRequest request, ServerCallContext context)
    {
        var caller = access.Register(context);
        var keyId = string.IsNullOrEmpty(request.KeyId) ? caller.KeyId : request.KeyId;
        if (caller.Role != Role.Admin && keyId != caller.KeyId)
            throw Grpc.Rpc.Error(StatusCode.PermissionDenied, "A pos key may set only its own mode; an admin key may set any key's.");
        Validate.Identifier(keyId, "key_id");
        await queues.Store.SetElectronicOnlyAsync(keyId, request.ElectronicOnly, DateTimeOffset.UtcNow, context.CancellationToken);
        return new V1.DriverMode { KeyId = keyId, ElectronicOnly = request.ElectronicOnly };
    }

    public override async Task<V1.DisplayLink> GetDisplayLink(V1.GetDisplayLinkRequest request, ServerCallContext context)
    {
        // The display stands by the office register: its own key (or an admin) sets it up; a driver's key may not break its link.
        access.OfficeRegister(context, request.StoreId, request.OfficeRegisterId);
        Validate.Identifier(request.StoreId, "store_id");
        Validate.Identifier(request.OfficeRegisterId, "office_register_id");
        var token = await queues.Store.DisplayTokenAsync(request.StoreId, request.OfficeRegisterId, PrintQueue.NewReceiptToken(), request.Rotate, DateTimeOffset.UtcNow, context.CancellationToken);
        var path = "/display/" + token;
        return new V1.DisplayLink { StoreId = request.StoreId, OfficeRegisterId = request.OfficeRegisterId, Path = path, Url = notifier.PublicUrl(path) ?? "" };
    }
}

/// <summary>Fiscal wire messages to the print queue's records and back, field by field.</summary>
internal static class FiscalMapping
{
    public static PrintJobRequest ToDomain(V1.SubmitReceiptRequest wire, string submittedBy, bool electronicByDefault)
    {
        var delivery = wire.Delivery switch
        {
            V1.ReceiptDelivery.Unspecified => electronicByDefault ? ReceiptDeliveryKind.None : ReceiptDeliveryKind.Paper,
            V1.ReceiptDelivery.Paper => ReceiptDeliveryKind.Paper,
            V1.ReceiptDelivery.Sms => ReceiptDeliveryKind.Sms,
            V1.ReceiptDelivery.Email => ReceiptDeliveryKind.Email,
            V1.ReceiptDelivery.None => ReceiptDeliveryKind.None,
            _ => throw Grpc.Rpc.Error(StatusCode.InvalidArgument, $"delivery {(int)wire.Delivery} is not paper, sms, email or none."),
        };
        var payments = wire.Payments.Select(p => new PrintPayment(p.Type switch
        {
            V1.FiscalPaymentKind.Cash => PrintPaymentKind.Cash,
            V1.FiscalPaymentKind.Card => PrintPaymentKind.Card,
            V1.FiscalPaymentKind.Prepaid => PrintPaymentKind.Prepaid,
            V1.FiscalPaymentKind.Credit => PrintPaymentKind.Credit,
            _ => throw Grpc.Rpc.Error(StatusCode.InvalidArgument, "payments.type must be cash, card, prepaid or credit."),
        }, p.Amount)).ToList();
        var lines = wire.Lines.Select(l => new PrintLineDetail(l.Sku, l.BonusDiscount, ToDomain(l.Vat))).ToList();
        if (wire.Customer is { Inn.Length: > 0 } buyer && !Loyalty.Protos.Inn.IsValid(buyer.Inn))
            throw Grpc.Rpc.Error(StatusCode.InvalidArgument,
                $"customer.inn '{buyer.Inn}' is not a valid INN: 10 digits for a company or 12 for a person, with the FNS control digits.");
        PrintCustomer? customer = wire.Customer is { } c
            ? new PrintCustomer(Empty(c.Name), Empty(c.Inn), Empty(c.Email), Empty(c.DeliveryAddress?.OfdContact), [.. c.DeliveryAddress?.Phones ?? []])
            : null;
        return new PrintJobRequest(wire.OperationId, wire.OfficeRegisterId, ProtoMapping.ToDomain(wire.Receipt), Empty(wire.HoldId), Empty(wire.CardNumber),
            lines, payments, customer, delivery, ElectronicOnly: delivery != ReceiptDeliveryKind.Paper, submittedBy);
    }

    public static PrintReport ToDomain(V1.ReportPrintResultRequest wire)
    {
        var outcome = wire.Outcome switch
        {
            V1.PrintOutcome.Done => PrintOutcomeKind.Done,
            V1.PrintOutcome.Failed => PrintOutcomeKind.Failed,
            V1.PrintOutcome.NeedsAttention => PrintOutcomeKind.NeedsAttention,
            _ => throw Grpc.Rpc.Error(StatusCode.InvalidArgument, "outcome must be done, failed or needs_attention."),
        };
        var fiscal = outcome == PrintOutcomeKind.Done
            ? new PrintFiscalData(wire.FiscalDocumentNumber, wire.FiscalSign, wire.FnNumber, wire.ShiftNumber, wire.FiscalReceiptNumber,
                wire.DocumentDateTime, wire.Total, wire.QrCode, wire.RegistrationNumber)
            : null;
        return new PrintReport(wire.JobId, outcome, wire.Message, Empty(wire.ContactUsed), fiscal);
    }

    public static V1.PrintJob ToWire(PrintJob job)
    {
        var wire = new V1.PrintJob
        {
            JobId = job.JobId,
            State = job.State switch
            {
                PrintJobState.Queued => V1.PrintJobState.Queued,
                PrintJobState.Printing => V1.PrintJobState.Printing,
                PrintJobState.Done => V1.PrintJobState.Done,
                PrintJobState.Failed => V1.PrintJobState.Failed,
                _ => V1.PrintJobState.NeedsAttention,
            },
            Message = job.Message,
            ContactUsed = job.ContactUsed ?? "",
            OperationId = job.Request.OperationId,
            StoreId = job.Request.StoreId,
            OfficeRegisterId = job.Request.OfficeRegisterId,
            Sequence = job.Sequence,
            ReceiptUrl = $"/receipt/{job.ReceiptToken}",
            Delivery = job.Request.Delivery switch
            {
                ReceiptDeliveryKind.Paper => V1.ReceiptDelivery.Paper,
                ReceiptDeliveryKind.Sms => V1.ReceiptDelivery.Sms,
                ReceiptDeliveryKind.Email => V1.ReceiptDelivery.Email,
                _ => V1.ReceiptDelivery.None,
            },
            Bonuses = job.Bonuses switch
            {
                BonusSettlement.None => "",
                BonusSettlement.Held => "held",
                BonusSettlement.Committed => "committed",
                BonusSettlement.Cancelled => "cancelled",
                _ => job.BonusMessage ?? "refused",
            },
            SubmittedAt = Timestamp.FromDateTimeOffset(job.SubmittedAt),
            UpdatedAt = Timestamp.FromDateTimeOffset(job.UpdatedAt),
            Notice = job.Notice ?? "",
            ReprintOf = job.Request.ReprintOf ?? "",
        };
        if (job.Fiscal is { } f)
        {
            wire.FiscalDocumentNumber = f.FiscalDocumentNumber;
            wire.FiscalSign = f.FiscalSign;
            wire.FnNumber = f.FnNumber;
            wire.ShiftNumber = f.ShiftNumber;
            wire.FiscalReceiptNumber = f.ReceiptNumber;
            wire.DocumentDateTime = f.DocumentDateTime;
            wire.Total = f.TotalKopecks;
            wire.QrCode = f.QrCode;
        }
        return wire;
    }

    public static V1.PrintJobTask ToTask(PrintJob job)
    {
        var r = job.Request;
        var task = new V1.PrintJobTask
        {
            JobId = job.JobId,
            Sequence = job.Sequence,
            Receipt = new V1.Receipt { Ref = ProtoMapping.ToWire(r.Receipt.Ref) },
            ElectronicOnly = r.ElectronicOnly,
        };
        if (r.CopyOf is { } copy)
        {
            task.Copy = new V1.ReceiptCopy
            {
                OriginalJobId = r.ReprintOf ?? "", FiscalDocumentNumber = copy.FiscalDocumentNumber, FiscalSign = copy.FiscalSign, FnNumber = copy.FnNumber,
                DocumentDateTime = copy.DocumentDateTime, Total = copy.TotalKopecks, QrCode = copy.QrCode, ShiftNumber = copy.ShiftNumber, FiscalReceiptNumber = copy.ReceiptNumber,
            };
        }
        foreach (var l in r.Receipt.Lines)
            task.Receipt.Lines.Add(new V1.ReceiptLine { Sku = l.Sku, Category = l.Category, Name = l.Name, QuantityMilli = l.QuantityMilli, Price = l.PriceKopecks, Amount = l.AmountKopecks });
        foreach (var l in r.Lines) task.Lines.Add(new V1.FiscalLineDetail { Sku = l.Sku, BonusDiscount = l.BonusDiscountKopecks, Vat = ToWire(l.Vat) });
        foreach (var p in r.Payments)
            task.Payments.Add(new V1.FiscalPaymentPart
            {
                Amount = p.AmountKopecks,
                Type = p.Kind switch
                {
                    PrintPaymentKind.Cash => V1.FiscalPaymentKind.Cash,
                    PrintPaymentKind.Card => V1.FiscalPaymentKind.Card,
                    PrintPaymentKind.Prepaid => V1.FiscalPaymentKind.Prepaid,
                    _ => V1.FiscalPaymentKind.Credit,
                },
            });
        if (r.Customer is { } c)
        {
            task.Customer = new V1.FiscalCustomerInfo
            {
                Name = c.Name ?? "", Inn = c.Inn ?? "", Email = c.Email ?? "",
                DeliveryAddress = new V1.DeliveryAddressContacts { OfdContact = c.OfdContact ?? "" },
            };
            task.Customer.DeliveryAddress.Phones.AddRange(c.Phones);
        }
        return task;
    }

    private static PrintVat ToDomain(V1.VatRateKind vat) => vat switch
    {
        V1.VatRateKind.None => PrintVat.None,
        V1.VatRateKind.Vat0 => PrintVat.Vat0,
        V1.VatRateKind.Vat5 => PrintVat.Vat5,
        V1.VatRateKind.Vat7 => PrintVat.Vat7,
        V1.VatRateKind.Vat10 => PrintVat.Vat10,
        V1.VatRateKind.Vat20 => PrintVat.Vat20,
        V1.VatRateKind.Vat22 => PrintVat.Vat22,
        _ => throw Grpc.Rpc.Error(StatusCode.InvalidArgument, $"lines.vat {(int)vat} is not a known rate."),
    };

    private static V1.VatRateKind ToWire(PrintVat vat) => vat switch
    {
        PrintVat.Vat0 => V1.VatRateKind.Vat0,
        PrintVat.Vat5 => V1.VatRateKind.Vat5,
        PrintVat.Vat7 => V1.VatRateKind.Vat7,
        PrintVat.Vat10 => V1.VatRateKind.Vat10,
        PrintVat.Vat20 => V1.VatRateKind.Vat20,
        PrintVat.Vat22 => V1.VatRateKind.Vat22,
        _ => V1.VatRateKind.None,
    };

    private static string? Empty(string? text) => string.IsNullOrEmpty(text) ? null : text;
}
