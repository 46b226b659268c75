using System.Text;
using FuzzySharp;

namespace HybridSharp.Distill;

/// <summary>
/// Exact and fuzzy dedup within the data and decontamination against evaluation texts. The fuzzy
/// score is FuzzySharp's <c>Fuzz.Ratio</c> (normalised InDel similarity × 100, rapidfuzz's <c>fuzz.ratio</c> family).
/// Candidates: a ratio ≥ 95 needs lengths within a factor 0.905, so small sets scan a length window; large sets use
/// MinHash-LSH over character 5-grams (16 bands × 4 rows) and confirm every candidate with the ratio.
/// </summary>
public static class NearDuplicates
{
    /// <summary>Problems to drop, by index, with the reason (duplicate of an earlier id, or near an evaluation item).</summary>
    public static Dictionary<long, Rejection> Find(IReadOnlyList<ProblemRecord> problems, DedupOptions o, CancellationToken ct = default)
    {
        var drop = new Dictionary<long, Rejection>();
        bool useMinHash = problems.Count + o.EvalTexts.Count > o.MinHashAbove;

        if (o.EvalTexts.Count > 0)
        {
            var evalExact = new HashSet<string>(o.EvalTexts.Select(Normalize), StringComparer.Ordinal);
            var evalIndex = new FuzzyIndex(o.Threshold, useMinHash);
            for (int i = 0; i < o.EvalTexts.Count; i++) evalIndex.Add(o.EvalTexts[i], i);
            foreach (var p in problems)
            {
                ct.ThrowIfCancellationRequested();
                if (evalExact.Contains(Normalize(p.Problem)))
                    drop[p.Index] = new Rejection(RejectionCodes.Contaminated, "equals an evaluation problem");
                else if (o.Fuzzy && evalIndex.FindMatch(p.Problem) is { } hit)
                    drop[p.Index] = new Rejection(RejectionCodes.Contaminated, $"ratio {hit.Score} to evaluation item {hit.Tag}");
            }
        }

        if (!o.Exact && !o.Fuzzy) return drop;
        foreach (var domain in problems.GroupBy(p => o.WithinDomain ? p.Domain : ""))
        {
            var seen = new Dictionary<string, string>(StringComparer.Ordinal);
            var index = new FuzzyIndex(o.Threshold, useMinHash);
            var ids = new List<string>();
            foreach (var p in domain)
            {
                ct.ThrowIfCancellationRequested();
                if (drop.ContainsKey(p.Index)) continue;
                var norm = Normalize(p.Problem);
                if (o.Exact && seen.TryGetValue(norm, out var first))
                {
                    drop[p.Index] = new Rejection(RejectionCodes.Duplicate, $"same text as {first}");
                    continue;
                }
                if (o.Fuzzy && index.FindMatch(p.Problem) is { } hit)
                {
                    drop[p.Index] = new Rejection(RejectionCodes.Duplicate, $"ratio {hit.Score} to {ids[hit.Tag]}");
                    continue;
                }
                seen.TryAdd(norm, p.Id);
                index.Add(p.Problem, ids.Count);
                ids.Add(p.Id);
            }
        }
        return drop;
    }

    public static string Normalize(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool space = false;
        foreach (var c in text.Trim())
        {
            if (char.IsWhiteSpace(c)) { space = true; continue; }
            if (space && sb.Length > 0) sb.Append(' ');
            space = false;
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>Texts searchable for a fuzzy match with ratio ≥ threshold.</summary>
    public sealed class FuzzyIndex(int threshold, bool minHash)
    {
        private const int Bands = 16, Rows = 4, Shingle = 5;
        private readonly List<(string Text, int Tag)> _items = [];
        private readonly SortedDictionary<int, List<int>> _byLength = [];
        private readonly Dictionary<(int Band, ulong Hash), List<int>> _buckets = [];
        private static readonly ulong[] Seeds = Enumerable.Range(0, Bands * Rows).Select(i => Mix((ulong)i * 0x9E3779B97F4A7C15UL + 12345)).ToArray();

        public void Add(string text, int tag)
        {
            int slot = _items.Count;
            _items.Add((text, tag));
            if (minHash)
            {
                var sig = Signature(text);
                for (int b = 0; b < Bands; b++)
                {
                    var key = (b, BandHash(sig, b));
                    if (!_buckets.TryGetValue(key, out var list)) _buckets[key] = list = [];
                    list.Add(slot);
                }
            }
            else
            {
                if (!_byLength.TryGetValue(text.Length, out var list)) _byLength[text.Length] = list = [];
                list.Add(slot);
            }
        }

        /// <summary>The earliest added text with ratio ≥ threshold (its tag and score), or null.</summary>
        public (int Tag, int Score)? FindMatch(string text)
        {
            IEnumerable<int> candidates;
            if (minHash)
            {
                var sig = Signature(text);
                var set = new SortedSet<int>();
                for (int b = 0; b < Bands; b++)
                    if (_buckets.TryGetValue((b, BandHash(sig, b)), out var list)) set.UnionWith(list);
                candidates = set;
            }
            else
            {
                int lo = (int)Math.Floor(text.Length * 0.9), hi = (int)Math.Ceiling(text.Length / 0.9);
                candidates = _byLength.Where(kv => kv.Key >= lo && kv.Key <= hi).SelectMany(kv => kv.Value).Order();
            }
            foreach (var slot in candidates)
            {
                int score = Fuzz.Ratio(text, _items[slot].Text);
                if (score >= threshold) return (_items[slot].Tag, score);
            }
            return null;
        }

        private static ulong[] Signature(string text)
        {
            var norm = Normalize(text);
            var sig = new ulong[Bands * Rows];
            Array.Fill(sig, ulong.MaxValue);
            int n = Math.Max(1, norm.Length - Shingle + 1);
            for (int i = 0; i < n; i++)
            {
                ulong h = 1469598103934665603UL;
                for (int k = i; k < Math.Min(norm.Length, i + Shingle); k++) h = (h ^ norm[k]) * 1099511628211UL;
                for (int j = 0; j < sig.Length; j++)
                {
                    ulong v = Mix(h ^ Seeds[j]);
                    if (v < sig[j]) sig[j] = v;
                }
            }
            return sig;
        }

        private static ulong BandHash(ulong[] sig, int band)
        {
            ulong h = 0;
            for (int r = 0; r < Rows; r++) h = Mix(h ^ sig[band * Rows + r]);
            return h;
        }

        private static ulong Mix(ulong z)
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
