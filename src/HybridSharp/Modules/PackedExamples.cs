using static TorchSharp.torch;

namespace HybridSharp.Modules;

/// <summary>
/// Lets a recurrent mixer (SSD, Mamba-1, anything with a causal conv or a carried state) keep packed examples apart
/// without a variable-length kernel: the examples of packed rows [B, T] are gathered into a right-padded batch
/// [N, L] (N examples, L the longest), the mixer runs on that batch from a zero state, and its outputs are scattered
/// back into the packed layout. Right padding cannot reach a real token of a causal mixer, so every example's output is
/// exactly what it is alone; gradients flow through the gather and the scatter.
/// </summary>
public sealed class PackedExamples : IDisposable
{
    private readonly Tensor _gather;   // [N·L] indices into the flattened [B·T] (+1 zero row at index B·T for padding)
    private readonly Tensor _scatter;  // [B·T] indices into the flattened [N·L]
    private readonly long _b, _t;

    /// <summary>Examples in the packed rows (consecutive equal ids in a row form one example).</summary>
    public long Count { get; }
    /// <summary>The longest example, in tokens.</summary>
    public long MaxLength { get; }

    public PackedExamples(Tensor documentIds)
    {
        _b = documentIds.shape[0];
        _t = documentIds.shape[1];
        var ids = documentIds.to(ScalarType.Int64).cpu().data<long>().ToArray();
        var segments = new List<(long Row, long Start, long Length)>();
        for (long r = 0; r < _b; r++)
        {
            long start = 0;
            for (long i = 1; i <= _t; i++)
                if (i == _t || ids[r * _t + i] != ids[r * _t + i - 1])
                {
                    segments.Add((r, start, i - start));
                    start = i;
                }
        }
        Count = segments.Count;
        MaxLength = segments.Max(s => s.Length);
        var gather = new long[Count * MaxLength];
        var scatter = new long[_b * _t];
        long pad = _b * _t;
        for (int n = 0; n < segments.Count; n++)
        {
            var (row, start, length) = segments[n];
            for (long j = 0; j < MaxLength; j++)
            {
                long packed = row * _t + start + j;
                gather[n * MaxLength + j] = j < length ? packed : pad;
                if (j < length) scatter[packed] = n * MaxLength + j;
            }
        }
        var device = documentIds.device;
        _gather = tensor(gather, device: device).DetachFromDisposeScope();
        _scatter = tensor(scatter, device: device).DetachFromDisposeScope();
    }

    /// <summary>[B, T, …] (or [1, T, …] broadcast over rows) → [N, L, …], padding with zeros.</summary>
    public Tensor Unpack(Tensor packed)
    {
        using var scope = NewDisposeScope();
        var full = packed.shape[0] == _b ? packed : packed.expand([_b, .. packed.shape[1..]]);
        var flat = full.reshape([_b * _t, .. full.shape[2..]]);
        var withPad = cat([flat, zeros([1, .. flat.shape[1..]], flat.dtype, flat.device)], 0);
        return withPad.index_select(0, _gather).reshape([Count, MaxLength, .. flat.shape[1..]]).MoveToOuterDisposeScope();
    }

    /// <summary>[N, L, …] → [B, T, …], the inverse of <see cref="Unpack"/> on real tokens.</summary>
    public Tensor Pack(Tensor examples)
    {
        using var scope = NewDisposeScope();
        var flat = examples.reshape([Count * MaxLength, .. examples.shape[2..]]);
        return flat.index_select(0, _scatter).reshape([_b, _t, .. examples.shape[2..]]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Runs <paramref name="mixer"/> on every packed example alone: x [B, T, d] and the per-token inputs (rotary tables,
    /// logn) are unpacked, the mixer sees a right-padded batch without packing or cache, and its output is packed back.
    /// </summary>
    public static Tensor Run(ISequenceMixer mixer, Tensor x, MixerInputs inputs)
    {
        if (inputs.Cache is not null) throw new NotSupportedException("packed rows are a training layout: no decode cache");
        using var examples = new PackedExamples(inputs.DocumentIds!);
        using var scope = NewDisposeScope();
        Tensor? Unpack(Tensor? t) => t is null ? null : examples.Unpack(t.dim() == 2 ? t.unsqueeze(0) : t);
        var y = mixer.Forward(examples.Unpack(x), new MixerInputs
        {
            Cos = Unpack(inputs.Cos)!, Sin = Unpack(inputs.Sin)!, StateCos = Unpack(inputs.StateCos), StateSin = Unpack(inputs.StateSin),
            Logn = inputs.Logn is null ? null : examples.Unpack(inputs.Logn.unsqueeze(-1)).squeeze(-1),
        });
        return examples.Pack(y).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _gather.Dispose();
        _scatter.Dispose();
    }
}
