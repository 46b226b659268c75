using HybridSharp.Caching;
using HybridSharp.Models;
using static TorchSharp.torch;

namespace HybridSharp.Inference;

/// <summary>
/// The decode loop of the library, shared by <see cref="TextGenerator"/> (generate, chat, reasoning evaluation) and the
/// server's batch engine: sequences join between steps (each prompt prefilled alone into a free row of a
/// <see cref="SlotCache"/>), every <see cref="Step"/> advances all live sequences by one token in one batched forward,
/// and finished or cancelled sequences leave at once (continuous batching). No padding: each row has its own length.
/// Use on the model's thread, in inference mode.
/// </summary>
public sealed class DecodeBatch<T> : IDisposable where T : DecodeSequence
{
    private readonly CausalLM _model;
    private readonly SlotCache _slots;
    private readonly List<T> _live = [];   // _live[row] is the sequence in cache row `row`
    private readonly DecodePlan? _plan;

    /// <summary>
    /// Allocates <paramref name="maxBatch"/> rows of <paramref name="capacity"/> tokens (prompt + reply) each. Decode steps
    /// take the managed kernels (<see cref="DecodePlan"/>) when the model has them and <paramref name="managedKernels"/>
    /// is true; prompts are always prefilled by the tensor path.
    /// </summary>
    public DecodeBatch(CausalLM model, int maxBatch, long capacity, bool managedKernels = true)
    {
        _model = model;
        _slots = new SlotCache(model, maxBatch, capacity);
        if (managedKernels) _plan = DecodePlan.TryCreate(model, out _);
    }

    /// <summary>True when decode steps run on the managed kernels.</summary>
    public bool UsesManagedKernels => _plan is not null;

    public IReadOnlyList<T> Live => _live;
    public int FreeRows => _slots.MaxBatch - _live.Count;
    public long Capacity => _slots.Capacity;

    /// <summary>
    /// Admits sequences that share one prompt (OpenAI's <c>n</c> choices; usually one): prefills the prompt once into a
    /// free row, copies that row for every further sequence, and lets each pick and take its first token. On failure no
    /// row stays taken and the exception propagates.
    /// </summary>
    public void Admit(IReadOnlyList<T> sequences)
    {
        if (sequences.Count == 0) return;
        if (sequences.Count > FreeRows) throw new InvalidOperationException($"{sequences.Count} sequences do not fit {FreeRows} free rows");
        var prompt = sequences[0].PromptIds;
        if (prompt.Length + 1 > Capacity) throw new ArgumentException($"a prompt of {prompt.Length} tokens does not fit a row of {Capacity}");
        int firstRow = _live.Count;
        InferenceCache? row = _slots.OpenRow();
        try
        {
            using var scope = NewDisposeScope();
            var ids = tensor(prompt.Select(i => (long)i).ToArray(), [1, prompt.Length], device: _model.LmHeadWeight.device);
            var hidden = _model.ForwardHidden(ids, row);
            // The head runs on the last position only, unless the prompt's own log-probabilities were asked for.
            if (sequences[0].WantsPromptLogits) sequences[0].OnPromptLogits(_model.Head(hidden));
            var logits = _model.Head(hidden.narrow(1, -1, 1)).select(1, 0);
            int prefilled = _slots.CommitRow(row);
            row = null;
            _live.Add(sequences[0]);
            for (int i = 1; i < sequences.Count; i++)
            {
                _slots.Fork(prefilled);
                _live.Add(sequences[i]);
            }
            foreach (var sequence in sequences)
                if (!sequence.Finished) sequence.Accept(sequence.Sample(logits), logits);
        }
        catch
        {
            row?.Dispose();
            for (int r = _live.Count - 1; r >= firstRow; r--)
            {
                _slots.Remove(r);
                _live.RemoveAt(r);
            }
            throw;
        }
    }

    /// <summary>One batched decode step over every live sequence; returns how many it advanced.</summary>
    public int Step()
    {
        int n = _live.Count;
        if (n == 0) return 0;
        var input = new long[n];
        for (int r = 0; r < n; r++) input[r] = _live[r].NextInput;
        using var scope = NewDisposeScope();
        Tensor logits;
        using (var view = _slots.StepView())
        {
            if (_plan is not null)
            {
                var positions = new long[n];
                for (int r = 0; r < n; r++) positions[r] = _slots.LengthOf(r);
                logits = _plan.Step(input, positions, view);                                                        // [n, V]
            }
            else
            {
                logits = _model.Forward(tensor(input, [n, 1], device: _model.LmHeadWeight.device), view).select(1, 0); // [n, V]
            }
        }
        _slots.Advance();
        long[]? argmax = _live.Any(s => s.IsGreedy) ? logits.argmax(-1).cpu().data<long>().ToArray() : null;
        for (int r = 0; r < n; r++)
        {
            var s = _live[r];
            if (s.Finished || s.Cancelled) continue;
            var rowLogits = logits.narrow(0, r, 1);
            s.Accept(s.IsGreedy ? argmax![r] : s.Sample(rowLogits), rowLogits);
        }
        return n;
    }

    /// <summary>Finished and cancelled sequences leave and free their rows; returns them (the caller disposes them).</summary>
    public IReadOnlyList<T> Leave()
    {
        var left = new List<T>();
        // Walk down so that moving the last row into a freed one never skips a row.
        for (int r = _live.Count - 1; r >= 0; r--)
        {
            var s = _live[r];
            if (!s.Finished && !s.Cancelled) continue;
            int moved = _slots.Remove(r);
            if (moved >= 0) _live[r] = _live[moved];
            _live.RemoveAt(_live.Count - 1);
            left.Add(s);
        }
        return left;
    }

    /// <summary>Drops every live sequence (after a failed step the rows' state is unknown); returns them.</summary>
    public IReadOnlyList<T> Clear()
    {
        var all = _live.ToList();
        while (_slots.Count > 0) _slots.Remove(_slots.Count - 1);
        _live.Clear();
        return all;
    }

    public void Dispose() => _slots.Dispose();
}
