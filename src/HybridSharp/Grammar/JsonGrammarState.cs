namespace HybridSharp.Grammar;

/// <summary>
/// Where generation stands inside a constrained value: an immutable set of alternative parse stacks (alternatives
/// arise from anyOf and from values that cannot be told apart by their first byte). <see cref="Advance"/> feeds a
/// token's UTF-8 bytes and returns the next state, or null when the bytes cannot continue any alternative; states are
/// never changed, so candidates can be tried freely. JSON is written compactly: no whitespace between tokens.
/// Numbers stay within what a double holds exactly enough to round-trip: at most 15 integer digits, 15 fraction digits
/// and 2 exponent digits.
/// </summary>
public sealed class JsonGrammarState
{
    private readonly IReadOnlyList<ParseStack?> _alternatives; // null = the value is complete

    private JsonGrammarState(IReadOnlyList<ParseStack?> alternatives) => _alternatives = alternatives;

    /// <summary>The state before the first byte of a value of <paramref name="node"/>.</summary>
    public static JsonGrammarState Start(GrammarNode node) => new([new ParseStack(new PendingValue(node), null)]);

    /// <summary>True when the value is complete and nothing may follow: generation must end.</summary>
    public bool IsComplete => _alternatives.All(a => a is null);

    /// <summary>True when generation may end here (the value is complete, or a top-level number could stop now).</summary>
    public bool CanEnd => _alternatives.Any(a => a is null || (a.Rest is null && a.Top.CanEnd));

    /// <summary>The state after <paramref name="bytes"/>, or null when they break the grammar.</summary>
    public JsonGrammarState? Advance(ReadOnlySpan<byte> bytes)
    {
        IReadOnlyList<ParseStack?> current = _alternatives;
        foreach (var b in bytes)
        {
            var next = new List<ParseStack?>(current.Count);
            foreach (var stack in current)
                if (stack is not null) Feed(stack, b, next);
            if (next.Count == 0) return null;
            current = next;
        }
        return new JsonGrammarState(current);
    }

    internal static void Feed(ParseStack stack, byte b, List<ParseStack?> output) => stack.Top.Feed(b, stack.Rest, output);

    /// <summary>Feeds <paramref name="b"/> to <paramref name="rest"/> after a frame ended without consuming it (numbers).</summary>
    internal static void FeedAfterEnd(byte b, ParseStack? rest, List<ParseStack?> output)
    {
        if (rest is not null) Feed(rest, b, output);
    }

    /// <summary>The stacks that start a value of <paramref name="node"/> on top of <paramref name="rest"/>.</summary>
    internal static IEnumerable<ParseStack> Expand(GrammarNode node, ParseStack? rest)
    {
        switch (node)
        {
            case RefNode r:
                foreach (var s in Expand(r.Resolve(), rest)) yield return s;
                break;
            case AnyOfNode a:
                foreach (var alt in a.Alternatives)
                    foreach (var s in Expand(alt, rest)) yield return s;
                break;
            case AnyValueNode:
                foreach (var alt in AnyAlternatives)
                    foreach (var s in Expand(alt, rest)) yield return s;
                break;
            case ObjectNode o:
                yield return new ParseStack(new ObjectFrame(o, ObjectFrame.Phase.Open, 0, [], 0), rest);
                break;
            case AnyObjectNode:
                yield return new ParseStack(new AnyObjectFrame(AnyObjectFrame.Phase.Open), rest);
                break;
            case ArrayNode arr:
                yield return new ParseStack(new ArrayFrame(arr, ArrayFrame.Phase.Open, 0), rest);
                break;
            case StringNode:
                yield return new ParseStack(new LiteralFrame("\""u8.ToArray(), 0), new ParseStack(new StringFrame(StringFrame.Phase.Text, 0), rest));
                break;
            case NumberNode n:
                yield return new ParseStack(new NumberFrame(n.Integer, NumberFrame.Phase.Start, 0, n.Bounds, ""), rest);
                break;
            case LiteralNode l:
                foreach (var text in l.Texts) yield return new ParseStack(new LiteralFrame(text, 0), rest);
                break;
            case FramedNode f:
                var after = f.Suffix.Length > 0 ? new ParseStack(new LiteralFrame(f.Suffix, 0), rest) : rest;
                var value = new ParseStack(new PendingValue(f.Value), after);
                yield return f.Prefix.Length > 0 ? new ParseStack(new LiteralFrame(f.Prefix, 0), value) : value;
                break;
            default:
                throw new NotSupportedException($"grammar node {node.GetType().Name}");
        }
    }

