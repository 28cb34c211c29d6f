using Loyalty.Grains.Domain;

namespace Loyalty.Grains.Tests.Rules;

/// <summary>Every refused command throws a <see cref="CardException"/> with the right code and a sentence naming the problem, and changes nothing.</summary>
public sealed class BadInputTests
{
    private static readonly ProgramSettings Program = R.Standard();
    private static readonly ReceiptRef Committed = R.Ref(1);

    /// <summary>A card with something on every figure: a balance, a committed receipt and an open hold.</summary>
    private static (CardRun Card, string HoldId) BusyCard()
    {
        var card = new CardRun(Program);
        card.Adjust(10_000);
        card.Commit(R.Receipt(1, R.Line("A", "grocery", 5_000)));
        var hold = card.Redeem(R.Receipt(2, R.Line("A", "grocery", 10_000)), 1_000);
        return (card, hold.HoldId);
    }

    private static Receipt WithLine(ReceiptLine line) => R.Receipt(3, line);

    private static readonly Dictionary<string, Action<CardRun>> Commands = new()
    {
        ["adjust by zero"] = c => c.Adjust(0),
        ["adjust by long.MaxValue"] = c => c.Adjust(long.MaxValue),
        ["adjust by long.MinValue"] = c => c.Adjust(long.MinValue),
        ["adjust by one over the limit"] = c => c.Adjust(Limits.MaxAmountKopecks + 1),
        ["adjust by one under minus the limit"] = c => c.Adjust(-Limits.MaxAmountKopecks - 1),
        ["adjust without a reason"] = c => c.Adjust(100, ""),
        ["adjust with a blank reason"] = c => c.Adjust(100, "   "),
        ["adjust without an author"] = c => c.Apply(s => Card.Adjust(s, Program, "op-x", 100, "goodwill", "", c.Now)),
        ["adjust overdrawing the card"] = c => c.Adjust(-9_251),
        ["redeem zero"] = c => c.Redeem(R.Parse("grocery:10000", 3), 0),
        ["redeem a negative amount"] = c => c.Redeem(R.Parse("grocery:10000", 3), -1),
        ["redeem long.MaxValue"] = c => c.Redeem(R.Parse("grocery:10000", 3), long.MaxValue),
        ["redeem one over the limit"] = c => c.Redeem(R.Parse("grocery:10000", 3), Limits.MaxAmountKopecks + 1),
        ["redeem above the percent cap"] = c => c.Redeem(R.Parse("grocery:10000", 3), 3_001),
        ["redeem more than is available"] = c => c.Redeem(R.Parse("grocery:100000", 3), 9_251),
        ["redeem on a receipt with no lines"] = c => c.Redeem(R.Receipt(3), 100),
        ["commit a receipt with no lines"] = c => c.Commit(R.Receipt(3)),
        ["commit a receipt with null lines"] = c => c.Commit(new Receipt(R.Ref(3), null!)),
        ["redeem on a receipt with duplicate SKUs"] = c => c.Redeem(R.Receipt(3, R.Line("A", "grocery", 5_000), R.Line("A", "grocery", 5_000)), 100),
        ["commit a receipt with too many lines"] = c => c.Commit(R.Receipt(3, Enumerable.Range(1, Limits.MaxReceiptLines + 1).Select(i => R.Line($"S{i}", "grocery", 100)).ToArray())),
        ["commit a line with a negative quantity"] = c => c.Commit(WithLine(new ReceiptLine("A", "grocery", "milk", -1_000, 100, 100))),
        ["commit a line with zero quantity"] = c => c.Commit(WithLine(new ReceiptLine("A", "grocery", "milk", 0, 100, 100))),
        ["commit a line with too large a quantity"] = c => c.Commit(WithLine(new ReceiptLine("A", "grocery", "milk", Limits.MaxQuantityMilli + 1, 100, 100))),
        ["commit a line with a negative amount"] = c => c.Commit(WithLine(new ReceiptLine("A", "grocery", "milk", 1_000, 100, -100))),
        ["commit a line of long.MaxValue"] = c => c.Commit(WithLine(new ReceiptLine("A", "grocery", "milk", 1_000, 100, long.MaxValue))),
        ["commit a line one over the limit"] = c => c.Commit(WithLine(new ReceiptLine("A", "grocery", "milk", 1_000, 100, Limits.MaxAmountKopecks + 1))),
        ["commit a line with a negative price"] = c => c.Commit(WithLine(new ReceiptLine("A", "grocery", "milk", 1_000, -1, 100))),
        ["commit a line without a SKU"] = c => c.Commit(WithLine(new ReceiptLine("", "grocery", "milk", 1_000, 100, 100))),
        ["commit a receipt of shift 0"] = c => c.Commit(new Receipt(R.Ref(3, shift: 0), [R.Line("A", "grocery", 100)])),
        ["commit a receipt without a store"] = c => c.Commit(new Receipt(new ReceiptRef("", "R01", 1, 3), [R.Line("A", "grocery", 100)])),
        ["commit with an unknown hold"] = c => c.Commit(R.Parse("grocery:10000", 3), Card.HoldIdFor(R.CardNumber, "unknown")),
        ["commit a receipt that has an open hold without naming it"] = c => c.Commit(R.Receipt(2, R.Line("A", "grocery", 10_000))),
        ["cancel an unknown hold"] = c => c.Cancel(Card.HoldIdFor(R.CardNumber, "unknown")),
        ["quote long.MaxValue"] = c => Card.Quote(c.State, Program, R.Parse("grocery:10000", 3), long.MaxValue, null, c.Now),
        ["quote a negative amount"] = c => Card.Quote(c.State, Program, R.Parse("grocery:10000", 3), -1, null, c.Now),
        ["offline discount above the line amount"] = c => c.ApplyOffline(R.Parse("grocery:1000", 3), 1_001),
        ["offline negative discount"] = c => c.ApplyOffline(R.Parse("grocery:1000", 3), -1),
        ["offline discounts not matching the lines"] = c => c.ApplyOffline(R.Parse("grocery:1000", 3), 1, 2),
        ["refund naming no lines"] = c => c.Refund(Committed),
        ["refund of an unknown SKU"] = c => c.Refund(Committed, new ReturnedLine("Z", 1_000)),
        ["refund of a negative quantity"] = c => c.Refund(Committed, new ReturnedLine("A", -1_000)),
        ["refund of zero quantity"] = c => c.Refund(Committed, new ReturnedLine("A", 0)),
        ["refund naming a SKU twice"] = c => c.Refund(Committed, new ReturnedLine("A", 100), new ReturnedLine("A", 100)),
        ["refund of more than was bought"] = c => c.Refund(Committed, new ReturnedLine("A", 1_001)),
        ["block without a reason"] = c => c.Apply(s => Card.SetStatus(s, Program, CardStatus.Blocked, " ", c.Now)),
        ["close by status"] = c => c.Apply(s => Card.SetStatus(s, Program, CardStatus.Closed, "gone", c.Now)),
    };

