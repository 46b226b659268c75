using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Models;
using HybridSharp.Tests.Models;
using Xunit;
using static TorchSharp.torch;
using HybridSharp.Caching;

namespace HybridSharp.Tests.Serve;

[Collection("Torch")]
public sealed class SlotCacheTests
{
    /// <summary>A model of <see cref="MixedConfig"/> (every layer type) with <paramref name="maxPositions"/> positions.</summary>
    public static CausalLM MixedModel(long seed, int maxPositions)
    {
        var cfg = MixedConfig();
        cfg.MaxPositionEmbeddings = maxPositions;
        return new CausalLM(cfg, seed);
    }

    /// <summary>Attention, SSD (Mamba-2 style with conv), DMA and Mamba-1 layers in one tiny model.</summary>
    public static ModelConfig MixedConfig()
    {
        var cfg = TinyModels.Transformer(layers: 4);
        cfg.VocabSize = 261;
        cfg.LayerTypes = [MixerTypes.Attention, MixerTypes.Ssd, MixerTypes.Dma, MixerTypes.Mamba1];
        cfg.Mamba1 = new Mamba1Config { Expand = 1, StateSize = 4, DtRank = 2, ConvKernel = 3, ChunkSize = 4 };
        cfg.Ssd = new SsdConfig { Expand = 2, HeadDim = 8, StateSize = 6, NGroups = 2, ConvKernel = 4, UseConvBias = true, Gated = true, UseD = true, ChunkSize = 4 };
        cfg.Dma = new DmaConfig { KeepWindowSize = 6 };
        return cfg;
    }

    [Fact]
    public void OpenRowZeroesEveryRecurrentStateOfTheRow()
    {
        using var model = new CausalLM(MixedConfig(), seed: 5);
        model.eval();
        using var inference = inference_mode();
        using var slots = new SlotCache(model, maxBatch: 2, capacity: 16);   // its allocation token leaves states behind
        using var view = slots.OpenRow();
        var states = view.Layers.SelectMany<ILayerCache?, Tensor?>(l => l switch
        {
            SsdCache c => [c.ConvState, c.SsmState],
            Mamba1Cache c => [c.ConvState, c.SsmState],
            _ => [],
        }).OfType<Tensor>().ToList();
        Assert.Equal(4, states.Count);
        Assert.All(states, t => Assert.Equal(0.0, t.abs().max().item<float>()));
    }

    [Fact]
    public void SequencesJoiningAndLeavingMatchSingleSequenceGreedyDecoding()
    {
        using var model = new CausalLM(MixedConfig(), seed: 5);
        model.eval();
        var tok = new ByteTokenizer();
        // The fourth (short) sequence joins after two have left, into a row last used by a sequence that moved away: a prefill
        // must not inherit that row's recurrent (SSD / Mamba-1) state, nor the state of the slot cache's allocation token.
        var prompts = new[] { "the first prompt, rather long", "hi", "third one", "yo" };
        int[] budgets = [9, 14, 6, 7];
        int n = prompts.Length;
        var expected = prompts.Select((p, i) => new TextGenerator(model, tok).Generate(p,
            new GenerationOptions { MaxNewTokens = budgets[i], Sampling = SamplingOptions.Greedy, StopTokens = [] }).TokenIds.ToArray()).ToArray();

        using var inference = inference_mode();
        using var slots = new SlotCache(model, maxBatch: 3, capacity: 64);
        var generated = prompts.Select(_ => new List<int>()).ToArray();
        var usedLogits = prompts.Select(_ => new List<float[]>()).ToArray(); // the logits each generated token was picked from
        var rowOf = Enumerable.Repeat(-1, n).ToArray();
        var pending = new long[n];
        int[] joinAtStep = [0, 3, 4, 12];
        var joinedWith = new int[n];   // live sequences when each one joined
        for (int step = 0; step < 40; step++)
        {
            for (int s = 0; s < n; s++)
            {
                if (joinAtStep[s] != step) continue;
                joinedWith[s] = slots.Count;
                var ids = new[] { tok.BosId }.Concat(tok.Encode(prompts[s])).Select(i => (long)i).ToArray();
                var view = slots.OpenRow();
                using (NewDisposeScope())
                {
                    var logits = model.Forward(tensor(ids, [1, ids.Length]), view).select(1, -1);
                    pending[s] = logits.argmax(-1).item<long>();
                    usedLogits[s].Add(logits.data<float>().ToArray());
                }
                rowOf[s] = slots.CommitRow(view);
                generated[s].Add((int)pending[s]);
            }
            // Leave when the budget is spent.
            for (int s = 0; s < n; s++)
            {
                if (rowOf[s] < 0 || generated[s].Count < budgets[s]) continue;
                int moved = slots.Remove(rowOf[s]);
                if (moved >= 0) rowOf[Array.IndexOf(rowOf, moved)] = rowOf[s];
                rowOf[s] = -2;
            }
            if (slots.Count == 0) { if (rowOf.All(r => r == -2)) break; continue; }
            var input = new long[slots.Count];
            for (int s = 0; s < n; s++) if (rowOf[s] >= 0) input[rowOf[s]] = pending[s];
            using (NewDisposeScope())
            {
                var view = slots.StepView();
                var logits = model.Forward(tensor(input, [input.Length, 1]), view).select(1, 0);
                var next = logits.argmax(-1).data<long>().ToArray();
                view.Dispose();
                slots.Advance();
                for (int s = 0; s < n; s++)
                {
                    if (rowOf[s] < 0) continue;
                    pending[s] = next[rowOf[s]];
                    generated[s].Add((int)pending[s]);
                    usedLogits[s].Add(logits[rowOf[s]].data<float>().ToArray());
                }
            }
        }
        Assert.Equal(1, joinedWith[3]);   // the scenario above really happened: two left before the fourth joined
        for (int s = 0; s < n; s++) Assert.Equal(expected[s], generated[s].ToArray());

        // Stronger than the tokens: every step's logits equal a cache-free forward over the whole sequence.
        for (int s = 0; s < n; s++)
        {
            var prompt = new[] { tok.BosId }.Concat(tok.Encode(prompts[s])).ToArray();
            var ids = prompt.Concat(generated[s].SkipLast(1)).Select(i => (long)i).ToArray();
            using var scope = NewDisposeScope();
            var full = model.Forward(tensor(ids, [1, ids.Length]))[0];
            for (int k = 0; k < generated[s].Count; k++)
            {
                var reference = full[prompt.Length - 1 + k].data<float>().ToArray();
                double diff = reference.Zip(usedLogits[s][k], (a, b) => Math.Abs(a - b)).Max();
                double scale = Math.Max(1.0, reference.Max(Math.Abs));
                // fp32: different chunkings of the scans (a prompt alone vs the whole sequence) round differently; measured
                // ≤ 1.3e-7 with every mixer. A row that kept stale Mamba-1 state (allocation token or a departed sequence)
                // was off by 1.9e-4 (sequence 1) and 9.5e-5 (sequence 3), so the bound is kept well below those.
                Assert.True(diff < 1e-5 * scale, $"sequence {s}, token {k}: logits differ by {diff} (largest logit {scale})");
            }
        }
    }
}
