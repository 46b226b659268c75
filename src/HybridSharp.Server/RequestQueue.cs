namespace HybridSharp.Server;

/// <summary>
/// The bounded queue of requests waiting for a batch row. A request whose client goes away while it waits leaves the
/// queue at once (its place is free for the next client), unlike a channel, where it would hold its place until the
/// model thread reached it.
/// </summary>
internal sealed class RequestQueue(int capacity)
{
    private readonly LinkedList<(GenerationRequest Request, CancellationTokenRegistration Registration)> _items = new();
    private readonly SemaphoreSlim _signal = new(0);
    private bool _completed;

    /// <summary>Requests waiting now.</summary>
    public int Count
    {
        get { lock (_items) return _items.Count; }
    }

    /// <summary>Raised (outside the lock) for a request that left the queue because it was cancelled.</summary>
    public event Action<GenerationRequest>? Cancelled;

    /// <summary>Adds a request; false when the queue is full or completed.</summary>
    public bool TryAdd(GenerationRequest request)
    {
        lock (_items)
        {
            if (_completed || _items.Count >= capacity) return false;
            var node = _items.AddLast((request, default));
            // Registered under the lock: a callback that fires at once blocks until the node is fully in place.
            node.Value = (request, request.Cancellation.Register(() => Remove(node)));
        }
        _signal.Release();
        return true;
    }

    /// <summary>Takes the oldest waiting request, if any (whatever rows it needs).</summary>
    public bool TryTake(out GenerationRequest request) => TryTake(int.MaxValue, out request);

    /// <summary>Takes the oldest waiting request if its choices fit in <paramref name="freeRows"/> (first come, first served).</summary>
    public bool TryTake(int freeRows, out GenerationRequest request)
    {
        CancellationTokenRegistration registration;
        lock (_items)
        {
            if (_items.First is not { } first || first.Value.Request.Choices > freeRows)
            {
                request = null!;
                return false;
            }
            _items.RemoveFirst();
            (request, registration) = first.Value;
        }
        registration.Dispose();
        return true;
    }

    /// <summary>
    /// Waits until a request may be waiting or <paramref name="otherWork"/> reports work (see <see cref="Wake"/>);
    /// false once the queue is completed and empty.
    /// </summary>
    public async Task<bool> WaitAsync(CancellationToken cancellation, Func<bool>? otherWork = null)
    {
        while (true)
        {
            lock (_items)
            {
                if (_items.Count > 0 || otherWork?.Invoke() == true) return true;
                if (_completed) return false;
            }
            await _signal.WaitAsync(cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>Wakes a waiter so that it looks for other work.</summary>
    public void Wake() => _signal.Release();

    /// <summary>No more requests are accepted; waiters wake up.</summary>
    public void Complete()
    {
        lock (_items) _completed = true;
        _signal.Release();
    }

    private void Remove(LinkedListNode<(GenerationRequest Request, CancellationTokenRegistration Registration)> node)
    {
        lock (_items)
        {
            if (node.List is null) return; // already taken by the model thread
            _items.Remove(node);
        }
        Cancelled?.Invoke(node.Value.Request);
    }
}
