using Loyalty.Grains.Domain;
using Loyalty.Grains.Runtime;
using Orleans.Runtime;

namespace Loyalty.Grains.Cluster;

/// <summary>
/// Turns what Orleans itself throws at a caller of our grains into the refusals the rest of the
/// server already maps to gRPC statuses, in one place: a full mailbox is <see cref="CardErrorCode.Overloaded"/>
/// (RESOURCE_EXHAUSTED, retry shortly), and a silo that cannot be reached, is stopping, or did not
/// answer within the response timeout is <see cref="CardErrorCode.Unavailable"/> (UNAVAILABLE: "may or
/// may not have been stored, retry with the same operation id"), never an INTERNAL error.
/// An outgoing call filter of every silo, so it sees calls made from the silo's own grain factory
/// (the gRPC services) and from grains alike.
/// </summary>
public sealed class GrainCallFailures(CardGrainOptions options) : IOutgoingGrainCallFilter
{
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        try
        {
            await context.Invoke();
        }
        catch (LimitExceededException) when (IsOurs(context))
        {
            throw new CardException(CardErrorCode.Overloaded,
                $"{What(context)} has {options.MailboxCapacity} calls waiting, its limit; try again shortly.");
        }
        catch (SiloUnavailableException stopping) when (IsOurs(context) && stopping.Message.Contains("shutting down", StringComparison.Ordinal))
        {
            throw CardException.ShuttingDown();
        }
        // OrleansException covers the rest of what the runtime itself throws at a caller (a directory or
        // activation failure during a membership change): the call may or may not have run, exactly
        // the UNAVAILABLE contract; it never means the request was wrong.
        // A reply that could not be serialised on the silo that ran the call (an exception type without
        // a codec) leaves the outcome unknown too; the silo that ran it logged the original error.
        catch (Exception error) when (IsOurs(context) && error is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException or OrleansException
                                          or Orleans.Serialization.SerializerException)
        {
            throw new CardException(CardErrorCode.Unavailable,
                $"The server holding {What(context).ToLowerInvariant()} could not be reached or did not answer in time; if this was a write, it may or may not have been stored. Retry with the same operation id.");
        }
    }

    private static bool IsOurs(IOutgoingGrainCallContext context) =>
        context.InterfaceMethod?.DeclaringType?.Namespace?.StartsWith("Loyalty.", StringComparison.Ordinal) == true;

    private static string What(IOutgoingGrainCallContext context) =>
        context.InterfaceMethod?.DeclaringType == typeof(ICardGrain) ? $"Card {context.TargetId.Key}" : "This service";
}
