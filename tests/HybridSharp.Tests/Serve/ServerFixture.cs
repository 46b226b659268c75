using HybridSharp.Chat;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using HybridSharp.Data;
using HybridSharp.Inference;
using HybridSharp.Models;
using HybridSharp.Server;
using Xunit;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// A tiny mixed attention / SSD / DMA model behind a <see cref="HybridServer"/> on 127.0.0.1 and a free port, plus the
/// reference outputs the same model gives through <see cref="TextGenerator"/> (computed before the server owns it).
/// </summary>
public class ServerFixture : IAsyncLifetime
{
    private readonly int _queueCapacity;

    public const string ModelId = "tiny-hybrid";
    public const string ChatPrompt = "hello there";
    public const int ChatTokens = 12;

    public CausalLM Model { get; }
    public ByteTokenizer Tokenizer { get; } = new();
    public HybridServer Server { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    /// <summary>Greedy reply to <see cref="ChatPrompt"/> as the library generates it.</summary>
    public GenerationResult ExpectedChat { get; }
    /// <summary>Greedy continuation of "abc" (no stop strings), as the library generates it.</summary>
    public GenerationResult ExpectedText { get; }

    public ServerFixture() : this(queueCapacity: 8) { }

    protected ServerFixture(int queueCapacity)
    {
        _queueCapacity = queueCapacity;
        Model = SlotCacheTests.MixedModel(seed: 11, maxPositions: 4096);
        Model.eval();
        var generator = new TextGenerator(Model, Tokenizer);
        var chat = ChatTemplate.For(Tokenizer);
        var chatText = chat.Render([ChatMessage.FromUser(ChatPrompt)], addGenerationPrompt: true);
        ExpectedChat = generator.Generate(chatText, new GenerationOptions
        {
            MaxNewTokens = ChatTokens, Sampling = SamplingOptions.Greedy, StopStrings = chat.StopStrings, AddBos = false,
            StopTokens = [Tokenizer.EosId, Tokenizer.ImEndId],
        });
        ExpectedText = generator.Generate("abc", new GenerationOptions { MaxNewTokens = 16, Sampling = SamplingOptions.Greedy });
    }

    public ServerOptions Options => new()
    {
        ModelId = ModelId, Port = 0, MaxBatch = 16, QueueCapacity = _queueCapacity, MaxTokens = 4000, MaxRequestBodyBytes = 64 * 1024,
        DrainTimeout = TimeSpan.FromSeconds(2),
    };

    public async Task InitializeAsync()
    {
        Server = await HybridServer.StartAsync(Model, Tokenizer, ChatTemplate.For(Tokenizer), Options);
        Http = NewClient(Server.BaseAddress);
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Model.Dispose();
    }

    /// <summary>
    /// A client that really disconnects when a response is disposed unread (by default SocketsHttpHandler drains up to
    /// 1 MB for 2 s to reuse the connection, which keeps a stream alive).
    /// </summary>
    public static HttpClient NewClient(Uri baseAddress) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = 256, MaxResponseDrainSize = 0 })
        { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>A fresh server on a byte-tokenizer <see cref="SlotCacheTests.MixedModel"/> (4,096 positions), with its client.</summary>
    public static async Task<(HybridServer Server, CausalLM Model, HttpClient Http)> StartMixed(ServerOptions options, long seed)
    {
        var model = SlotCacheTests.MixedModel(seed, maxPositions: 4096);
        var tokenizer = new ByteTokenizer();
        var server = await HybridServer.StartAsync(model, tokenizer, ChatTemplate.For(tokenizer), options);
        return (server, model, NewClient(server.BaseAddress));
    }

    public static StringContent Json(string json) => new(json, Encoding.UTF8, new MediaTypeHeaderValue("application/json"));

    /// <summary>Asserts an OpenAI error body: {"error":{"message","type","param","code"}} with all four keys.</summary>
    public static JsonElement AssertErrorShape(string body)
    {
        using var doc = JsonDocument.Parse(body);
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
        Assert.True(error.TryGetProperty("param", out _));
        Assert.True(error.TryGetProperty("code", out _));
        return error.Clone();
    }

    /// <summary>The load test's server: 16 batch rows and 32 queue places.</summary>
    public sealed class WithLongQueue() : ServerFixture(queueCapacity: 32);

    /// <summary>The JSON payloads of an SSE body ("data: …" events), [DONE] included as a plain string.</summary>
    public static List<string> SseData(string body) =>
        body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e =>
        {
            Assert.StartsWith("data: ", e);
            return e["data: ".Length..];
        }).ToList();
}
