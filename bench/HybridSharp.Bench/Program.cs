// HybridSharp benchmarks (programs, not tests). Results go to BENCHMARKS.md by hand, with the command line.
//   dotnet run --project bench/HybridSharp.Bench -c Release -- transformer [--reps 5]
//   dotnet run --project bench/HybridSharp.Bench -c Release -- hybrid [--reps 3] [--lengths 512,1024,2048,4096] [--decode-only] [--decode-batch 1]
//   dotnet run --project bench/HybridSharp.Bench -c Release -- mixers [--reps 3] [--lengths 4096]
//   dotnet run --project bench/HybridSharp.Bench -c Release -- moe [--reps 3]
//   dotnet run --project bench/HybridSharp.Bench -c Release -- serve [--presets transformer-tiny,transxssm-tiny] [--dtypes fp32,bf16] [--tokens 128] [--reps 3]
//   dotnet run --project bench/HybridSharp.Bench -c Release -- mamba1 [--reps 3] [--batch 2]
//   dotnet run --project bench/HybridSharp.Bench -c Release -- scan [--reps 5] [--batch 32]   (Mamba-1 scan + big elementwise op; compare with HYBRID_MALLOC_TUNING=0)
//   dotnet run --project bench/HybridSharp.Bench -c Release -- opcost [--reps 5]   (µs per small tensor op: the batch-1 decode unit)
//   dotnet run --project bench/HybridSharp.Bench -c Release -- decode-profile [--presets transformer,transxssm] [--context 4096] [--tokens 64] [--reps 3]
//   dotnet run --project bench/HybridSharp.Bench -c Release -- dma-mqar [--lr 0.003] [--freeze-a] [--mixer dma]   (the MQAR mini cell with DMA's A printed as it trains)
//   dotnet run --project bench/HybridSharp.Bench -c Release -- matvec   (batched h·c against cᵀ·hᵀ, with and without backward)
//   dotnet run --project bench/HybridSharp.Bench -c Release -- dma-parity   (DMA at A = 0 against attention with copied weights: loss and gradients)
//   dotnet run --project bench/HybridSharp.Bench -c Release -- ssd-step-ops   (the SSD decode step op by op; SwiGLU with hot and cold weights)
//   dotnet run --project bench/HybridSharp.Bench -c Release -- quality [--corpus DIR] [--steps 400] [--batch 8] [--seq-len 256] [--models transformer,transxssm,transxssm-norope,mamba2]
// Measures the machine's fp32 GEMM peak, then training tokens/s and MFU-against-that-peak of the Transformer
// baseline at d 256 / 4 layers and d 512 / 6 layers (T 256), plus prefill and decode tokens/s.
using HybridSharp.Bench;
using HybridSharp.Config;
using TorchSharp;
using static TorchSharp.torch;

bool mallocTuned = HybridSharp.Runtime.NativeAllocator.Configure();   // HYBRID_MALLOC_TUNING=0 turns it off
int threads = int.TryParse(Environment.GetEnvironmentVariable("HYBRID_THREADS"), out var t) && t > 0 ? t : Environment.ProcessorCount;
torch.set_num_threads(threads);
var argList = args.ToList();
int reps = 5;
int ri = argList.IndexOf("--reps");
if (ri >= 0 && ri + 1 < argList.Count && int.TryParse(argList[ri + 1], out var r)) reps = r;
string Arg(string name, string fallback) { int i = argList.IndexOf(name); return i >= 0 && i + 1 < argList.Count ? argList[i + 1] : fallback; }
string mode = argList.FirstOrDefault(a => !a.StartsWith("--") && !int.TryParse(a, out _)) ?? "transformer";

