using System.Globalization;
using System.Text;
using HybridSharp.Eval.Reasoning;

namespace HybridSharp.Tasks;

/// <summary>One model completion: the generated text and how many tokens were generated for it.</summary>
/// <param name="Text">The generated text (without the prompt).</param>
/// <param name="GeneratedTokens">Number of tokens generated.</param>
public sealed record Completion(string Text, int GeneratedTokens);

/// <summary>The outcome for one evaluated problem.</summary>
/// <param name="Problem">The problem.</param>
/// <param name="Prompt">The prompt sent to the model.</param>
/// <param name="CompletionText">The model's completion.</param>
/// <param name="ExtractedAnswer">Content of the completion's last box (<c>\boxed{}</c>, <c>\fbox{}</c> or bare <c>\boxed 5</c>), or null if none.</param>
/// <param name="Correct">Whether <paramref name="ExtractedAnswer"/> equals the problem's answer (see <see cref="ArithmeticEvaluator"/>).</param>
/// <param name="GeneratedTokens">Tokens generated for this completion.</param>
public sealed record ArithmeticResult(
    ArithmeticProblem Problem, string Prompt, string CompletionText, string? ExtractedAnswer, bool Correct, int GeneratedTokens);

/// <summary>Aggregate statistics for the problems of one difficulty.</summary>
/// <param name="Difficulty">Number of operations.</param>
/// <param name="Count">Problems evaluated at this difficulty.</param>
/// <param name="CorrectCount">Problems answered correctly.</param>
/// <param name="Accuracy">CorrectCount / Count (0 when Count is 0).</param>
/// <param name="MeanGeneratedTokens">Mean tokens generated (0 when Count is 0).</param>
public sealed record DifficultyStats(int Difficulty, int Count, int CorrectCount, double Accuracy, double MeanGeneratedTokens);

/// <summary>Results of an <see cref="ArithmeticEvaluator"/> run: per-problem results plus overall and per-difficulty statistics.</summary>
/// <param name="Results">Per-problem results, in input order.</param>
/// <param name="Count">Number of problems.</param>
/// <param name="CorrectCount">Number answered correctly.</param>
/// <param name="Accuracy">Overall accuracy (0 when empty).</param>
/// <param name="MeanGeneratedTokens">Overall mean generated tokens (0 when empty).</param>
/// <param name="ByDifficulty">Statistics per difficulty, ascending.</param>
public sealed record ArithmeticReport(
    IReadOnlyList<ArithmeticResult> Results,
    int Count,
    int CorrectCount,
    double Accuracy,
    double MeanGeneratedTokens,
    IReadOnlyList<DifficultyStats> ByDifficulty)
{
    /// <summary>Builds a report from per-problem results.</summary>
    public static ArithmeticReport FromResults(IReadOnlyList<ArithmeticResult> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var byDifficulty = results
            .GroupBy(r => r.Problem.Difficulty)
            .OrderBy(g => g.Key)
            .Select(g => Stats(g.Key, g.ToList()))
            .ToList();
        var overall = Stats(0, results);
        return new ArithmeticReport(results, overall.Count, overall.CorrectCount, overall.Accuracy,
            overall.MeanGeneratedTokens, byDifficulty);
    }

    private static DifficultyStats Stats(int difficulty, IReadOnlyList<ArithmeticResult> results)
    {
        int count = results.Count;
        int correct = results.Count(r => r.Correct);
        double accuracy = count == 0 ? 0 : (double)correct / count;
        double meanTokens = count == 0 ? 0 : results.Average(r => (double)r.GeneratedTokens);
        return new DifficultyStats(difficulty, count, correct, accuracy, meanTokens);
    }

    /// <summary>Renders the per-difficulty breakdown and the overall row as a Markdown table.</summary>
    public string ToMarkdown()
    {
        var md = new StringBuilder();
        md.Append("| Difficulty | Count | Correct | Accuracy | Mean tokens |\n");
        md.Append("|---:|---:|---:|---:|---:|\n");
        foreach (var s in ByDifficulty) AppendRow(md, s.Difficulty.ToString(CultureInfo.InvariantCulture), s.Count, s.CorrectCount, s.Accuracy, s.MeanGeneratedTokens);
        AppendRow(md, "**All**", Count, CorrectCount, Accuracy, MeanGeneratedTokens);
        return md.ToString();
    }

    private static void AppendRow(StringBuilder md, string label, int count, int correct, double accuracy, double meanTokens) =>
        md.Append(CultureInfo.InvariantCulture, $"| {label} | {count} | {correct} | {accuracy * 100:F1}% | {meanTokens:F1} |\n");
}

