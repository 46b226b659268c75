using System.Text;

namespace HybridSharp.Inference;

/// <summary>
/// Watches streamed text for stop strings. Holds back up to (longest stop − 1) characters so that a stop string
/// split across pieces is never emitted; on a match the text is cut before the stop string.
/// </summary>
public sealed class StopStringFilter
{
    private readonly string[] _stops;
    private readonly int _holdBack;
    private readonly StringBuilder _pending = new();

    public bool Stopped { get; private set; }

    public StopStringFilter(IEnumerable<string>? stops)
    {
        _stops = (stops ?? []).Where(s => !string.IsNullOrEmpty(s)).ToArray();
        _holdBack = _stops.Length == 0 ? 0 : _stops.Max(s => s.Length) - 1;
    }

    /// <summary>Adds a piece; returns the text that is now safe to emit.</summary>
    public string Push(string piece)
    {
        if (Stopped) return "";
        _pending.Append(piece);
        if (_stops.Length == 0)
        {
            var all = _pending.ToString();
            _pending.Clear();
            return all;
        }
        var text = _pending.ToString();
        int cut = -1;
        foreach (var s in _stops)
        {
            int i = text.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (cut < 0 || i < cut)) cut = i;
        }
        if (cut >= 0)
        {
            Stopped = true;
            _pending.Clear();
            return text[..cut];
        }
        int emit = Math.Max(0, text.Length - _holdBack);
        // never split a surrogate pair
        if (emit > 0 && emit < text.Length && char.IsHighSurrogate(text[emit - 1])) emit--;
        _pending.Remove(0, emit);
        return text[..emit];
    }

    /// <summary>Releases held-back text at the end of generation.</summary>
    public string Flush()
    {
        if (Stopped) return "";
        var rest = _pending.ToString();
        _pending.Clear();
        return rest;
    }
}