    [Theory]
    [InlineData("adjust by zero", CardErrorCode.InvalidArgument, "adjustment must not be zero")]
    [InlineData("adjust by long.MaxValue", CardErrorCode.InvalidArgument, "exceeds the limit")]
    [InlineData("adjust by long.MinValue", CardErrorCode.InvalidArgument, "exceeds the limit")]
    [InlineData("adjust by one over the limit", CardErrorCode.InvalidArgument, "exceeds the limit")]
    [InlineData("adjust by one under minus the limit", CardErrorCode.InvalidArgument, "exceeds the limit")]
    [InlineData("adjust without a reason", CardErrorCode.InvalidArgument, "reason of the adjustment is missing")]
    [InlineData("adjust with a blank reason", CardErrorCode.InvalidArgument, "reason of the adjustment is missing")]
    [InlineData("adjust without an author", CardErrorCode.InvalidArgument, "author of the adjustment is missing")]
    [InlineData("adjust overdrawing the card", CardErrorCode.InsufficientBonuses, "9250 kopecks available")]
    [InlineData("redeem zero", CardErrorCode.InvalidArgument, "redemption amount must be positive")]
    [InlineData("redeem a negative amount", CardErrorCode.InvalidArgument, "redemption amount must be positive")]
    [InlineData("redeem long.MaxValue", CardErrorCode.InvalidArgument, "exceeds the limit")]
    [InlineData("redeem one over the limit", CardErrorCode.InvalidArgument, "exceeds the limit")]
    [InlineData("redeem above the percent cap", CardErrorCode.LimitExceeded, "at most 3000 kopecks")]
    [InlineData("redeem more than is available", CardErrorCode.InsufficientBonuses, "9250 kopecks available")]
    [InlineData("redeem on a receipt with no lines", CardErrorCode.InvalidArgument, "has no lines")]
    [InlineData("commit a receipt with no lines", CardErrorCode.InvalidArgument, "has no lines")]
    [InlineData("commit a receipt with null lines", CardErrorCode.InvalidArgument, "has no lines")]
    [InlineData("redeem on a receipt with duplicate SKUs", CardErrorCode.InvalidArgument, "SKU A appears more than once")]
    [InlineData("commit a receipt with too many lines", CardErrorCode.InvalidArgument, "1001 lines; at most 1000")]
    [InlineData("commit a line with a negative quantity", CardErrorCode.InvalidArgument, "quantity of line 1")]
    [InlineData("commit a line with zero quantity", CardErrorCode.InvalidArgument, "quantity of line 1")]
    [InlineData("commit a line with too large a quantity", CardErrorCode.InvalidArgument, "quantity of line 1")]
    [InlineData("commit a line with a negative amount", CardErrorCode.InvalidArgument, "amount of line 1")]
    [InlineData("commit a line of long.MaxValue", CardErrorCode.InvalidArgument, "amount of line 1")]
    [InlineData("commit a line one over the limit", CardErrorCode.InvalidArgument, "amount of line 1")]
    [InlineData("commit a line with a negative price", CardErrorCode.InvalidArgument, "price of line 1")]
    [InlineData("commit a line without a SKU", CardErrorCode.InvalidArgument, "SKU of line 1")]
    [InlineData("commit a receipt of shift 0", CardErrorCode.InvalidArgument, "shift number must be positive")]
    [InlineData("commit a receipt without a store", CardErrorCode.InvalidArgument, "store id is missing")]
    [InlineData("commit with an unknown hold", CardErrorCode.NotFound, "is not known on card")]
    [InlineData("commit a receipt that has an open hold without naming it", CardErrorCode.AlreadyResolved, "commit it with that hold id")]
    [InlineData("cancel an unknown hold", CardErrorCode.NotFound, "is not known on card")]
    [InlineData("quote long.MaxValue", CardErrorCode.InvalidArgument, "requested redemption")]
    [InlineData("quote a negative amount", CardErrorCode.InvalidArgument, "requested redemption")]
    [InlineData("offline discount above the line amount", CardErrorCode.InvalidArgument, "discount of line 1")]
    [InlineData("offline negative discount", CardErrorCode.InvalidArgument, "discount of line 1")]
    [InlineData("offline discounts not matching the lines", CardErrorCode.InvalidArgument, "1 lines but 2 line discounts")]
    [InlineData("refund naming no lines", CardErrorCode.InvalidArgument, "names no returned lines")]
    [InlineData("refund of an unknown SKU", CardErrorCode.InvalidArgument, "no line with SKU Z")]
    [InlineData("refund of a negative quantity", CardErrorCode.InvalidArgument, "returned quantity of SKU A")]
    [InlineData("refund of zero quantity", CardErrorCode.InvalidArgument, "returned quantity of SKU A")]
    [InlineData("refund naming a SKU twice", CardErrorCode.InvalidArgument, "SKU A appears more than once")]
    [InlineData("refund of more than was bought", CardErrorCode.AlreadyResolved, "Only 1000 thousandths")]
    [InlineData("block without a reason", CardErrorCode.InvalidArgument, "reason is missing")]
    [InlineData("close by status", CardErrorCode.InvalidArgument, "closed only by replacing or merging")]
    public void A_refused_command_throws_a_named_error_and_changes_nothing(string command, CardErrorCode code, string messagePart)
    {
        var (card, _) = BusyCard();
        var before = R.Snapshot(card.State);
        var stateBefore = card.State;
        var entriesBefore = card.Entries.Count;
        var receiptsBefore = card.Receipts.ToDictionary();

        var ex = Assert.Throws<CardException>(() => Commands[command](card));

        Assert.Equal(code, ex.Code);
        Assert.Contains(messagePart, ex.Message);
        Assert.Same(stateBefore, card.State);
        Assert.Equal(before, R.Snapshot(card.State));
        Assert.Equal(entriesBefore, card.Entries.Count);
        Assert.Equal(receiptsBefore, card.Receipts);
        card.AssertLedgerConsistent();
    }

