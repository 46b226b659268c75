using System.Runtime.InteropServices;

namespace HybridSharp.Runtime;

/// <summary>
/// Keeps libtorch's CPU tensor memory inside glibc's heap instead of fresh <c>mmap</c> regions.
/// <para>
/// libtorch allocates every CPU tensor with <c>posix_memalign</c>. glibc serves blocks above its mmap threshold
/// (128 KiB, adapting up to 32 MiB) with a private <c>mmap</c> and returns them with <c>munmap</c> when freed, so every
/// large activation of every training step is a brand-new mapping whose pages fault in one by one on first touch. On
/// virtual machines a page fault is expensive: measured here (docs/native-memory.md), an elementwise op on a 67 MB
/// tensor took 230 ms of which ≈ 215 ms were faults, and a Mamba-1 scan forward + backward ran 19× slower than with
/// the heap reused. With <c>M_MMAP_MAX = 0</c> every block comes from the heap, and with a high <c>M_TRIM_THRESHOLD</c>
/// freed memory stays mapped for the next step: the process keeps its peak working set, as a caching GPU allocator does.
/// <c>M_ARENA_MAX = 1</c> puts every thread on the main heap, because per-thread arenas fall back to <c>mmap</c> for
/// blocks larger than their 64 MiB heaps.
/// </para>
/// <para>
/// The price: resident memory stays at the process's peak (plus fragmentation) until <see cref="Trim"/> is called.
/// Linux/glibc only; a no-op elsewhere, or when <c>HYBRID_MALLOC_TUNING=0</c>.
/// </para>
/// </summary>
public static class NativeAllocator
{
    private const int M_TRIM_THRESHOLD = -1, M_TOP_PAD = -2, M_MMAP_MAX = -4, M_ARENA_MAX = -8;
    private static readonly Lazy<bool> Applied = new(TryApply);

    /// <summary>Whether <see cref="Configure"/> has run and the tuning is in effect in this process.</summary>
    public static bool IsApplied => Applied.IsValueCreated && Applied.Value;

    /// <summary>Applies the tuning once per process (idempotent, thread-safe); returns whether it is in effect.</summary>
    public static bool Configure() => Applied.Value;

    private static bool TryApply()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("HYBRID_MALLOC_TUNING") == "0") return false;
        try
        {
            // mallopt returns 1 on success, 0 on error; musl has no mallopt (EntryPointNotFoundException).
            return mallopt(M_MMAP_MAX, 0) == 1
                && mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1
                && mallopt(M_TOP_PAD, 64 << 20) == 1
                && mallopt(M_ARENA_MAX, 1) == 1;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Returns the heap's free pages to the kernel (glibc <c>malloc_trim(0)</c>), e.g. between the cells of a sweep, so
    /// that a finished phase's peak does not stay resident. A no-op when the tuning is not in effect.
    /// </summary>
    public static void Trim()
    {
        if (!IsApplied) return;
        try { malloc_trim(0); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);
}
