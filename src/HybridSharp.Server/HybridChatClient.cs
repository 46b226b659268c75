using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Grammar;
using HybridSharp.Inference;
using HybridSharp.Models;
using Microsoft.Extensions.AI;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using ChatMessage = HybridSharp.Chat.ChatMessage;
using HybridSharp.Checkpoints;

namespace HybridSharp.Server;

/// <summary>
/// A local model as a Microsoft.Extensions.AI <see cref="IChatClient"/>, in-process, with no HTTP: the same engine as
/// <c>hybrid serve</c> (one model thread, continuous batching, so concurrent callers share decode steps), the model's
/// chat template, streaming, <see cref="ChatOptions"/> (temperature, top-p, top-k, max tokens, stop sequences, seed,
/// penalties, JSON response formats), reasoning as <see cref="TextReasoningContent"/>, and tools: declarations reach the
/// template, calls come back as <see cref="FunctionCallContent"/> (so <c>FunctionInvokingChatClient</c> can run them),
/// results go back in as <see cref="FunctionResultContent"/>, and <see cref="ChatToolMode.RequireAny"/> or a named
/// function forces a call by constrained decoding. Extra template variables: <c>AdditionalProperties["chat_template_kwargs"]</c>
/// as a <see cref="JsonObject"/>.
/// </summary>
public sealed class HybridChatClient : IChatClient
{
    private readonly GenerationEngine _engine;
    private readonly ITokenizer _tokenizer;
    private readonly ChatTemplate _template;
    private readonly GenerationConfig _defaults;
    private readonly ToolCallFormat _toolFormat;
    private readonly IReadOnlySet<int> _stopTokens;
    private readonly string[] _stopStrings;
    private readonly string _modelId;
    private int _disposed;

    private HybridChatClient(GenerationEngine engine, ITokenizer tokenizer, ChatTemplate template, GenerationConfig defaults, string modelId)
    {
        _engine = engine;
        _tokenizer = tokenizer;
        _template = template;
        _defaults = defaults;
        _modelId = modelId;
        _toolFormat = ToolCallFormat.For(template);
        _stopTokens = OpenAiEndpoints.StopTokensFor(tokenizer, template.StopStrings, defaults.EosTokenIds);
        _stopStrings = [.. template.StopStrings.Where(s => !tokenizer.SpecialTokens.ContainsKey(s))];
    }

    /// <summary>
    /// Starts the model thread. The model must not be used by any other thread afterwards; it is not disposed by the client.
    /// </summary>
    public static async Task<HybridChatClient> StartAsync(CausalLM model, ITokenizer tokenizer, ChatTemplate template, int maxBatch = 4,
        long? context = null, GenerationConfig? defaults = null, string modelId = "hybrid")
    {
        model.eval();
        long capacity = Math.Min(context ?? model.Config.MaxPositionEmbeddings, model.Config.MaxPositionEmbeddings);
        var engine = new GenerationEngine(model, tokenizer, maxBatch, capacity, queueCapacity: 256);
        try
        {
            await engine.Ready;
        }
        catch
        {
            engine.Dispose();
            throw;
        }
        return new HybridChatClient(engine, tokenizer, template, defaults ?? new GenerationConfig(), modelId);
    }