    private static readonly GrammarNode[] AnyAlternatives =
    [
        new AnyObjectNode(), new ArrayNode(GrammarNode.Any), new StringNode(), new NumberNode(false),
        new LiteralNode(["true"u8.ToArray(), "false"u8.ToArray(), "null"u8.ToArray()]),
    ];
}

/// <summary>An immutable stack of frames; <see cref="Rest"/> null = the frame is the outermost.</summary>
internal sealed record ParseStack(Frame Top, ParseStack? Rest);

/// <summary>One level of the parse. Feeding a byte adds the successor stacks (none = rejected).</summary>
internal abstract class Frame
{
    public abstract void Feed(byte b, ParseStack? rest, List<ParseStack?> output);

    /// <summary>True when the frame could end here without another byte (a number's digits).</summary>
    public virtual bool CanEnd => false;

    /// <summary>The frame is done: the parent continues (or the value is complete).</summary>
    protected static void Done(ParseStack? rest, List<ParseStack?> output) => output.Add(rest);
}

/// <summary>A value of a node that starts with the next byte.</summary>
internal sealed class PendingValue(GrammarNode node) : Frame
{
    public override void Feed(byte b, ParseStack? rest, List<ParseStack?> output)
    {
        foreach (var stack in JsonGrammarState.Expand(node, rest)) JsonGrammarState.Feed(stack, b, output);
    }
}

/// <summary>Exact bytes.</summary>
internal sealed class LiteralFrame(byte[] text, int position) : Frame
{
    public override void Feed(byte b, ParseStack? rest, List<ParseStack?> output)
    {
        if (text[position] != b) return;
        if (position + 1 == text.Length) Done(rest, output);
        else output.Add(new ParseStack(new LiteralFrame(text, position + 1), rest));
    }
}

/// <summary>A string's contents after the opening quote, through the closing quote.</summary>
internal sealed class StringFrame(StringFrame.Phase phase, int hexLeft) : Frame
{
    public enum Phase { Text, Escape, Unicode }

    public override void Feed(byte b, ParseStack? rest, List<ParseStack?> output)
    {
        switch (phase)
        {
            case Phase.Text:
                if (b == (byte)'"') Done(rest, output);
                else if (b == (byte)'\\') output.Add(new ParseStack(new StringFrame(Phase.Escape, 0), rest));
                else if (b >= 0x20) output.Add(new ParseStack(this, rest));
                break;
            case Phase.Escape:
                if (b == (byte)'u') output.Add(new ParseStack(new StringFrame(Phase.Unicode, 4), rest));
                else if ("\"\\/bfnrt"u8.Contains(b)) output.Add(new ParseStack(new StringFrame(Phase.Text, 0), rest));
                break;
            case Phase.Unicode:
                if (!Uri.IsHexDigit((char)b)) return;
                output.Add(new ParseStack(new StringFrame(hexLeft == 1 ? Phase.Text : Phase.Unicode, hexLeft - 1), rest));
                break;
        }
    }
}

/// <summary>
/// A JSON number: <c>-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?</c>, fraction and exponent only for numbers;
/// <paramref name="digits"/> counts the digits of the current part. With <paramref name="bounds"/>, no exponent is
/// written, the fraction has at most 12 digits, and a prefix is allowed only while some completion of it lies in range
/// (<paramref name="text"/> is the number so far).
/// </summary>
internal sealed class NumberFrame(bool integer, NumberFrame.Phase phase, int digits, NumberBounds? bounds, string text) : Frame
{
    public enum Phase { Start, Minus, Zero, Digits, Dot, Fraction, Exponent, ExponentSign, ExponentDigits }

    private const int MaxPartDigits = 15, MaxExponentDigits = 2, MaxBoundedFractionDigits = 12;

