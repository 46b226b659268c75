using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Models;
using HybridSharp.Tests.Models;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Serve;

[Collection("Torch")]
public sealed class SlotCacheTests
{
    /// <summary>Attention, SSD (Mamba-2 style with conv) and DMA layers in one tiny model.</summary>
    public static ModelConfig MixedConfig()
    {
        var cfg = TinyModels.Transformer(layers: 3);
        cfg.VocabSize = 261;
        cfg.LayerTypes = [ModelConfig.Attention, ModelConfig.Ssd, ModelConfig.DmaMixer];
        cfg.Ssm = new SsmConfig { Expand = 2, HeadDim = 8, StateSize = 6, NGroups = 2, ConvKernel = 4, UseConvBias = true, Gated = true, UseD = true, ChunkSize = 4 };
        cfg.Dma = new DmaConfig { KeepWindowSize = 6 };
        return cfg;
    }

    [Fact]
    public void SequencesJoiningAndLeavingMatchSingleSequenceGreedyDecoding()
    {
        using var model = new CausalLM(MixedConfig(), seed: 5);
        model.eval();
        var tok = new ByteTokenizer();
        var prompts = new[] { "the first prompt, rather long", "hi", "third one" };
        int[] budgets = [9, 14, 6];
        var expected = prompts.Select((p, i) => new TextGenerator(model, tok).Generate(p,
            new GenerationOptions { MaxNewTokens = budgets[i], Sampling = SamplingOptions.Greedy, StopTokens = [] }).TokenIds.ToArray()).ToArray();

        using var inference = inference_mode();
        using var slots = new SlotCache(model, maxBatch: 3, capacity: 64);
        var generated = prompts.Select(_ => new List<int>()).ToArray();
        var rowOf = new int[] { -1, -1, -1 };
        var pending = new long[3];
        int[] joinAtStep = [0, 3, 4];
        for (int step = 0; step < 40; step++)
        {
            for (int s = 0; s < 3; s++)
            {
                if (joinAtStep[s] != step) continue;
                var ids = new[] { tok.BosId }.Concat(tok.Encode(prompts[s])).Select(i => (long)i).ToArray();
                var view = slots.OpenRow();
                using (NewDisposeScope())
                    pending[s] = model.Forward(tensor(ids, [1, ids.Length]), view).select(1, -1).argmax(-1).item<long>();
                rowOf[s] = slots.CommitRow(view);
                generated[s].Add((int)pending[s]);
            }
            // Leave when the budget is spent.
            for (int s = 0; s < 3; s++)
            {
                if (rowOf[s] < 0 || generated[s].Count < budgets[s]) continue;
                int moved = slots.Remove(rowOf[s]);
                if (moved >= 0) rowOf[Array.IndexOf(rowOf, moved)] = rowOf[s];
                rowOf[s] = -2;
            }
            if (slots.Count == 0) { if (rowOf.All(r => r == -2)) break; continue; }
            var input = new long[slots.Count];
            for (int s = 0; s < 3; s++) if (rowOf[s] >= 0) input[rowOf[s]] = pending[s];
            using (NewDisposeScope())
            {
                var view = slots.StepView();
                var next = model.Forward(tensor(input, [input.Length, 1]), view).select(1, 0).argmax(-1).data<long>().ToArray();
                view.Dispose();
                slots.Advance();
                for (int s = 0; s < 3; s++)
                {
                    if (rowOf[s] < 0) continue;
                    pending[s] = next[rowOf[s]];
                    generated[s].Add((int)pending[s]);
                }
            }
        }
        for (int s = 0; s < 3; s++) Assert.Equal(expected[s], generated[s].ToArray());
    }
}