    /// <summary>A model directory: its weights, tokenizer, chat template and generation_config.json.</summary>
    public static async Task<(HybridChatClient Client, CausalLM Model)> LoadAsync(string modelDirectory, int maxBatch = 4)
    {
        var (model, tokenizer) = ModelDirectory.Load(modelDirectory);
        try
        {
            var client = await StartAsync(model, tokenizer, ChatTemplate.For(tokenizer, modelDirectory), maxBatch,
                defaults: GenerationConfig.Read(modelDirectory), modelId: Path.GetFileName(Path.GetFullPath(modelDirectory).TrimEnd(Path.DirectorySeparatorChar)));
            return (client, model);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var lifetime = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var (request, reply) = Build(messages, options, lifetime.Token);
        if (!_engine.TryEnqueue(request)) throw new InvalidOperationException("the model is busy (the request queue is full); retry shortly");
        string responseId = "chatcmpl-" + Guid.NewGuid().ToString("N")[..24];
        ChatResponseUpdate Update(params AIContent[] contents) =>
            new(ChatRole.Assistant, [.. contents]) { ResponseId = responseId, MessageId = responseId, ModelId = _modelId, CreatedAt = DateTimeOffset.UtcNow };
        try
        {
            await foreach (var e in request.Events.Reader.ReadAllAsync(cancellationToken))
            {
                switch (e)
                {
                    case TextEvent t:
                        var (thought, text) = reply.Push(t.Text);
                        if (thought.Length > 0) yield return Update(new TextReasoningContent(thought));
                        if (text.Length > 0) yield return Update(new TextContent(text));
                        break;
                    case ErrorEvent err:
                        throw new InvalidOperationException(err.Message);
                    case FinishEvent f:
                        var (lastThought, lastText, calls) = reply.End();
                        var contents = new List<AIContent>();
                        if (lastThought.Length > 0) contents.Add(new TextReasoningContent(lastThought));
                        if (lastText.Length > 0) contents.Add(new TextContent(lastText));
                        foreach (var call in calls) contents.Add(new FunctionCallContent(call.Id, call.Name, Arguments(call.Arguments)));
                        contents.Add(new UsageContent(new UsageDetails { InputTokenCount = f.PromptTokens, OutputTokenCount = f.CompletionTokens, TotalTokenCount = f.PromptTokens + f.CompletionTokens }));
                        var last = Update([.. contents]);
                        last.FinishReason = calls.Count > 0 ? ChatFinishReason.ToolCalls : f.FinishReason == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop;
                        yield return last;
                        yield break;
                }
            }
        }
        finally
        {
            await lifetime.CancelAsync(); // a caller that stops reading frees the batch row
        }
    }

    private (GenerationRequest Request, ReplyAssembler Reply) Build(IEnumerable<AiChatMessage> messages, ChatOptions? options, CancellationToken cancellation)
    {
        var conversation = Convert(messages);
        JsonArray? tools = options?.Tools is { Count: > 0 } declared && options.ToolMode is not NoneChatToolMode
            ? new JsonArray([.. declared.OfType<AIFunctionDeclaration>().Select(f => (JsonNode)new JsonObject
            {
                ["type"] = "function",
                ["function"] = new JsonObject
                {
                    ["name"] = f.Name, ["description"] = f.Description, ["parameters"] = JsonNode.Parse(f.JsonSchema.GetRawText()),
                },
            })])
            : null;
        GrammarNode? grammar = options?.ResponseFormat switch
        {
            ChatResponseFormatJson { Schema: { } schema } => JsonSchemaGrammar.Compile(schema),
            ChatResponseFormatJson => new AnyObjectNode(),
            _ => null,
        };
        if (tools is not null && options!.ToolMode is RequiredChatToolMode required)
            grammar = _toolFormat.Grammar(tools, required.RequiredFunctionName);
        var kwargs = options?.AdditionalProperties?.TryGetValue("chat_template_kwargs", out var k) == true ? k as JsonObject : null;
        var prompt = _template.Render(conversation, addGenerationPrompt: true, tools, kwargs);
        var ids = _tokenizer.Encode(prompt);
        if (ids.Length >= _engine.Capacity) throw new ArgumentException($"the prompt is {ids.Length} tokens; the context is {_engine.Capacity}");
        var sampling = new SamplingOptions
        {
            Temperature = options?.Temperature ?? _defaults.DefaultTemperature ?? 1.0,
            TopP = options?.TopP ?? _defaults.TopP ?? 1.0,
            TopK = options?.TopK ?? _defaults.TopK ?? 0,
            MinP = _defaults.MinP ?? 0,
            RepetitionPenalty = _defaults.RepetitionPenalty ?? 1.0,
            FrequencyPenalty = options?.FrequencyPenalty ?? 0,
            PresencePenalty = options?.PresencePenalty ?? 0,
            Seed = options?.Seed ?? Random.Shared.NextInt64(),
        };
        sampling.Validate();
        int max = (int)Math.Min(options?.MaxOutputTokens ?? _defaults.MaxNewTokens ?? 512, _engine.Capacity - ids.Length);
        var request = new GenerationRequest
        {
            PromptIds = ids,
            MaxNewTokens = max,
            Sampling = sampling,
            StopStrings = [.. _stopStrings, .. options?.StopSequences ?? []],
            StopTokens = _stopTokens,
            Cancellation = cancellation,
            Grammar = grammar,
        };
        var reply = new ReplyAssembler(ReasoningSplitter.AppliesTo(_template) ? new ReasoningSplitter(ReasoningSplitter.PromptOpensReasoning(prompt)) : null,
            tools is null ? null : _toolFormat.NewParser(), options?.AllowMultipleToolCalls ?? true);
        return (request, reply);
    }

    /// <summary>Microsoft.Extensions.AI messages → chat-template messages (a function result becomes a tool message).</summary>
    private static List<ChatMessage> Convert(IEnumerable<AiChatMessage> messages)
    {
        var list = new List<ChatMessage>();
        foreach (var m in messages)
        {
            var text = string.Concat(m.Contents.OfType<TextContent>().Select(c => c.Text));
            var reasoning = string.Concat(m.Contents.OfType<TextReasoningContent>().Select(c => c.Text));
            var calls = m.Contents.OfType<FunctionCallContent>().ToList();
            var results = m.Contents.OfType<FunctionResultContent>().ToList();
            foreach (var r in results)
                list.Add(ChatMessage.FromTool(r.Result is string s ? s : JsonSerializer.Serialize(r.Result), r.CallId));
            if (results.Count > 0 && text.Length == 0) continue;
            string role = m.Role == ChatRole.System ? ChatMessage.System : m.Role == ChatRole.Assistant ? ChatMessage.Assistant
                : m.Role == ChatRole.Tool ? ChatMessage.Tool : ChatMessage.User;
            list.Add(new ChatMessage(role, calls.Count > 0 && text.Length == 0 ? null : text)
            {
                ReasoningContent = reasoning.Length > 0 ? reasoning : null,
                ToolCalls = calls.Count == 0 ? null : new JsonArray([.. calls.Select(c => (JsonNode)new JsonObject
                {
                    ["id"] = c.CallId, ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = JsonSerializer.Serialize(c.Arguments ?? new Dictionary<string, object?>()) },
                })]),
            });
        }
        return list;
    }

    private static Dictionary<string, object?> Arguments(string json)
    {
        var args = new Dictionary<string, object?>();
        if (JsonNode.Parse(json) is JsonObject o)
            foreach (var (k, v) in o) args[k] = v is null ? null : JsonSerializer.Deserialize<JsonElement>(v.ToJsonString());
        return args;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return; // pipelines built on this client dispose it too
        _engine.ShutdownAsync(TimeSpan.Zero).GetAwaiter().GetResult();
        _engine.Dispose();
    }
}
