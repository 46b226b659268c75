using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Models;
using static TorchSharp.torch;
using HybridSharp.Caching;

namespace HybridSharp.Server;

/// <summary>
/// Runs all generation on one model-owner thread (TorchSharp dispose scopes and inference mode are thread-local).
/// Requests arrive through a bounded channel. Between decode steps the thread admits waiting requests into free rows
/// of a <see cref="SlotCache"/> (each prefilled alone), then advances every live sequence by one token in a single
/// batched forward; finished or cancelled sequences leave and free their row at once (continuous batching).
/// </summary>
public sealed class GenerationEngine : IDisposable
{
    private readonly CausalLM _model;
    private readonly ITokenizer _tokenizer;
    private readonly int _maxBatch;
    private readonly RequestQueue _queue;
    private readonly Thread _thread;
    private readonly CancellationTokenSource _abort = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _accepting = true;
    private int _disposed;
    private readonly System.Collections.Concurrent.ConcurrentQueue<(Action Run, Action Cancel)> _work = new();
    private int _active;
    private long _completed, _cancelled, _failed, _steps, _generatedTokens;

    /// <summary>Starts the model thread. <paramref name="capacity"/>: tokens per sequence (prompt + completion).</summary>
    public GenerationEngine(CausalLM model, ITokenizer tokenizer, int maxBatch, long capacity, int queueCapacity)
    {
        _model = model;
        _tokenizer = tokenizer;
        _maxBatch = maxBatch;
        Capacity = capacity;
        _queue = new RequestQueue(queueCapacity);
        _queue.Cancelled += request =>
        {
            // The client left while waiting: its place is free now, and its handler is already gone.
            request.Events.Writer.TryComplete();
            Interlocked.Increment(ref _cancelled);
        };
        _thread = new Thread(Run) { IsBackground = true, Name = "hybrid-model" };
        _thread.Start();
    }

    /// <summary>Raised on the model thread after each decode step with the number of sequences it advanced.</summary>
    public event Action<int>? Stepped;

    /// <summary>Tokens one sequence may hold: prompt + completion.</summary>
    public long Capacity { get; }
    /// <summary>The model's hidden size (the length of its embeddings).</summary>
    public int HiddenSize => _model.Config.HiddenSize;
    /// <summary>Completes when the cache is allocated (or faults if it could not be).</summary>
    public Task Ready => _ready.Task;
    public int Active => Volatile.Read(ref _active);
    public int Waiting => _queue.Count;
    public long Completed => Interlocked.Read(ref _completed);
    public long Cancelled => Interlocked.Read(ref _cancelled);
    /// <summary>Requests ended by an error or by shutdown (their clients got an error).</summary>
    public long Failed => Interlocked.Read(ref _failed);
    public long Steps => Interlocked.Read(ref _steps);
    public long GeneratedTokens => Interlocked.Read(ref _generatedTokens);
    public bool Accepting => _accepting;

