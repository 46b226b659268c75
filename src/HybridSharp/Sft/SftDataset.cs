using HybridSharp.Data.Corpus;
using HybridSharp.Chat;

namespace HybridSharp.Sft;

/// <summary>Tokenized training and validation examples, and how many conversations were dropped (nothing left to train on after truncation).</summary>
public sealed record SftDataset(IReadOnlyList<SftExample> Train, IReadOnlyList<SftExample> Validation, int Dropped, int Truncated)
{
    /// <summary>
    /// Encodes <paramref name="conversations"/>. Validation comes from <paramref name="validationConversations"/> when given,
    /// else <paramref name="holdOut"/> conversations are held out at random (seeded) from the training data.
    /// </summary>
    public static SftDataset Build(IReadOnlyList<Conversation> conversations, IReadOnlyList<Conversation>? validationConversations,
        int holdOut, long seed, SftEncoder encoder)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(holdOut);
        IReadOnlyList<Conversation> train = conversations, validation = validationConversations ?? [];
        if (validationConversations is null && holdOut > 0)
        {
            if (holdOut >= conversations.Count)
                throw new ArgumentException($"`SftOptions.EvalSize` {holdOut} leaves no training data ({conversations.Count} conversations)");
            var order = Enumerable.Range(0, conversations.Count).ToArray();
            new DeterministicRandom(seed, -1).Shuffle(order);
            var held = order.Take(holdOut).ToHashSet();
            validation = [.. Enumerable.Range(0, conversations.Count).Where(held.Contains).Select(i => conversations[i])];
            train = [.. Enumerable.Range(0, conversations.Count).Where(i => !held.Contains(i)).Select(i => conversations[i])];
        }
        int dropped = 0, truncated = 0;
        List<SftExample> Encode(IReadOnlyList<Conversation> convs)
        {
            var list = new List<SftExample>(convs.Count);
            foreach (var c in convs)
            {
                var e = encoder.Encode(c);
                if (e is null) { dropped++; continue; }
                if (e.Length == encoder.MaxLength) truncated++;
                list.Add(e);
            }
            return list;
        }
        var trainExamples = Encode(train);
        var validationExamples = Encode(validation);
        if (trainExamples.Count == 0)
            throw new ArgumentException($"no training example has assistant tokens within `SftOptions.MaxLength` {encoder.MaxLength}");
        return new SftDataset(trainExamples, validationExamples, dropped, truncated);
    }
}
