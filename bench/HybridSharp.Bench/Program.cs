// HybridSharp benchmarks (programs, not tests). Results go to BENCHMARKS.md by hand, with the command line.
//   dotnet run --project bench/HybridSharp.Bench -c Release -- transformer [--reps 5]
// Measures the machine's fp32 GEMM peak, then training tokens/s and MFU-against-that-peak of the Transformer
// baseline at d 256 / 4 layers and d 512 / 6 layers (T 256), plus prefill and decode tokens/s.
using HybridSharp.Bench;
using HybridSharp.Config;
using TorchSharp;

int threads = int.TryParse(Environment.GetEnvironmentVariable("HYBRID_THREADS"), out var t) && t > 0 ? t : Environment.ProcessorCount;
torch.set_num_threads(threads);
var argList = args.ToList();
int reps = 5;
int ri = argList.IndexOf("--reps");
if (ri >= 0 && ri + 1 < argList.Count && int.TryParse(argList[ri + 1], out var r)) reps = r;
string mode = argList.FirstOrDefault(a => !a.StartsWith("--") && !int.TryParse(a, out _)) ?? "transformer";

Console.WriteLine($"# HybridSharp benchmark '{mode}'  ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, {Bench.CpuModel()}; torch threads {threads}; .NET {Environment.Version}; TorchSharp {typeof(torch).Assembly.GetName().Version}");
switch (mode)
{
    case "transformer":
        TransformerBench.Run(reps);
        break;
    default:
        Console.Error.WriteLine($"error: unknown benchmark '{mode}' (known: transformer)");
        return 2;
}
return 0;
