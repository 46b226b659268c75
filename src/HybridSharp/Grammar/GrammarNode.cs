namespace HybridSharp.Grammar;

/// <summary>
/// What a JSON value may be, compiled from a JSON schema (<see cref="JsonSchemaGrammar"/>): the node tree the
/// <see cref="JsonGrammarState"/> machine walks byte by byte.
/// </summary>
public abstract record GrammarNode
{
    /// <summary>Any JSON value (<c>response_format: json_object</c>, or a schema without constraints).</summary>
    public static GrammarNode Any { get; } = new AnyValueNode();
}

/// <summary>Any JSON value.</summary>
public sealed record AnyValueNode : GrammarNode;

/// <summary>An object with these properties in this order, each written once; required ones must appear, no others may.</summary>
public sealed record ObjectNode(IReadOnlyList<PropertyNode> Properties) : GrammarNode;

/// <summary>A property: its name as JSON text (with quotes), its value, and whether it must appear.</summary>
public sealed record PropertyNode(string Name, byte[] KeyJson, GrammarNode Value, bool Required);

/// <summary>An object with any keys and any values.</summary>
public sealed record AnyObjectNode : GrammarNode;

/// <summary>An array of <paramref name="Items"/>, between <paramref name="MinItems"/> and <paramref name="MaxItems"/> long.</summary>
public sealed record ArrayNode(GrammarNode Items, int MinItems = 0, int? MaxItems = null) : GrammarNode;

/// <summary>Any string.</summary>
public sealed record StringNode : GrammarNode;

/// <summary>A number; <paramref name="Integer"/>: no fraction and no exponent. <paramref name="Bounds"/>: its allowed range.</summary>
public sealed record NumberNode(bool Integer, NumberBounds? Bounds = null) : GrammarNode;

/// <summary>
/// <c>minimum</c> / <c>maximum</c> (inclusive) and <c>exclusiveMinimum</c> / <c>exclusiveMaximum</c> of a number; null
/// = unbounded on that side.
/// </summary>
public sealed record NumberBounds(decimal? Minimum, decimal? Maximum, bool ExclusiveMinimum = false, bool ExclusiveMaximum = false)
{
    /// <summary>True when <paramref name="value"/> is inside the bounds.</summary>
    public bool Contains(decimal value) =>
        (Minimum is not { } lo || (ExclusiveMinimum ? value > lo : value >= lo)) &&
        (Maximum is not { } hi || (ExclusiveMaximum ? value < hi : value <= hi));

    /// <summary>True when [<paramref name="low"/>, <paramref name="high"/>] overlaps the bounds (closed; exclusivity is checked at the end).</summary>
    public bool Overlaps(decimal low, decimal high) => (Minimum is not { } lo || high >= lo) && (Maximum is not { } hi || low <= hi);
}

/// <summary>One of these exact JSON texts (enum, const, true/false, null).</summary>
public sealed record LiteralNode(IReadOnlyList<byte[]> Texts) : GrammarNode;

/// <summary>Any one of the alternatives (anyOf; type lists).</summary>
public sealed record AnyOfNode(IReadOnlyList<GrammarNode> Alternatives) : GrammarNode;

/// <summary>A <c>$ref</c>, resolved when first walked (recursive schemas).</summary>
public sealed record RefNode(string Ref, Func<GrammarNode> Resolve) : GrammarNode;

/// <summary>Exact text, then a value, then exact text (a tool call in a model's own markers around its JSON).</summary>
public sealed record FramedNode(byte[] Prefix, GrammarNode Value, byte[] Suffix) : GrammarNode;
