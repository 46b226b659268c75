using HybridSharp.Kernels;
using TorchSharp;
using HybridSharp.Checkpoints;

namespace HybridSharp.Server;

/// <summary>Settings of <c>hybrid serve</c>.</summary>
public sealed record ServerOptions
{
    /// <summary>Address to bind; loopback by default.</summary>
    public string Host { get; init; } = "127.0.0.1";
    /// <summary>TCP port; 0 picks a free one (see <see cref="HybridServer.BaseAddress"/>).</summary>
    public int Port { get; init; } = 8000;
    /// <summary>Name clients use in <c>model</c>; defaults to the model directory's name.</summary>
    public string ModelId { get; init; } = "hybrid";
    /// <summary>Sequences decoded together in one batched step (cache rows).</summary>
    public int MaxBatch { get; init; } = 16;
    /// <summary>Requests that may wait for a free row; beyond it requests get 429.</summary>
    public int QueueCapacity { get; init; } = 64;
    /// <summary>Largest number of new tokens one request may get (requests asking for more are capped).</summary>
    public int MaxTokens { get; init; } = 512;
    /// <summary>Tokens per sequence (prompt + completion); null = the model's max_position_embeddings.</summary>
    public int? ContextLength { get; init; }
    /// <summary>Bearer token required on /v1/*; null = no authentication.</summary>
    public string? ApiKey { get; init; }
    /// <summary>Largest accepted request body.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1 << 20;
    /// <summary>How the weight matrices are held for inference: fp32, bf16 or int8 (activations stay fp32).</summary>
    public WeightFormat Weights { get; init; } = WeightFormat.Float32;
    /// <summary>Origins a browser page may call the API from (CORS); "*" = any; empty = no CORS headers.</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = [];
    /// <summary>Request defaults from the model's generation_config.json (null fields: OpenAI's defaults).</summary>
    public HybridSharp.Checkpoints.GenerationConfig Defaults { get; init; } = new();
    /// <summary>On shutdown, how long in-flight requests may finish before they are cancelled.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public void Validate()
    {
        if (MaxBatch < 1) throw new ArgumentException("`ServerOptions.MaxBatch` must be ≥ 1");
        if (QueueCapacity < 1) throw new ArgumentException("`ServerOptions.QueueCapacity` must be ≥ 1");
        if (MaxTokens < 1) throw new ArgumentException("`ServerOptions.MaxTokens` must be ≥ 1");
        if (ContextLength is < 2) throw new ArgumentException("`ServerOptions.ContextLength` must be ≥ 2");
        if (Port is < 0 or > 65535) throw new ArgumentException("`ServerOptions.Port` must be in 0…65535");
        if (MaxRequestBodyBytes < 1024) throw new ArgumentException("the request body limit must be ≥ 1 KiB");
        if (ApiKey is { Length: 0 }) throw new ArgumentException("the API key must not be empty");
        if (!Enum.IsDefined(Weights)) throw new ArgumentException("`ServerOptions.Weights` must be fp32, bf16 or int8");
        foreach (var origin in CorsOrigins)
            if (origin != "*" && !(Uri.TryCreate(origin, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" && u.AbsolutePath == "/" && !origin.EndsWith('/')))
                throw new ArgumentException($"`ServerOptions.CorsOrigins` must be '*' or an origin such as http://localhost:3000, got '{origin}'");
        if (string.IsNullOrWhiteSpace(ModelId)) throw new ArgumentException("the model id must not be empty");
    }
}
