using HybridSharp.Data;
using HybridSharp.Models;
using static TorchSharp.torch;

namespace HybridSharp.Inference;

/// <summary>
/// Text generation for one prompt or a batch: each prompt is prefilled alone and all of them decode together, one token
/// per step, in the library's one decode loop (<see cref="DecodeBatch{T}"/>, the server's too). Streams UTF-8-safe text
/// per prompt and honours stop tokens, stop strings and the token budget. In a batch, prompt r samples with seed + r.
/// Must be used from the thread that owns the model.
/// </summary>
public sealed class TextGenerator(CausalLM model, ITokenizer tokenizer)
{
    public CausalLM Model => model;
    public ITokenizer Tokenizer => tokenizer;

    /// <summary>Decode on the managed kernels where the model has them (default); false keeps every step on tensors.</summary>
    public bool ManagedKernels { get; init; } = true;

    /// <summary>Generates for one prompt.</summary>
    public GenerationResult Generate(string prompt, GenerationOptions options, Action<string>? onText = null) =>
        Generate([prompt], options, onText is null ? null : (_, s) => onText(s))[0];

    /// <summary>
    /// Generates for a batch of prompts. <paramref name="onText"/> receives (prompt index, text piece) as pieces
    /// become safe to emit.
    /// </summary>
    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<string> prompts, GenerationOptions options, Action<int, string>? onText = null)
    {
        var encoded = prompts.Select(p => tokenizer.Encode(p, addSpecialTokens: options.AddBos)).ToList();
        return GenerateIds(encoded, options, onText);
    }

    /// <summary>Generates from already tokenized prompts.</summary>
    public IReadOnlyList<GenerationResult> GenerateIds(IReadOnlyList<int[]> prompts, GenerationOptions options, Action<int, string>? onText = null)
    {
        if (prompts.Count == 0) return [];
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("a prompt must have at least one token");
        if (options.MaxNewTokens < 0) throw new ArgumentException("max new tokens must be ≥ 0");
        var stopTokens = StopTokens.For(tokenizer, options.StopStrings, options.StopTokens);
        long capacity = prompts.Max(p => p.Length) + Math.Max(options.MaxNewTokens, 1);
        var rows = new List<Row>(prompts.Count);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            for (int r = 0; r < prompts.Count; r++)
                rows.Add(new Row(tokenizer, model.Config.VocabSize, prompts[r], options, stopTokens, r, onText));
            using var inference = inference_mode();
            using var batch = new DecodeBatch<Row>(model, prompts.Count, capacity, ManagedKernels);
            foreach (var row in rows.Where(row => !row.Finished)) batch.Admit([row]);
            batch.Leave();
            while (batch.Live.Count > 0)
            {
                batch.Step();
                batch.Leave();
            }
        }
        finally
        {
            foreach (var row in rows) row.Dispose();
            if (wasTraining) model.train();
        }
        return rows.Select(r => new GenerationResult(r.Text.ToString(), r.PromptIds.Length, r.Generated, r.FinishReason ?? FinishReason.Length, r.Ids)).ToList();
    }

    /// <summary>One prompt's sequence: collects its text and ids and streams the text.</summary>
    private sealed class Row(ITokenizer tokenizer, long vocab, int[] prompt, GenerationOptions options, IReadOnlySet<int> stopTokens, int index,
        Action<int, string>? onText)
        : DecodeSequence(tokenizer, vocab, prompt, options.MaxNewTokens, options.Sampling with { Seed = options.Sampling.Seed + index },
            options.StopStrings, stopTokens)
    {
        public System.Text.StringBuilder Text { get; } = new();
        public List<int> Ids { get; } = [];

        protected override void OnToken(int token, Tensor logits) => Ids.Add(token);

        protected override void OnText(string text)
        {
            Text.Append(text);
            onText?.Invoke(index, text);
        }
    }
}
