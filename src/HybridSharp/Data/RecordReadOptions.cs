namespace HybridSharp.Data;

/// <summary>
/// How the record readers (problem sets, chat data) treat a field whose JSON type is not the one they expect. Text
/// fields (a problem, a message's content or role) must hold strings; value fields (an answer, an id, a difficulty
/// label) may hold a string, a number or true/false. By default a number or true/false in a text field is an error
/// naming the file, the line or row and the field; <see cref="CoerceText"/> reads it as its JSON text instead. An object
/// or a list where text is expected is an error either way; null reads as absent.
/// </summary>
public sealed record RecordReadOptions
{
    /// <summary>Read a number or true/false in a text field as its JSON text (<c>42</c> → "42").</summary>
    public bool CoerceText { get; init; }

    /// <summary>The default: wrong-typed text fields are errors.</summary>
    public static RecordReadOptions Strict { get; } = new();
}
