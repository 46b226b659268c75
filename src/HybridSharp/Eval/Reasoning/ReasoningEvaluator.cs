using HybridSharp.Chat;
using HybridSharp.Inference;

namespace HybridSharp.Eval.Reasoning;

/// <summary>
/// Generates answers for a problem set and scores them: each problem's prompt is repeated once per sample, prompts are
/// generated in batches (batch b samples with seed + b, so runs are reproducible), and every generation is scored
/// with <see cref="ReasoningMetrics.Score"/>. Runs on the model's thread.
/// </summary>
public sealed class ReasoningEvaluator(TextGenerator generator, ChatTemplate? template, ReasoningEvalOptions options)
{
    /// <summary>
    /// The exact prompt text the model sees for <paramref name="problem"/>: a chat prompt is encoded as rendered (the
    /// template writes BOS where it wants one); a raw prompt gets the tokenizer's special tokens.
    /// </summary>
    public string BuildPrompt(ReasoningProblem problem)
    {
        var content = options.PromptTemplate.Replace("{problem}", problem.Problem, StringComparison.Ordinal);
        if (!options.UseChatTemplate) return content;
        if (template is null) throw new ArgumentException("chat prompts need a chat template (or use raw prompts)");
        var messages = new List<ChatMessage>();
        if (options.SystemPrompt is { } system) messages.Add(ChatMessage.FromSystem(system));
        messages.Add(ChatMessage.FromUser(content));
        return template.Render(messages, addGenerationPrompt: true, kwargs: options.TemplateKwargs);
    }

    /// <summary>
    /// Evaluates <paramref name="problems"/>. <paramref name="progress"/> gets (generations done, generations total).
    /// On cancellation, returns the problems whose samples were all generated.
    /// </summary>
    public IReadOnlyList<ProblemResult> Run(IReadOnlyList<ReasoningProblem> problems, Action<int, int>? progress = null, CancellationToken cancel = default)
    {
        options.Validate();
        var stops = options.UseChatTemplate && template is not null ? template.StopStrings.Concat(options.Generation.StopStrings).Distinct().ToList() : options.Generation.StopStrings.ToList();
        var prompts = problems.Select(BuildPrompt).ToList();
        int k = options.Samples;
        int total = problems.Count * k;
        var samples = problems.Select(_ => new List<ReasoningSample>(k)).ToArray();
        int done = 0;
        for (int start = 0, batchIndex = 0; start < total; start += options.BatchSize, batchIndex++)
        {
            if (cancel.IsCancellationRequested) break;
            int count = Math.Min(options.BatchSize, total - start);
            var jobs = Enumerable.Range(start, count).Select(j => j / k).ToList();
            // A stop string that is a special token (ChatML's <|im_end|>) stops as a token id inside TextGenerator.
            var generation = options.Generation with
            {
                StopStrings = stops,
                AddBos = options.UseChatTemplate ? false : options.Generation.AddBos,
                Sampling = options.Generation.Sampling with { Seed = options.Generation.Sampling.Seed + batchIndex },
            };
            var outputs = generator.Generate(jobs.Select(p => prompts[p]).ToList(), generation);
            for (int i = 0; i < count; i++)
            {
                var r = outputs[i];
                var p = problems[jobs[i]];
                samples[jobs[i]].Add(ReasoningMetrics.Score(r.Text, r.GeneratedTokens, r.FinishReason == FinishReason.Length, p.Answer));
            }
            done += count;
            progress?.Invoke(done, total);
        }
        return problems.Select((p, i) => new ProblemResult(p, samples[i], prompts[i])).Where(r => r.SampleCount == k).ToList();
    }
}
