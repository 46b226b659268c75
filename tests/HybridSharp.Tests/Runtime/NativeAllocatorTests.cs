using HybridSharp.Runtime;
using Xunit;
using static TorchSharp.torch;

namespace HybridSharp.Tests.Runtime;

[Collection("Torch")]
public sealed class NativeAllocatorTests
{
    [Fact]
    public void IsInEffectOnLinuxAndLargeTensorsStillAllocateAndFree()
    {
        Assert.Equal(OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("HYBRID_MALLOC_TUNING") != "0", NativeAllocator.Configure());
        Assert.Equal(NativeAllocator.IsApplied, NativeAllocator.Configure());   // idempotent
        // 3 × 80 MB blocks, freed and allocated again: the heap serves blocks larger than the per-thread arena size.
        for (int round = 0; round < 2; round++)
        {
            using var scope = NewDisposeScope();
            var blocks = Enumerable.Range(0, 3).Select(i => full(20_000_000, (float)(i + round))).ToArray();
            for (int i = 0; i < blocks.Length; i++)
                Assert.Equal(i + round, blocks[i][19_999_999].item<float>());
        }
        NativeAllocator.Trim();
        using var after = full(20_000_000, 7f);                             // the heap still serves blocks after a trim
        Assert.Equal(7f, after[12_345].item<float>());
    }

    [Fact]
    public void LargeAllocationsOnAnotherThreadWork()
    {
        float sum = 0;
        var thread = new Thread(() =>
        {
            using var scope = NewDisposeScope();
            sum = ones(30_000_000).sum().item<float>();
        });
        thread.Start();
        thread.Join();
        Assert.Equal(30_000_000f, sum);
    }
}
