namespace HybridSharp.IO.Safetensors;

/// <summary>Formats name lists for one-line messages, truncating long lists with a count of the rest.</summary>
internal static class NameList
{
    public const int DefaultLimit = 8;

    public static string Format(IReadOnlyCollection<string> items, int limit = DefaultLimit)
    {
        string text = string.Join(", ", items.Take(limit));
        return items.Count > limit ? $"{text}, … (+{items.Count - limit} more)" : text;
    }
}
