using HybridSharp.Checkpoints;
using HybridSharp.Checkpoints.Gguf;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Models;
using HybridSharp.Tests.Cli;
using HybridSharp.Tests.Twin;
using LLama;
using LLama.Common;
using LLama.Native;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Gguf;

/// <summary>
/// A GGUF export runs in llama.cpp (through LLamaSharp, the engine .NET users pick) with HybridSharp's numbers: next-token
/// log-probabilities within 1e-4 at f32 (flash attention off, f32 KV cache) for the llama and mamba2 architectures, within 0.02 / 0.1 at f16 / q8_0 (the largest difference over every position and token), the same token ids for a
/// text, and clear refusals for models llama.cpp cannot run.
/// </summary>
[Collection("Torch")]
public sealed class GgufExportTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("transformer-tiny", "llama", "f32", 1e-4)]
    [InlineData("transformer-tiny", "llama", "f16", 2e-2)]
    [InlineData("transformer-tiny", "llama", "q8_0", 0.1)]
    [InlineData("mamba2", "mamba2", "f32", 1e-4)]
    [InlineData("mamba2", "mamba2", "q8_0", 0.1)]
    public void LlamaCppGivesHybridSharpsLogProbs(string preset, string architecture, string type, double tolerance)
    {
        using var tmp = new TempDir();
        var cfg = Presets.Get(preset);
        using (var model = new CausalLM(cfg, seed: 9))
        {
            TwinParityTests.Perturb(model);
            ModelDirectory.Save(model, new ByteTokenizer(), tmp["m"]);
        }
        var result = GgufExporter.Export(tmp["m"], tmp["m.gguf"], type);
        Assert.Equal(architecture, result.Architecture);

        const string text = "<|im_start|>user\nWhat is 12+30?<|im_end|>\n<|im_start|>assistant\n12 + 30 = 42";
        var tokenizer = new ByteTokenizer();
        var ids = new[] { tokenizer.BosId }.Concat(tokenizer.Encode(text)).ToArray();
        var (loaded, _) = ModelDirectory.Load(tmp["m"]);
        float[,] expected;
        using (loaded)
        using (inference_mode())
        using (var logits = loaded.Forward(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0)).log_softmax(-1)[0])
        {
            expected = new float[ids.Length, cfg.VocabSize];
            var flat = logits.contiguous().data<float>().ToArray();
            for (int i = 0; i < ids.Length; i++)
                for (int v = 0; v < cfg.VocabSize; v++) expected[i, v] = flat[i * cfg.VocabSize + v];
        }

        NativeLogConfig.llama_log_set((level, message) => { if (level == LLamaLogLevel.Error) output.WriteLine(message); });
        var parameters = new ModelParams(tmp["m.gguf"])
        {
            ContextSize = 256, BatchSize = 256, UBatchSize = 256, GpuLayerCount = 0, Threads = 2,
            FlashAttention = false,
            TypeK = GGMLType.GGML_TYPE_F32, TypeV = GGMLType.GGML_TYPE_F32,
        };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        // llama.cpp's own tokenizer reads the exported vocabulary into the same ids (special tokens parsed).
        var llamaIds = weights.Tokenize(text, true, true, System.Text.Encoding.UTF8).Select(t => (int)t).ToArray();
        Assert.Equal(ids, llamaIds);

        using var context = weights.CreateContext(parameters);
        var batch = new LLamaBatch();
        for (int i = 0; i < ids.Length; i++) batch.Add(ids[i], i, LLamaSeqId.Zero, true);
        Assert.Equal(DecodeResult.Ok, context.Decode(batch));
        double worst = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            var l = context.NativeHandle.GetLogitsIth(i).ToArray();
            double max = l.Max(), lse = max + Math.Log(l.Sum(x => Math.Exp(x - max)));
            for (int v = 0; v < cfg.VocabSize; v++) worst = Math.Max(worst, Math.Abs(l[v] - lse - expected[i, v]));
        }
        output.WriteLine($"{preset} {type}: largest log-prob difference {worst:E2} over {ids.Length} positions × {cfg.VocabSize} tokens ({result.Bytes:N0} bytes)");
        Assert.True(worst <= tolerance, $"{type}: llama.cpp differs from HybridSharp by {worst:E2} (> {tolerance:E0})");
    }

    [Fact]
    public void ModelsLlamaCppCannotRunAreRefusedByName()
    {
        using var tmp = new TempDir();
        Assert.Equal(0, HybridProcess.Run("init", tmp["x"], "--preset", "transxssm-tiny").Code);
        var (code, _, err) = HybridProcess.Run("export", tmp["x"], tmp["x.gguf"], "--format", "gguf");
        HybridProcess.AssertOneLineError(code, err, "llama.cpp has no architecture for this model");
        Assert.Equal(0, HybridProcess.Run("init", tmp["d"], "--preset", "doge-tiny").Code);
        (code, _, err) = HybridProcess.Run("export", tmp["d"], tmp["d.gguf"], "--format", "gguf");
        HybridProcess.AssertOneLineError(code, err, "Dynamic Mask Attention");
        Assert.Equal(0, HybridProcess.Run("init", tmp["t"], "--preset", "transformer-tiny").Code);
        (code, _, err) = HybridProcess.Run("export", tmp["t"], tmp["t.gguf"], "--format", "gguf", "--dtype", "q4_0");
        HybridProcess.AssertOneLineError(code, err, "q4_0");
        var (ok, o, e) = HybridProcess.Run("export", tmp["t"], tmp["t.gguf"], "--format", "gguf", "--dtype", "q8_0");
        Assert.True(ok == 0, e);
        Assert.Contains("architecture llama", o);
        (code, _, err) = HybridProcess.Run("export", tmp["t"], tmp["t.gguf"], "--format", "gguf");
        HybridProcess.AssertOneLineError(code, err, "--force");
    }
}
