namespace HybridSharp.Jinja;

/// <summary>A template that cannot be parsed or rendered; the message names the template line.</summary>
public sealed class TemplateException(string message, int line, bool raisedByTemplate = false) : Exception(line > 0 ? $"template line {line}: {message}" : message)
{
    /// <summary>The 1-based template line (0 when unknown).</summary>
    public int Line { get; } = line;

    /// <summary>The bare message, without the line.</summary>
    public string Detail { get; } = message;

    /// <summary>True when the template itself raised (<c>raise_exception</c>), e.g. for a conversation it does not accept.</summary>
    public bool RaisedByTemplate { get; } = raisedByTemplate;
}