Console.WriteLine($"# HybridSharp benchmark '{mode}'  ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, {Bench.CpuModel()}; torch threads {threads}; .NET {Environment.Version}; TorchSharp {typeof(torch).Assembly.GetName().Version}; heap-only allocator {mallocTuned}");
switch (mode)
{
    case "transformer":
        TransformerBench.Run(reps);
        break;
    case "hybrid":
        Bench.WarmUp();
        HybridBench.Run(reps, Arg("--lengths", "512,1024,2048,4096").Split(',').Select(int.Parse).ToArray(), ["transformer", "transxssm"],
            train: !argList.Contains("--decode-only"), decodeBatch: int.Parse(Arg("--decode-batch", "1")));
        break;
    case "mixers":
        Bench.WarmUp();
        MixerBench.Run(reps, Arg("--lengths", "512,1024,2048,4096").Split(',').Select(int.Parse).ToArray());
        break;
    case "moe":
        Bench.WarmUp();
        MoeBench.Run(reps, [1024, 4096, 16384]);
        break;
    case "mamba1":
    {
        int bi = argList.IndexOf("--batch");
        Bench.WarmUp();
        Mamba1Bench.Run(reps, [512, 1024], bi >= 0 && bi + 1 < argList.Count ? int.Parse(argList[bi + 1]) : 2);
        break;
    }
    case "quality":
    {
        QualityRun.Run(Arg("--corpus", "/usr/share/vim/vim90/doc"), Arg("--out", "runs/quality"),
            int.Parse(Arg("--steps", "400")), int.Parse(Arg("--batch", "8")), int.Parse(Arg("--seq-len", "256")),
            argList.Contains("--models") ? Arg("--models", "").Split(',', StringSplitOptions.RemoveEmptyEntries) : null,
            int.Parse(Arg("--seed", "1")));
        break;
    }
    case "scan":
        ScanProbe.Run(reps, long.Parse(Arg("--batch", "32")), long.Parse(Arg("--t", "128")), long.Parse(Arg("--d-inner", "64")), long.Parse(Arg("--n", "64")));
        break;
    case "decode-profile":
        DecodeProfile.Run(Arg("--presets", "transformer,transxssm").Split(',', StringSplitOptions.RemoveEmptyEntries),
            int.Parse(Arg("--context", "4096")), int.Parse(Arg("--tokens", "64")), reps);
        break;
    case "dma-mqar":
        DmaMqarProbe.Run(Arg("--mixer", "dma"), double.Parse(Arg("--lr", "0.003"), System.Globalization.CultureInfo.InvariantCulture),
            argList.Contains("--freeze-a"), long.Parse(Arg("--seed", "0")), argList.Contains("--init-from-attention"));
        break;
    case "dma-parity":
        DmaAttentionParity.Run();
        break;
    case "matvec":
        MatVecProbe.Run();
        break;
    case "ssd-step-ops":
        SsdStepOps.Run();
        break;
    case "opcost":
        OpCostProbe.Run(reps);
        break;
    case "serve-steps":
        foreach (var preset in new[] { "transformer-tiny", "transxssm-tiny" })
            foreach (var dtype in new[] { ScalarType.Float32 })
                ServeStepProbe.Run(preset, dtype, 64);
        break;
    case "serve-features":
        ServeFeaturesBench.Run(argList.Contains("--qwen") ? Arg("--qwen", "") : null, int.Parse(Arg("--tokens", "128")), argList.Contains("--reps") ? reps : 5);
        break;
    case "serve":
    {
        ServeBench.Run(Arg("--presets", "transformer-tiny,transxssm-tiny").Split(',', StringSplitOptions.RemoveEmptyEntries),
            Arg("--dtypes", "fp32,int8").Split(',', StringSplitOptions.RemoveEmptyEntries), int.Parse(Arg("--tokens", "128")),
            argList.Contains("--reps") ? reps : 3);
        break;
    }
    case "gemm":
        GemmBench.Run(Arg("--sizes", "512,1024,2048").Split(',').Select(int.Parse).ToList(), Arg("--threads", "1,2").Split(',').Select(int.Parse).ToList());
        break;
    case "peers":
        PeersBench.Run(Arg("--presets", "transformer,transformer-d512").Split(',', StringSplitOptions.RemoveEmptyEntries),
            Arg("--prompts", "64,1024").Split(',').Select(int.Parse).ToList(), Arg("--threads", "1,2").Split(',').Select(int.Parse).ToList(),
            int.Parse(Arg("--tokens", "128")), argList.Contains("--reps") ? reps : 3);
        break;
    default:
        Console.Error.WriteLine($"error: unknown benchmark '{mode}' (known: transformer, hybrid, mixers, moe, mamba1, quality, serve, serve-steps, peers, gemm, opcost, decode-profile, ssd-step-ops, dma-mqar, dma-parity, matvec)");
        return 2;
}
return 0;
