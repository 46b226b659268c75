using System.Net;
using System.Text;
using Xunit;

namespace HybridSharp.Tests.Serve;

/// <summary>
/// 600 malformed or hostile bodies (broken JSON, wrong types, invalid UTF-8, lone surrogates, huge numbers, deep
/// nesting, unknown fields, bad schemas and tools), seeded: no 5xx, every refusal in the OpenAI error shape, and the
/// server still answers a good request afterwards.
/// </summary>
[Collection("Torch")]
public sealed class FuzzTests(ServerFixture fx) : IClassFixture<ServerFixture>
{
    private static readonly string[] Seeds =
    [
        """{"model":"M","messages":[{"role":"user","content":"hi"}],"max_tokens":2}""",
        """{"model":"M","prompt":"hi","max_tokens":2}""",
        """{"model":"M","messages":[{"role":"user","content":"x"}],"max_tokens":2,"response_format":{"type":"json_schema","json_schema":{"name":"s","schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}}}}""",
        """{"model":"M","messages":[{"role":"user","content":"x"}],"max_tokens":2,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"tool_choice":"auto"}""",
        """{"model":"M","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"1"}],"max_tokens":2}""",
    ];

    private static readonly string[] Fragments =
    [
        "null", "true", "-1", "0", "1e309", "99999999999999999999999", "\"\"", "\"\\ud800\"", "\"\\udfff\\ud800\"", "[]", "{}", "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]",
        "\"x\"", "{\"type\":\"nope\"}", "{\"type\":\"json_schema\"}", "{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"$ref\":\"#/x\"}}}",
        "[{\"type\":\"function\"}]", "[{\"function\":{\"name\":1}}]", "{\"role\":\"user\"}", "\"required\"", "{\"type\":\"function\",\"function\":{}}", "2.5",
    ];

    private static readonly string[] Fields =
    [
        "model", "messages", "prompt", "max_tokens", "temperature", "top_p", "n", "stop", "seed", "stream", "stream_options", "logprobs",
        "top_logprobs", "tools", "tool_choice", "response_format", "chat_template_kwargs", "echo", "frequency_penalty", "unknown_thing", "user",
    ];

    [Fact]
    public async Task MalformedBodiesNeverGive5xx()
    {
        var rng = new Random(20261207);
        var failures = new List<string>();
        for (int i = 0; i < 600; i++)
        {
            var body = Mutate(Seeds[rng.Next(Seeds.Length)].Replace("\"M\"", $"\"{ServerFixture.ModelId}\""), rng);
            var path = body.AsSpan().IndexOf("\"prompt\""u8) >= 0 && rng.Next(2) == 0 ? "v1/completions" : "v1/chat/completions";
            var content = new ByteArrayContent(body);
            content.Headers.ContentType = new("application/json");
            var reply = await fx.Http.PostAsync(path, content);
            var text = await reply.Content.ReadAsStringAsync();
            if ((int)reply.StatusCode >= 500) failures.Add($"{(int)reply.StatusCode} for {Encoding.UTF8.GetString(body)}: {text}");
            else if (!reply.IsSuccessStatusCode) ServerFixture.AssertErrorShape(text);
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(5)));
        var ok = await fx.Http.PostAsync("v1/completions", ServerFixture.Json($$"""{"model":"{{ServerFixture.ModelId}}","prompt":"abc","max_tokens":2}"""));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    private static byte[] Mutate(string seed, Random rng)
    {
        string text = seed;
        switch (rng.Next(7))
        {
            case 0: // cut anywhere
                text = text[..rng.Next(text.Length)];
                break;
            case 1: // replace a field's value
            case 2:
            {
                var field = Fields[rng.Next(Fields.Length)];
                var value = Fragments[rng.Next(Fragments.Length)];
                int at = text.IndexOf($"\"{field}\":", StringComparison.Ordinal);
                text = at < 0 ? text.Insert(1, $"\"{field}\":{value},") : text.Insert(at + field.Length + 3, value + ",\"_x\":");
                break;
            }
            case 3: // deep nesting
                text = text.Insert(text.Length - 1, ",\"messages\":" + new string('[', 64 + rng.Next(512)) + new string(']', 64));
                break;
            case 4: // flip a byte
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
                return bytes;
            }
            case 5: // invalid UTF-8 inside a string
            {
                var bytes = Encoding.UTF8.GetBytes(text).ToList();
                int quote = bytes.LastIndexOf((byte)'"');
                bytes.InsertRange(Math.Max(quote, 0), new byte[] { 0xC3, 0x28, 0xFF });
                return [.. bytes];
            }
            default: // a lone surrogate escape in some string
                text = text.Replace("\"hi\"", "\"h\\ud83di\"").Replace("\"x\"", "\"\\udc00\"");
                break;
        }
        return Encoding.UTF8.GetBytes(text);
    }
}
