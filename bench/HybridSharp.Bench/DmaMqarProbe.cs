using System.Diagnostics;
using HybridSharp.Eval.Mqar;
using HybridSharp.Models;
using static TorchSharp.torch;

namespace HybridSharp.Bench;

/// <summary>
/// Why does DMA fail MQAR where plain attention learns it? Trains the 2-layer DMA model of the MQAR mini cell (V 1024,
/// T 128, K 8, d 64, 76,800 examples, batch 128, one epoch) and prints the learned per-key bias scale A of each layer
/// as training goes; with <c>--freeze-a</c> A stays 0, which makes DMA exactly attention (β ≡ 1).
/// </summary>
public static class DmaMqarProbe
{
    public static void Run(string mixer, double lr, bool freezeA, long seed, bool initFromAttention = false)
    {
        var protocol = new MqarProtocol { VocabSize = 1024, TrainExamples = 76_800, TestExamples = 1000, Epochs = 1, BatchSize = 128, Seed = seed };
        var (train, test) = MqarRunner.GenerateTask(protocol, 128, 8);
        var cfg = MqarModels.Build(mixer, 64, false, 1024, 128);
        manual_seed(seed);
        using var model = new CausalLM(cfg, seed);
        if (initFromAttention)
        {
            // Start from the attention model's initialisation (same seed): every shared tensor copied, A = 0, dt_proj as drawn.
            using var att = new CausalLM(MqarModels.Build(MqarModels.Attention, 64, false, 1024, 128), seed);
            var src = att.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            using (no_grad())
                foreach (var (name, p) in model.named_parameters())
                    if (src.TryGetValue(name, out var w)) p.copy_(w);
        }
        var aParams = model.named_parameters().Where(p => p.name.EndsWith(".A", StringComparison.Ordinal)).ToList();
        if (freezeA) foreach (var (_, p) in aParams) p.requires_grad = false;
        using var opt = optim.AdamW(model.parameters().Where(p => p.requires_grad), lr, weight_decay: 0.1);
        Console.WriteLine($"{mixer}, lr {lr}, seed {seed}, A {(freezeA ? "frozen at 0" : "learned")}, {aParams.Count} A tensors{(initFromAttention ? ", initialised from the attention model" : "")}");
        var clock = Stopwatch.StartNew();
        int step = 0;
        double lossSum = 0;
        for (int start = 0; start < train.Count; start += 128, step++)
        {
            using (NewDisposeScope())
            {
                var (x, y) = train.Batch(start, Math.Min(128, train.Count - start));
                opt.zero_grad();
                var l = MqarRunner.LabelledLoss(model, x, y);
                l.backward();
                opt.step();
                lossSum += l.item<float>();
            }
            if ((step + 1) % 100 == 0)
            {
                var a = string.Join(" ", aParams.Select(p => $"{p.name}={string.Join(",", p.parameter.data<float>().ToArray().Select(v => v.ToString("F3")))}"));
                Console.WriteLine($"step {step + 1} loss {lossSum / 100:F3} {a} ({clock.Elapsed.TotalSeconds:F0} s)");
                lossSum = 0;
            }
        }
        model.eval();
        var (acc, _) = MqarRunner.Evaluate(model, test, 128);
        Console.WriteLine($"accuracy {acc:F4}");
    }
}

/// <summary>DMA (A = 0) against attention with copied weights on one MQAR batch: loss and gradient norms per tensor.</summary>
public static class DmaAttentionParity
{
    public static void Run()
    {
        var protocol = new MqarProtocol { VocabSize = 1024, TrainExamples = 256, TestExamples = 16, Epochs = 1, BatchSize = 128, Seed = 0 };
        var (train, _) = MqarRunner.GenerateTask(protocol, 128, 8);
        using var att = new CausalLM(MqarModels.Build("attention", 64, false, 1024, 128), 0);
        using var dma = new CausalLM(MqarModels.Build("dma", 64, false, 1024, 128), 0);
        var attParams = att.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using (no_grad())
            foreach (var (name, p) in dma.named_parameters())
                if (attParams.TryGetValue(name, out var src)) p.copy_(src); else Console.WriteLine($"dma only: {name} {string.Join("x", p.shape)}");
        var (x, y) = train.Batch(0, 128);
        foreach (var (label, m) in new[] { ("attention", att), ("dma", dma) })
        {
            m.train();
            m.zero_grad();
            var l = MqarRunner.LabelledLoss(m, x, y);
            l.backward();
            Console.WriteLine($"{label}: loss {l.item<float>():F6}");
        }
        foreach (var (name, p) in dma.named_parameters())
        {
            if (!attParams.TryGetValue(name, out var src)) { Console.WriteLine($"  {name}: grad norm {(p.grad is null ? "none" : p.grad.norm().item<float>().ToString("E3"))}"); continue; }
            double a = src.grad!.norm().item<float>(), d = p.grad!.norm().item<float>(), diff = src.grad.sub(p.grad).norm().item<float>();
            Console.WriteLine($"  {name}: |g_att| {a:E3} |g_dma| {d:E3} |diff| {diff:E3}");
        }
    }
}