    /// <summary>
    /// Runs <paramref name="work"/> with the model on the model thread, between decode steps (inference mode); the task
    /// fails with the work's exception, or is cancelled when the engine stops first.
    /// </summary>
    public Task<T> RunOnModelThreadAsync<T>(Func<CausalLM, T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_accepting) { done.SetCanceled(); return done.Task; }
        _work.Enqueue((() =>
        {
            try
            {
                using (NewDisposeScope()) done.TrySetResult(work(_model));
            }
            catch (Exception ex)
            {
                done.TrySetException(ex);
            }
        }, () => done.TrySetCanceled()));
        _queue.Wake();
        return done.Task;
    }

    /// <summary>Queues a request; false when the queue is full or the engine is shutting down.</summary>
    public bool TryEnqueue(GenerationRequest request) => _accepting && _queue.TryAdd(request);

    /// <summary>
    /// Stops accepting requests and lets queued and running ones finish; after <paramref name="drain"/> the rest are
    /// cancelled (their clients get an error event). Completes when the model thread has exited.
    /// </summary>
    public async Task ShutdownAsync(TimeSpan drain)
    {
        _accepting = false;
        _queue.Complete();
        if (await Task.WhenAny(_stopped.Task, Task.Delay(drain)) != _stopped.Task) _abort.Cancel();
        await _stopped.Task;
    }

    private void Run()
    {
        var live = new List<LiveSequence>(); // live[row] holds the sequence in cache row `row`
        try
        {
            using var inference = inference_mode();
            SlotCache slots;
            try { slots = new SlotCache(_model, _maxBatch, Capacity); }
            catch (Exception ex) { _ready.TrySetException(ex); return; }
            using var _ = slots;
            _ready.TrySetResult();
            while (true)
            {
                if (_abort.IsCancellationRequested)
                {
                    foreach (var s in live) Close(s, error: "the server is shutting down");
                    live.Clear();
                    while (_queue.TryTake(out var queued)) FailQueued(queued, "the server is shutting down");
                    break;
                }
                while (_work.TryDequeue(out var job)) job.Run(); // e.g. embeddings: between decode steps, on this thread
                while (live.Count < _maxBatch && _queue.TryTake(_maxBatch - live.Count, out var request)) Admit(request, slots, live);
                if (live.Count == 0)
                {
                    if (!WaitForWork()) break;
                    continue;
                }
                try { Step(slots, live); }
                catch (Exception ex)
                {
                    // A failed step leaves the cache rows in an unknown state: end every live sequence.
                    foreach (var s in live) Close(s, error: $"generation failed: {ex.Message.Split('\n')[0]}");
                    while (slots.Count > 0) slots.Remove(slots.Count - 1);
                    live.Clear();
                }
                Volatile.Write(ref _active, live.Count);
            }
        }
        catch (Exception ex)
        {
            _ready.TrySetException(ex);
            foreach (var s in live) Close(s, error: $"the model thread stopped: {ex.Message.Split('\n')[0]}");
        }
        finally
        {
            Volatile.Write(ref _active, 0);
            _accepting = false;
            _queue.Complete();
            while (_queue.TryTake(out var queued)) FailQueued(queued, "the server is shutting down");
            while (_work.TryDequeue(out var job)) job.Cancel();
            _stopped.TrySetResult();
        }
    }

    /// <summary>Blocks the model thread until a request arrives; false when the queue is closed and empty, or on abort.</summary>
    private bool WaitForWork()
    {
        try { return _queue.WaitAsync(_abort.Token, () => !_work.IsEmpty).GetAwaiter().GetResult(); }
        catch (OperationCanceledException) { return true; } // loop round to the abort branch
    }

    /// <summary>Prefills a request alone into the next free row and samples its first token.</summary>
    private void Admit(GenerationRequest request, SlotCache slots, List<LiveSequence> live)
    {
        if (request.Cancellation.IsCancellationRequested)
        {
            request.Events.Writer.TryComplete();
            Interlocked.Increment(ref _cancelled);
            return;
        }
        request.Remaining = request.Choices;
        int firstRow = live.Count;
        InferenceCache? row = null;
        try
        {
            var sequences = Enumerable.Range(0, request.Choices).Select(i => new LiveSequence(request, _tokenizer, _model.Config.VocabSize, i)).ToList();
            row = slots.OpenRow();
            using (NewDisposeScope())
            {
                var ids = tensor(request.PromptIds.Select(i => (long)i).ToArray(), [1, request.PromptIds.Length], device: _model.LmHeadWeight.device);
                var hidden = _model.ForwardHidden(ids, row);
                // The head runs on the last position only, unless the prompt's own log-probabilities were asked for.
                if (request.PromptLogprobs) sequences[0].EmitPromptLogprobs(_model.Head(hidden));
                var logits = _model.Head(hidden.narrow(1, -1, 1)).select(1, 0);
                // The prompt is prefilled once; every further choice starts from a copy of that row.
                int prefilled = slots.CommitRow(row);
                row = null;
                live.Add(sequences[0]);
                for (int i = 1; i < sequences.Count; i++)
                {
                    slots.Fork(prefilled);
                    live.Add(sequences[i]);
                }
                foreach (var sequence in sequences)
                {
                    long first = sequence.Sample(logits);
                    sequence.Accept(first, sequence.Logprob(logits, first));
                }
            }
            Interlocked.Add(ref _generatedTokens, request.Choices);
            Leave(slots, live);
            Volatile.Write(ref _active, live.Count);
        }
        catch (Exception ex)
        {
            row?.Dispose();
            string message = $"prefill failed: {ex.Message.Split('\n')[0]}";
            if (live.Count > firstRow)
            {
                for (int r = live.Count - 1; r >= firstRow; r--)
                {
                    slots.Remove(r);
                    Close(live[r], message);
                    live.RemoveAt(r);
                }
            }
            else FailQueued(request, message);
        }
    }

    /// <summary>One batched decode step over all live rows; then finished and cancelled sequences leave.</summary>
    private void Step(SlotCache slots, List<LiveSequence> live)
    {
        int n = live.Count;
        var input = new long[n];
        for (int r = 0; r < n; r++) input[r] = live[r].NextInput;
        using (NewDisposeScope())
        {
            Tensor logits;
            using (var view = slots.StepView())
                logits = _model.Forward(tensor(input, [n, 1], device: _model.LmHeadWeight.device), view).select(1, 0); // [n, V]
            slots.Advance();
            long[]? argmax = live.Any(s => s.IsGreedy) ? logits.argmax(-1).cpu().data<long>().ToArray() : null;
            for (int r = 0; r < n; r++)
            {
                var s = live[r];
                if (s.Request.Cancellation.IsCancellationRequested) continue;
                var row = logits.narrow(0, r, 1);
                long token = s.IsGreedy ? argmax![r] : s.Sample(row);
                s.Accept(token, s.Logprob(row, token));
            }
        }
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _generatedTokens, n);
        Stepped?.Invoke(n);
        Leave(slots, live);
    }

    /// <summary>Finished and cancelled sequences leave and free their rows.</summary>
    private void Leave(SlotCache slots, List<LiveSequence> live)
    {
        // Walk down so that moving the last row into a freed one never skips a row.
        for (int r = live.Count - 1; r >= 0; r--)
        {
            var s = live[r];
            if (!s.Finished && !s.Request.Cancellation.IsCancellationRequested) continue;
            if (slots.Count == 0) throw new InvalidOperationException("slot cache out of sync with live sequences");
            int moved = slots.Remove(r);
            if (moved >= 0) live[r] = live[moved];
            live.RemoveAt(live.Count - 1);
            Close(s, error: null);
        }
    }

    /// <summary>Ends a sequence; requests (not choices) are counted, by their first choice.</summary>
    private void Close(LiveSequence s, string? error)
    {
        long dummy = 0;
        ref long counter = ref dummy;
        if (error is not null) { s.Fail(error, ApiException.Server); counter = ref _failed; }
        else if (!s.Finished) { s.Abandon(); counter = ref _cancelled; }
        else counter = ref _completed;
        if (s.Index == 0) Interlocked.Increment(ref counter);
        s.Dispose();
    }

    private void FailQueued(GenerationRequest request, string message)
    {
        Interlocked.Increment(ref _failed);
        request.Events.Writer.TryWrite(new ErrorEvent(message, ApiException.Server));
        request.Events.Writer.TryComplete();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _accepting = false;
        _queue.Complete();
        _abort.Cancel();
        _thread.Join(TimeSpan.FromSeconds(30));
        _abort.Dispose();
    }
}