    public override bool CanEnd => phase is Phase.Zero or Phase.Digits or Phase.Fraction or Phase.ExponentDigits
        && (bounds is null || bounds.Contains(decimal.Parse(text, System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Whether some number that starts with <paramref name="prefix"/> (in <paramref name="p"/>) is in range.</summary>
    private bool Viable(Phase p, string prefix)
    {
        if (bounds is null) return true;
        if (p is Phase.Start) return true;
        bool negative = prefix.StartsWith('-');
        var body = negative ? prefix[1..] : prefix;
        decimal low, high; // magnitudes reachable from here
        if (p is Phase.Minus) { low = 0; high = decimal.Parse(new string('9', MaxPartDigits)) + (integer ? 0 : 1); }
        else
        {
            int dot = body.IndexOf('.');
            var intPart = dot < 0 ? body : body[..dot];
            var frac = dot < 0 ? "" : body[(dot + 1)..];
            decimal whole = decimal.Parse(intPart, System.Globalization.CultureInfo.InvariantCulture);
            if (dot >= 0)
            {
                low = decimal.Parse(intPart + "." + (frac.Length == 0 ? "0" : frac), System.Globalization.CultureInfo.InvariantCulture);
                high = low + Pow10(-frac.Length);
            }
            else if (p is Phase.Zero) { low = 0; high = integer ? 0 : 1; }
            else
            {
                // More integer digits (up to the cap) or, for numbers, a fraction: any magnitude from `whole` up.
                low = whole;
                int room = MaxPartDigits - intPart.Length;
                high = room > 0 ? (whole + 1) * Pow10(room) - 1 : whole + (integer ? 0 : 1);
                if (room > 0 && !integer) high += 1;
            }
        }
        return negative ? bounds.Overlaps(-high, -low) : bounds.Overlaps(low, high);
    }

    private static decimal Pow10(int n)
    {
        decimal r = 1;
        for (int i = 0; i < Math.Abs(n); i++) r = n > 0 ? r * 10 : r / 10;
        return r;
    }

    public override void Feed(byte b, ParseStack? rest, List<ParseStack?> output)
    {
        bool digit = b is >= (byte)'0' and <= (byte)'9';
        Phase? next = phase switch
        {
            Phase.Start when b == (byte)'-' => Phase.Minus,
            Phase.Start or Phase.Minus when b == (byte)'0' => Phase.Zero,
            Phase.Start or Phase.Minus when digit => Phase.Digits,
            Phase.Digits when digit => Phase.Digits,
            Phase.Zero or Phase.Digits when b == (byte)'.' && !integer => Phase.Dot,
            Phase.Zero or Phase.Digits or Phase.Fraction when (b is (byte)'e' or (byte)'E') && !integer => Phase.Exponent,
            Phase.Dot or Phase.Fraction when digit => Phase.Fraction,
            Phase.Exponent when b is (byte)'+' or (byte)'-' => Phase.ExponentSign,
            Phase.Exponent or Phase.ExponentSign or Phase.ExponentDigits when digit => Phase.ExponentDigits,
            _ => null,
        };
        if (next is Phase.Exponent && bounds is not null) next = null;
        if (next is { } p)
        {
            // Digits of one part: the integer part, the fraction or the exponent.
            int count = !digit ? 0 : p == phase || (phase, p) is (Phase.Dot, Phase.Fraction) or (Phase.Exponent or Phase.ExponentSign, Phase.ExponentDigits) ? digits + 1 : 1;
            if (phase is Phase.Dot or Phase.Exponent or Phase.ExponentSign) count = digit ? 1 : 0;
            int cap = p == Phase.ExponentDigits ? MaxExponentDigits : p == Phase.Fraction && bounds is not null ? MaxBoundedFractionDigits : MaxPartDigits;
            string extended = text + (char)b;
            if (count <= cap && Viable(p, extended))
                output.Add(new ParseStack(new NumberFrame(integer, p, count, bounds, extended), rest));
        }
        else if (CanEnd) JsonGrammarState.FeedAfterEnd(b, rest, output); // the number ended before this byte
    }
}

/// <summary>An object of known properties, in schema order.</summary>
internal sealed class ObjectFrame(ObjectNode node, ObjectFrame.Phase phase, int next, int[] candidates, int keyPosition) : Frame
{
    public enum Phase { Open, KeyOrClose, KeyStart, Key, Colon, CommaOrClose }

    private IReadOnlyList<PropertyNode> Props => node.Properties;

    /// <summary>True when every property from <paramref name="from"/> on is optional (the object may close).</summary>
    private bool MayClose(int from)
    {
        for (int i = from; i < Props.Count; i++)
            if (Props[i].Required) return false;
        return true;
    }

    /// <summary>Properties that may come next: the next one, or a later one when all between are optional.</summary>
    private int[] NextKeys(int from)
    {
        var list = new List<int>();
        for (int i = from; i < Props.Count; i++)
        {
            list.Add(i);
            if (Props[i].Required) break;
        }
        return [.. list];
    }

    private ObjectFrame With(Phase p, int n, int[]? c = null, int k = 0) => new(node, p, n, c ?? [], k);

    public override void Feed(byte b, ParseStack? rest, List<ParseStack?> output)
    {
        switch (phase)
        {
            case Phase.Open:
                if (b == (byte)'{') output.Add(new ParseStack(With(Phase.KeyOrClose, 0), rest));
                break;
            case Phase.KeyOrClose:
            case Phase.CommaOrClose:
                if (b == (byte)'}' && MayClose(next)) Done(rest, output);
                else if (phase == Phase.KeyOrClose && b == (byte)'"' && next < Props.Count) StartKey(rest, output);
                else if (phase == Phase.CommaOrClose && b == (byte)',' && next < Props.Count)
                    output.Add(new ParseStack(With(Phase.KeyStart, next), rest));
                break;
            case Phase.KeyStart:
                if (b == (byte)'"') StartKey(rest, output);
                break;
            case Phase.Key:
                var matching = candidates.Where(j => Props[j].KeyJson.Length > keyPosition && Props[j].KeyJson[keyPosition] == b).ToArray();
                if (matching.Length == 0) return;
                int done = Array.FindIndex(matching, j => Props[j].KeyJson.Length == keyPosition + 1);
                output.Add(new ParseStack(done >= 0 ? With(Phase.Colon, matching[done]) : With(Phase.Key, next, matching, keyPosition + 1), rest));
                break;
            case Phase.Colon:
                if (b == (byte)':')
                    output.Add(new ParseStack(new PendingValue(Props[next].Value), new ParseStack(With(Phase.CommaOrClose, next + 1), rest)));
                break;
        }
    }

    private void StartKey(ParseStack? rest, List<ParseStack?> output) =>
        output.Add(new ParseStack(With(Phase.Key, next, NextKeys(next), 1), rest)); // the opening quote is KeyJson[0]
}

/// <summary>An object with any keys and values.</summary>
internal sealed class AnyObjectFrame(AnyObjectFrame.Phase phase) : Frame
{
    public enum Phase { Open, KeyOrClose, KeyStart, Colon, CommaOrClose }

    public override void Feed(byte b, ParseStack? rest, List<ParseStack?> output)
    {
        switch (phase)
        {
            case Phase.Open when b == (byte)'{':
                output.Add(new ParseStack(new AnyObjectFrame(Phase.KeyOrClose), rest));
                break;
            case Phase.KeyOrClose or Phase.CommaOrClose when b == (byte)'}':
                Done(rest, output);
                break;
            case Phase.KeyOrClose or Phase.KeyStart when b == (byte)'"':
                output.Add(new ParseStack(new StringFrame(StringFrame.Phase.Text, 0), new ParseStack(new AnyObjectFrame(Phase.Colon), rest)));
                break;
            case Phase.Colon when b == (byte)':':
                output.Add(new ParseStack(new PendingValue(GrammarNode.Any), new ParseStack(new AnyObjectFrame(Phase.CommaOrClose), rest)));
                break;
            case Phase.CommaOrClose when b == (byte)',':
                output.Add(new ParseStack(new AnyObjectFrame(Phase.KeyStart), rest));
                break;
        }
    }
}

/// <summary>An array, counting its items.</summary>
internal sealed class ArrayFrame(ArrayNode node, ArrayFrame.Phase phase, int count) : Frame
{
    public enum Phase { Open, ValueOrClose, CommaOrClose, Value }

    public override void Feed(byte b, ParseStack? rest, List<ParseStack?> output)
    {
        switch (phase)
        {
            case Phase.Open:
                if (b == (byte)'[') output.Add(new ParseStack(new ArrayFrame(node, Phase.ValueOrClose, 0), rest));
                break;
            case Phase.ValueOrClose:
                if (b == (byte)']') { if (node.MinItems == 0) Done(rest, output); }
                else if (node.MaxItems is not 0) StartItem(b, rest, output);
                break;
            case Phase.CommaOrClose:
                if (b == (byte)']' && count >= node.MinItems) Done(rest, output);
                else if (b == (byte)',' && (node.MaxItems is not { } max || count < max))
                    output.Add(new ParseStack(new ArrayFrame(node, Phase.Value, count), rest));
                break;
            case Phase.Value:
                StartItem(b, rest, output);
                break;
        }
    }

    private void StartItem(byte b, ParseStack? rest, List<ParseStack?> output)
    {
        var after = new ParseStack(new ArrayFrame(node, Phase.CommaOrClose, count + 1), rest);
        foreach (var stack in JsonGrammarState.Expand(node.Items, after)) JsonGrammarState.Feed(stack, b, output);
    }
}
