using HybridSharp.Data;

namespace HybridSharp.Inference;

/// <summary>The token ids that end a reply, computed by one rule for every decoder (generation, evaluation, the server).</summary>
public static class StopTokens
{
    /// <summary>
    /// <paramref name="endIds"/> (null = the tokenizer's EOS) plus every stop string that is a single special token:
    /// the streaming text decoder drops special tokens from the text, so such a stop string ("&lt;|im_end|&gt;") could never
    /// match as text and stops as a token instead.
    /// </summary>
    public static IReadOnlySet<int> For(ITokenizer tokenizer, IEnumerable<string> stopStrings, IEnumerable<int>? endIds = null)
    {
        var set = new HashSet<int>(endIds ?? [tokenizer.EosId]);
        foreach (var s in stopStrings)
            if (tokenizer.SpecialTokens.TryGetValue(s, out var id)) set.Add(id);
        return set;
    }
}
