using System.Net;
using System.Text;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Models;
using HybridSharp.Server;
using Xunit;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// What a chat request hands the model's chat template: tool definitions, assistant tool calls (arguments parsed),
/// reasoning_content, tool results and chat_template_kwargs — seen through a template that prints them and the
/// prompt_tokens the server reports (one token per byte with the byte tokenizer).
/// </summary>
[Collection("Torch")]
public sealed class ServerChatTemplateTests
{
    private const string Template =
        "{% for m in messages %}{{ m.role }}:{{ m.content if m.content is string else '' }}" +
        "{% if m.tool_calls %}{{ m.tool_calls[0].function.name }}({{ m.tool_calls[0].function.arguments.a }}){% endif %}" +
        "{% if m.reasoning_content %}[{{ m.reasoning_content }}]{% endif %}{% if m.tool_call_id %}#{{ m.tool_call_id }}{% endif %};{% endfor %}" +
        "{% if tools %}T{{ tools | length }}{% endif %}{% if flag %}F{% endif %}{% if add_generation_prompt %}>{% endif %}" +
        "{% if messages[0].content == 'boom' %}{{ raise_exception('no boom please') }}{% endif %}";

    [Fact]
    public async Task ToolsToolCallsReasoningAndKwargsReachTheTemplate()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["t.jinja"], Template);
        var tokenizer = new ByteTokenizer();
        using var model = SlotCacheTests.MixedModel(seed: 3, maxPositions: 512);
        await using var server = await HybridServer.StartAsync(model, tokenizer, ChatTemplate.For(tokenizer, templateFile: dir["t.jinja"]),
            new ServerOptions { ModelId = "m", Port = 0, MaxTokens = 8 });
        using var http = ServerFixture.NewClient(server.BaseAddress);

        async Task<(HttpStatusCode Status, JsonElement Body)> Post(string json)
        {
            var reply = await http.PostAsync("v1/chat/completions", ServerFixture.Json(json));
            using var doc = JsonDocument.Parse(await reply.Content.ReadAsStringAsync());
            return (reply.StatusCode, doc.RootElement.Clone());
        }

        var (status, body) = await Post("""
            {"model":"m","max_tokens":1,"temperature":0,"chat_template_kwargs":{"flag":true},
             "tools":[{"type":"function","function":{"name":"add","parameters":{"type":"object"}}}],
             "messages":[{"role":"user","content":"hi"},
               {"role":"assistant","content":null,"reasoning_content":"r","tool_calls":[{"id":"c1","type":"function","function":{"name":"add","arguments":"{\"a\": 7}"}}]},
               {"role":"tool","tool_call_id":"c1","content":"5"}]}
            """);
        Assert.Equal(HttpStatusCode.OK, status);
        const string expected = "user:hi;assistant:add(7)[r];tool:5#c1;T1F>";
        Assert.Equal(Encoding.UTF8.GetByteCount(expected), body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        // The template's own refusal and malformed tool fields are the client's to fix: 400 naming the field.
        (status, body) = await Post("""{"model":"m","messages":[{"role":"user","content":"boom"}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("no boom please", body.GetProperty("error").GetProperty("message").GetString());
        (status, body) = await Post("""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":{"name":"add"}}""");
        Assert.Equal((HttpStatusCode.BadRequest, "tools"), (status, body.GetProperty("error").GetProperty("param").GetString()));
        (status, body) = await Post("""{"model":"m","messages":[{"role":"user","content":"x"}],"chat_template_kwargs":[1]}""");
        Assert.Equal((HttpStatusCode.BadRequest, "chat_template_kwargs"), (status, body.GetProperty("error").GetProperty("param").GetString()));
        (status, body) = await Post("""{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c1","function":{"arguments":"{}"}}]}]}""");
        Assert.Equal((HttpStatusCode.BadRequest, "messages[0].tool_calls[0].function.name"), (status, body.GetProperty("error").GetProperty("param").GetString()));
    }

    [Fact]
    public async Task AThinkingTemplatesReasoningComesBackApartFromTheAnswer()
    {
        using var dir = new TempDir();
        // The generation prompt opens a think block, so everything the model writes until </think> is reasoning.
        File.WriteAllText(dir["t.jinja"], "{% for m in messages %}{{ m.content }}{% endfor %}{% if add_generation_prompt %}<think>\n{% endif %}{% if false %}</think>{% endif %}");
        var tokenizer = new ByteTokenizer();
        using var model = SlotCacheTests.MixedModel(seed: 3, maxPositions: 512);
        await using var server = await HybridServer.StartAsync(model, tokenizer, ChatTemplate.For(tokenizer, templateFile: dir["t.jinja"]),
            new ServerOptions { ModelId = "m", Port = 0, MaxTokens = 8 });
        using var http = ServerFixture.NewClient(server.BaseAddress);

        var raw = await http.PostAsync("v1/completions", ServerFixture.Json("""{"model":"m","prompt":"abc<think>\n","max_tokens":8,"temperature":0}"""));
        var expected = JsonDocument.Parse(await raw.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.DoesNotContain("</think>", expected);

        var whole = await http.PostAsync("v1/chat/completions", ServerFixture.Json("""{"model":"m","messages":[{"role":"user","content":"abc"}],"max_tokens":8,"temperature":0}"""));
        var message = JsonDocument.Parse(await whole.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("message");
        Assert.Equal(expected, message.GetProperty("reasoning_content").GetString());
        Assert.Equal("", message.GetProperty("content").GetString());

        var streamed = await http.PostAsync("v1/chat/completions", ServerFixture.Json("""{"model":"m","messages":[{"role":"user","content":"abc"}],"max_tokens":8,"temperature":0,"stream":true}"""));
        var deltas = ServerFixture.SseData(await streamed.Content.ReadAsStringAsync())[..^1]
            .Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("delta")).ToList();
        Assert.Equal(expected, string.Concat(deltas.Select(d => d.TryGetProperty("reasoning_content", out var r) ? r.GetString() : "")));
        Assert.All(deltas, d => Assert.False(d.TryGetProperty("content", out var c) && c.GetString()!.Length > 0));
    }
}