/// <summary>
/// Evaluates a model on held-out arithmetic problems. Prompts (<see cref="ArithmeticFormat.Prompt"/>) are sent to a
/// batched completion function in batches of <see cref="BatchSize"/>. A completion's answer is its last box
/// (<see cref="AnswerExtractor.LastBoxed"/>: <c>\boxed{…}</c>, <c>\fbox{…}</c> or a bare <c>\boxed 5</c>; no box, or an
/// unclosed last box, is wrong); it is compared with the exact answer by <see cref="AnswerNormalizer"/> (the shared
/// math-answer rules) with the tight tolerance <see cref="RelativeTolerance"/>, because every answer is an integer.
/// </summary>
public sealed class ArithmeticEvaluator
{
    /// <summary>
    /// Relative tolerance of the numeric comparison. Answers are integers in [1, 9999]; the reasoning graders' 1e-4 would
    /// accept 4999.5 for 5000, so arithmetic uses 1e-6 (as its scoring always has).
    /// </summary>
    public const double RelativeTolerance = 1e-6;

    /// <summary>Creates an evaluator that sends at most <paramref name="batchSize"/> prompts per call.</summary>
    public ArithmeticEvaluator(int batchSize = 16)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        BatchSize = batchSize;
    }

    /// <summary>Maximum number of prompts per call of the completion function.</summary>
    public int BatchSize { get; }

    /// <summary>
    /// Runs every problem through <paramref name="complete"/>, which must return one completion per prompt, in order.
    /// </summary>
    public ArithmeticReport Evaluate(
        IReadOnlyList<ArithmeticProblem> problems, Func<IReadOnlyList<string>, IReadOnlyList<Completion>> complete)
    {
        ArgumentNullException.ThrowIfNull(problems);
        ArgumentNullException.ThrowIfNull(complete);
        var results = new List<ArithmeticResult>(problems.Count);
        for (int offset = 0; offset < problems.Count; offset += BatchSize)
        {
            int size = Math.Min(BatchSize, problems.Count - offset);
            var prompts = new string[size];
            for (int i = 0; i < size; i++) prompts[i] = ArithmeticFormat.Prompt(problems[offset + i]);
            var completions = complete(prompts)
                ?? throw new InvalidOperationException("The completion function returned null.");
            if (completions.Count != size)
                throw new InvalidOperationException($"The completion function returned {completions.Count} completions for {size} prompts.");
            for (int i = 0; i < size; i++) results.Add(Score(problems[offset + i], prompts[i], completions[i]));
        }
        return ArithmeticReport.FromResults(results);
    }

    /// <summary>Scores one completion against its problem.</summary>
    public static ArithmeticResult Score(ArithmeticProblem problem, string prompt, Completion completion)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(completion);
        string? extracted = AnswerExtractor.LastBoxed(completion.Text ?? "");
        bool correct = AnswerNormalizer.Equivalent(extracted, problem.Answer.ToString(CultureInfo.InvariantCulture), RelativeTolerance);
        return new ArithmeticResult(problem, prompt, completion.Text ?? "", extracted, correct, completion.GeneratedTokens);
    }
}
