using HybridSharp.Data;
using HybridSharp.Models;
using static TorchSharp.torch;

namespace HybridSharp.Inference;

/// <summary>
/// Batched text generation: left-pads prompts of different lengths, prefills them into a preallocated cache, then
/// decodes one token per step (one dispose scope per step, inference mode). Streams UTF-8-safe text per prompt and
/// honours stop tokens, stop strings and the token budget. Must be used from the thread that owns the model.
/// </summary>
public sealed class TextGenerator(CausalLM model, ITokenizer tokenizer)
{
    public CausalLM Model => model;
    public ITokenizer Tokenizer => tokenizer;

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
        int b = prompts.Count;
        int maxPrompt = prompts.Max(p => p.Length);
        long capacity = maxPrompt + Math.Max(options.MaxNewTokens, 1);
        // The streaming decoder drops special tokens from the text, so a stop string that is a special token
        // ("<|im_end|>") can never match as text: it stops as a token id instead.
        var stopTokens = (options.StopTokens ?? [tokenizer.EosId]).ToHashSet();
        foreach (var s in options.StopStrings)
            if (tokenizer.SpecialTokens.TryGetValue(s, out var special)) stopTokens.Add(special);

        var decoders = Enumerable.Range(0, b).Select(_ => new StreamingTextDecoder(tokenizer)).ToArray();
        var filters = Enumerable.Range(0, b).Select(_ => new StopStringFilter(options.StopStrings)).ToArray();
        var texts = Enumerable.Range(0, b).Select(_ => new System.Text.StringBuilder()).ToArray();
        var generated = Enumerable.Range(0, b).Select(_ => new List<int>()).ToArray();
        var finish = new string?[b];

        void Emit(int row, string piece)
        {
            if (piece.Length == 0) return;
            texts[row].Append(piece);
            onText?.Invoke(row, piece);
        }

        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var inference = inference_mode();
            var device = model.LmHeadWeight.device;
            using var cache = model.NewCache(b, capacity);
            using var sampler = new Sampler(options.Sampling, b, model.Config.VocabSize);
            for (int r = 0; r < b; r++) sampler.ObservePrompt(r, prompts[r]);

            // Left-padded prompt batch.
            var idsFlat = new long[b * maxPrompt];
            var maskFlat = new long[b * maxPrompt];
            for (int r = 0; r < b; r++)
            {
                int pad = maxPrompt - prompts[r].Length;
                for (int i = 0; i < prompts[r].Length; i++)
                {
                    idsFlat[r * maxPrompt + pad + i] = prompts[r][i];
                    maskFlat[r * maxPrompt + pad + i] = 1;
                }
            }
            bool padded = prompts.Any(p => p.Length != maxPrompt);

            Tensor? next = null;
            using (NewDisposeScope())
            {
                var ids = tensor(idsFlat, [b, maxPrompt], device: device);
                var mask = padded ? tensor(maskFlat, [b, maxPrompt], device: device) : null;
                var logits = model.Forward(ids, cache, mask);
                next = sampler.Sample(logits.select(1, maxPrompt - 1)).MoveToOuterDisposeScope();
            }

            for (int step = 0; step < options.MaxNewTokens; step++)
            {
                using var scope = NewDisposeScope();
                var current = next!;
                next = null;
                sampler.Observe(current);
                var chosen = current.data<long>().ToArray();
                bool anyActive = false;
                for (int r = 0; r < b; r++)
                {
                    if (finish[r] is not null) continue;
                    int id = (int)chosen[r];
                    if (stopTokens.Contains(id)) { finish[r] = FinishReason.Stop; continue; }
                    generated[r].Add(id);
                    Emit(r, filters[r].Push(decoders[r].Push(id)));
                    if (filters[r].Stopped) { finish[r] = FinishReason.Stop; continue; }
                    anyActive = true;
                }
                current.Dispose();
                if (!anyActive || step == options.MaxNewTokens - 1) break;
                var logits = model.Forward(tensor(chosen, [b, 1], device: device), cache);
                next = sampler.Sample(logits.select(1, 0)).MoveToOuterDisposeScope();
            }
            next?.Dispose();
        }
        finally
        {
            if (wasTraining) model.train();
        }

        var results = new GenerationResult[b];
        for (int r = 0; r < b; r++)
        {
            if (!filters[r].Stopped)
            {
                Emit(r, filters[r].Push(decoders[r].Flush()));
                Emit(r, filters[r].Flush());
            }
            finish[r] ??= filters[r].Stopped ? FinishReason.Stop : FinishReason.Length;
            results[r] = new GenerationResult(texts[r].ToString(), prompts[r].Length, generated[r].Count, finish[r]!, generated[r]);
        }
        return results;
    }
}
