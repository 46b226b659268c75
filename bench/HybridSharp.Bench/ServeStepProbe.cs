using System.Diagnostics;
using HybridSharp.Config;
using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HybridSharp.Bench;

/// <summary>
/// Engine-only decode timing without HTTP: TextGenerator (shared-length cache) at batch 1 against slot-mode steps at
/// 1, 4 and 16 rows, on tensors and on the managed kernels. Shows what the server's batched step costs per token.
/// </summary>
internal static class ServeStepProbe
{
    public static void Run(string preset, ScalarType dtype, int steps)
    {
        using var model = new CausalLM(Presets.Get(preset), seed: 1);
        model.eval();
        model.to(dtype);
        var tok = new ByteTokenizer();
        var gen = new TextGenerator(model, tok);
        var opts = new GenerationOptions { MaxNewTokens = steps, Sampling = SamplingOptions.Greedy, StopTokens = [] };
        gen.Generate("warm up", opts with { MaxNewTokens = 8 });
        var sw = Stopwatch.StartNew();
        gen.Generate("Stream 0: once upon a time, in a land far away", opts);
        Console.WriteLine($"{preset} {dtype}: TextGenerator batch 1: {sw.Elapsed.TotalMilliseconds / steps:F2} ms/token");
        using var inference = inference_mode();
        var plan = DecodePlan.TryCreate(model, out _);
        foreach (bool managed in new[] { false, true })
        foreach (int rows in new[] { 1, 4, 16 })
        {
            if (managed && plan is null) continue;
            using var slots = new SlotCache(model, 16, 512);
            var prompt = new[] { tok.BosId }.Concat(tok.Encode("Stream 0: once upon a time, in a land far away")).Select(i => (long)i).ToArray();
            for (int r = 0; r < rows; r++)
            {
                var view = slots.OpenRow();
                using (NewDisposeScope()) model.Forward(tensor(prompt, [1, prompt.Length]), view);
                slots.CommitRow(view);
            }
            var input = new long[rows];
            for (int s = 0; s < steps + 4; s++)
            {
                if (s == 4) sw.Restart();
                using var scope = NewDisposeScope();
                using (var view = slots.StepView())
                    input = (managed
                        ? plan!.Step(input, Enumerable.Range(0, rows).Select(slots.LengthOf).ToArray(), view)
                        : model.Forward(tensor(input, [rows, 1]), view).select(1, 0)).argmax(-1).data<long>().ToArray();
                slots.Advance();
            }
            double ms = sw.Elapsed.TotalMilliseconds / steps;
            Console.WriteLine($"{preset} {dtype} {(managed ? "managed" : "tensors")}: slot step, {rows} rows: {ms:F2} ms/step = {rows * 1000 / ms:F0} tok/s");
        }
    }
}