    [Fact]
    public void Every_bad_input_case_has_a_row_in_the_table()
    {
        var rows = typeof(BadInputTests).GetMethod(nameof(A_refused_command_throws_a_named_error_and_changes_nothing))!
            .GetCustomAttributes(typeof(InlineDataAttribute), false).Cast<InlineDataAttribute>()
            .Select(a => (string)a.GetData(null!).Single()[0]).ToHashSet();

        Assert.Equal(Commands.Keys.OrderBy(k => k), rows.OrderBy(k => k));
    }

    [Theory]
    [InlineData("")]
    [InlineData("1234 5678")]
    [InlineData("ABC-123")]
    [InlineData("карта123")]
    [InlineData("123456789012345678901234567890123")] // 33 characters
    [InlineData(null)]
    public void An_invalid_card_number_is_refused(string? number)
    {
        var ex = Assert.Throws<CardException>(() => Card.Issue(number!, Program, null, null, R.T0));

        Assert.Equal(CardErrorCode.InvalidArgument, ex.Code);
        Assert.Contains("card number", ex.Message);
    }

    [Theory]
    [InlineData("A")]
    [InlineData("12345678901234567890123456789012")] // 32 characters
    [InlineData("7000ABCdef")]
    public void A_valid_card_number_is_issued_with_nothing_on_it(string number)
    {
        var issued = Card.Issue(number, Program, null, null, R.T0);

        Assert.Empty(issued.Entries);
        Assert.Equal((0L, 0L, 0L, CardStatus.Active), (issued.State.BalanceKopecks, issued.State.HeldKopecks, issued.State.PendingKopecks, issued.State.Status));
    }

