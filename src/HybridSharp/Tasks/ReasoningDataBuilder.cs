using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.IO;

namespace HybridSharp.Tasks;

/// <summary>Settings of <see cref="ReasoningDataBuilder.Write"/>.</summary>
public sealed record ReasoningDataOptions
{
    /// <summary>Training problems (the long-CoT SFT set and the distillation problem set hold the same problems).</summary>
    public int TrainCount { get; init; } = 2000;
    /// <summary>Held-out evaluation problems (disjoint question texts).</summary>
    public int EvalCount { get; init; } = 200;
    public int Seed { get; init; } = 1;
    public int MinDifficulty { get; init; } = 1;
    public int MaxDifficulty { get; init; } = 6;

    public void Validate()
    {
        if (TrainCount < 1) throw new ArgumentException("`ReasoningDataOptions.TrainCount` must be at least 1");
        if (EvalCount < 0) throw new ArgumentException("`ReasoningDataOptions.EvalCount` must be ≥ 0");
        if (MinDifficulty < ArithmeticGenerator.MinDifficulty || MaxDifficulty > ArithmeticGenerator.MaxDifficulty || MaxDifficulty < MinDifficulty)
            throw new ArgumentException($"need {ArithmeticGenerator.MinDifficulty} ≤ `ReasoningDataOptions.MinDifficulty` ≤ `ReasoningDataOptions.MaxDifficulty` ≤ {ArithmeticGenerator.MaxDifficulty}");
    }
}

/// <summary>What <see cref="ReasoningDataBuilder.Write"/> produced.</summary>
public sealed record ReasoningDataSummary(int Train, int Eval, double MeanLongChars, double MeanConciseChars, int EvalCollisionsSkipped);

/// <summary>
/// Writes the data of the miniature LiteCoT reproduction from the synthetic arithmetic generator:
/// <list type="bullet">
/// <item><c>sft_long.jsonl</c>: TRL <c>messages</c> (user = problem, assistant = verbose long chain of thought ending in \boxed{});</item>
/// <item><c>sft_concise_reference.jsonl</c>: the same problems with the rule-based concise solution (an oracle upper bound for
/// what distillation should produce; not the distilled set);</item>
/// <item><c>distill_problems.jsonl</c>: <c>id, problem, answer, long_cot, difficulty</c> — input for <c>hybrid distill</c>;</item>
/// <item><c>eval.jsonl</c>: <c>id, problem, answer, difficulty</c>, question texts disjoint from training — input for <c>hybrid eval-reasoning</c>;</item>
/// <item><c>manifest.json</c>: settings and counts.</item>
/// </list>
/// Difficulty (number of operations) cycles through the range so every level is equally represented. Deterministic in the seed.
/// </summary>
public static class ReasoningDataBuilder
{
    public const string LongSftFile = "sft_long.jsonl", ConciseReferenceFile = "sft_concise_reference.jsonl",
        DistillProblemsFile = "distill_problems.jsonl", EvalFile = "eval.jsonl", ManifestFile = "manifest.json";

    public static ReasoningDataSummary Write(string directory, ReasoningDataOptions options)
    {
        options.Validate();
        Directory.CreateDirectory(directory);
        var train = new ArithmeticGenerator(options.Seed).Generate(options.TrainCount, options.MinDifficulty, options.MaxDifficulty);
        var seen = train.Select(p => p.Question).ToHashSet(StringComparer.Ordinal);

        // Evaluation problems come from a separate stream; any question text that also occurs in training is skipped.
        var evalGenerator = new ArithmeticGenerator(unchecked(options.Seed * 7919 + 104_729));
        var eval = new List<ArithmeticProblem>(options.EvalCount);
        int span = options.MaxDifficulty - options.MinDifficulty + 1, collisions = 0;
        for (int i = 0; eval.Count < options.EvalCount; i++)
        {
            if (i > options.EvalCount * 20 + 1000)
                throw new ArgumentException($"could not find {options.EvalCount} evaluation problems disjoint from training; lower `ReasoningDataOptions.EvalCount` or widen the difficulty range");
            var p = evalGenerator.Generate(options.MinDifficulty + eval.Count % span);
            if (!seen.Add(p.Question)) { collisions++; continue; }
            eval.Add(p);
        }

        var longLines = new List<string>(train.Count);
        var conciseLines = new List<string>(train.Count);
        var distillLines = new List<string>(train.Count);
        double longChars = 0, conciseChars = 0;
        foreach (var p in train)
        {
            var longCot = ArithmeticSolutionWriter.Write(p, SolutionStyle.Verbose);
            var concise = ArithmeticSolutionWriter.Write(p, SolutionStyle.Concise);
            longChars += longCot.Length;
            conciseChars += concise.Length;
            longLines.Add(Messages(p.Question, longCot));
            conciseLines.Add(Messages(p.Question, concise));
            distillLines.Add(Line(new JsonObject
            {
                ["id"] = p.Id, ["problem"] = p.Question, ["answer"] = Answer(p), ["long_cot"] = longCot, ["difficulty"] = p.Difficulty,
            }));
        }
        var evalLines = eval.Select(p => Line(new JsonObject { ["id"] = p.Id, ["problem"] = p.Question, ["answer"] = Answer(p), ["difficulty"] = p.Difficulty }));

        WriteLines(Path.Combine(directory, LongSftFile), longLines);
        WriteLines(Path.Combine(directory, ConciseReferenceFile), conciseLines);
        WriteLines(Path.Combine(directory, DistillProblemsFile), distillLines);
        WriteLines(Path.Combine(directory, EvalFile), evalLines);
        var summary = new ReasoningDataSummary(train.Count, eval.Count, longChars / train.Count, conciseChars / train.Count, collisions);
        var manifest = new JsonObject
        {
            ["generator"] = "HybridSharp synthetic arithmetic word problems",
            ["seed"] = options.Seed,
            ["min_difficulty"] = options.MinDifficulty,
            ["max_difficulty"] = options.MaxDifficulty,
            ["train"] = summary.Train,
            ["eval"] = summary.Eval,
            ["eval_collisions_skipped"] = collisions,
            ["mean_long_cot_chars"] = Math.Round(summary.MeanLongChars, 1),
            ["mean_concise_chars"] = Math.Round(summary.MeanConciseChars, 1),
            ["files"] = new JsonObject
            {
                [LongSftFile] = "TRL messages: user problem, assistant verbose long CoT",
                [ConciseReferenceFile] = "TRL messages: user problem, assistant rule-based concise solution (oracle reference)",
                [DistillProblemsFile] = "id, problem, answer, long_cot, difficulty (input for hybrid distill)",
                [EvalFile] = "id, problem, answer, difficulty (held out; input for hybrid eval-reasoning)",
            },
        };
        AtomicFile.WriteAllText(Path.Combine(directory, ManifestFile), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return summary;
    }

    private static string Answer(ArithmeticProblem p) => p.Answer.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Messages(string user, string assistant) => Line(new JsonObject
    {
        ["messages"] = new JsonArray(
            new JsonObject { ["role"] = "user", ["content"] = user },
            new JsonObject { ["role"] = "assistant", ["content"] = assistant }),
    });

    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Line(JsonObject o) => o.ToJsonString(Compact);

    private static void WriteLines(string path, IEnumerable<string> lines) =>
        AtomicFile.WriteAllText(path, string.Concat(lines.Select(l => l + "\n")));
}
