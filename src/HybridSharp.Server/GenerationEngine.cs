using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Models;
using static TorchSharp.torch;

namespace HybridSharp.Server;

/// <summary>
/// Runs all generation on one model-owner thread (TorchSharp dispose scopes and inference mode are thread-local).
/// Requests arrive through a bounded channel. Between decode steps the thread admits waiting requests into free rows
/// of the library's decode loop (<see cref="DecodeBatch{T}"/>: each prompt prefilled alone), then advances every live
/// sequence by one token in a single batched forward; finished or cancelled sequences leave and free their row at once
/// (continuous batching).
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
        DecodeBatch<LiveSequence>? batch = null;
        try
        {
            using var inference = inference_mode();
            try { batch = new DecodeBatch<LiveSequence>(_model, _maxBatch, Capacity); }
            catch (Exception ex) { _ready.TrySetException(ex); return; }
            _ready.TrySetResult();
            while (true)
            {
                if (_abort.IsCancellationRequested)
                {
                    foreach (var s in batch.Clear()) Close(s, error: "the server is shutting down");
                    while (_queue.TryTake(out var queued)) FailQueued(queued, "the server is shutting down");
                    break;
                }
                while (_work.TryDequeue(out var job)) job.Run(); // e.g. embeddings: between decode steps, on this thread
                while (batch.FreeRows > 0 && _queue.TryTake(batch.FreeRows, out var request)) Admit(request, batch);
                if (batch.Live.Count == 0)
                {
                    if (!WaitForWork()) break;
                    continue;
                }
                try { Step(batch); }
                catch (Exception ex)
                {
                    // A failed step leaves the cache rows in an unknown state: end every live sequence.
                    foreach (var s in batch.Clear()) Close(s, error: $"generation failed: {ex.Message.Split('\n')[0]}");
                }
                Volatile.Write(ref _active, batch.Live.Count);
            }
        }
        catch (Exception ex)
        {
            _ready.TrySetException(ex);
            if (batch is not null)
                foreach (var s in batch.Clear()) Close(s, error: $"the model thread stopped: {ex.Message.Split('\n')[0]}");
        }
        finally
        {
            batch?.Dispose();
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

    /// <summary>Prefills a request alone into the next free row (its choices share that prefill) and takes their first tokens.</summary>
    private void Admit(GenerationRequest request, DecodeBatch<LiveSequence> batch)
    {
        if (request.Cancellation.IsCancellationRequested)
        {
            request.Events.Writer.TryComplete();
            Interlocked.Increment(ref _cancelled);
            return;
        }
        request.Remaining = request.Choices;
        List<LiveSequence> sequences = [];
        try
        {
            for (int i = 0; i < request.Choices; i++) sequences.Add(new LiveSequence(request, _tokenizer, _model.Config.VocabSize, i));
            batch.Admit(sequences);
        }
        catch (Exception ex)
        {
            foreach (var s in sequences) s.Dispose();
            FailQueued(request, $"prefill failed: {ex.Message.Split('\n')[0]}");
            return;
        }
        Interlocked.Add(ref _generatedTokens, request.Choices);
        Leave(batch);
        Volatile.Write(ref _active, batch.Live.Count);
    }

    /// <summary>One batched decode step over all live rows; then finished and cancelled sequences leave.</summary>
    private void Step(DecodeBatch<LiveSequence> batch)
    {
        int n = batch.Step();
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _generatedTokens, n);
        Stepped?.Invoke(n);
        Leave(batch);
    }

    /// <summary>Finished and cancelled sequences leave and free their rows.</summary>
    private void Leave(DecodeBatch<LiveSequence> batch)
    {
        foreach (var s in batch.Leave()) Close(s, error: null);
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