    [Theory]
    [InlineData("redeem")]
    [InlineData("commit")]
    public void A_blocked_card_can_neither_redeem_nor_earn(string command)
    {
        var (card, _) = BusyCard();
        card.Apply(s => Card.SetStatus(s, Program, CardStatus.Blocked, "reported stolen", card.Now));
        var before = R.Snapshot(card.State);

        var ex = Assert.Throws<CardException>(() =>
        {
            if (command == "redeem") card.Redeem(R.Parse("grocery:10000", 3), 100);
            else card.Commit(R.Parse("grocery:10000", 3));
        });

        Assert.Equal(CardErrorCode.CardNotActive, ex.Code);
        Assert.Contains("is blocked (reported stolen)", ex.Message);
        Assert.Equal(before, R.Snapshot(card.State));
    }

    [Fact]
    public void An_unblocked_card_works_again_with_its_balance_intact()
    {
        var (card, _) = BusyCard();
        card.Apply(s => Card.SetStatus(s, Program, CardStatus.Blocked, "reported stolen", card.Now));

        card.Apply(s => Card.SetStatus(s, Program, CardStatus.Active, "", card.Now));
        var hold = card.Redeem(R.Parse("grocery:10000", 3), 100);

        Assert.Equal(100, hold.AmountKopecks);
        Assert.Null(card.State.StatusReason);
    }
}
