using System.Text.Json.Nodes;
using HybridSharp.Tests.Reference;
using Xunit;

namespace HybridSharp.Tests.Cli;

/// <summary><c>hybrid tokenize</c> on real tokenizer directories, checked against the JavaScript references.</summary>
public class TokenizeCommandTests
{
    [Fact]
    public void TextIdsDecodeAndChatMatchTheReferences()
    {
        var dir = NodeReference.TokenizerDir("qwen3");
        const string text = "Hi a😀b 𝟏𝟐 𠮷\r\n  x";
        var reference = NodeReference.Run("tokenize.mjs", new JsonObject { ["dir"] = dir, ["texts"] = new JsonArray(text) });
        var refIds = string.Join(' ', reference["encoded"]![0]!["ids"]!.AsArray().Select(n => n!.GetValue<int>()));

        var (code, stdout, stderr) = HybridProcess.Run("tokenize", "--model", dir, "--text", text);
        Assert.True(code == 0, stderr);
        Assert.Equal(refIds + "\n", stdout);

        var (c2, decoded, e2) = HybridProcess.Run("tokenize", "--model", dir, "--decode", refIds);
        Assert.True(c2 == 0, e2);
        Assert.Equal(text + "\n", decoded);

        using var tmp = new TempDir();
        var conversation = new JsonObject { ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Hello" }) };
        File.WriteAllText(tmp["chat.json"], conversation.ToJsonString());
        var (c3, prompt, e3) = HybridProcess.Run("tokenize", "--model", dir, "--chat", tmp["chat.json"], "--add-generation-prompt", "--template-kwargs", "{\"enable_thinking\": false}");
        Assert.True(c3 == 0, e3);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer_config.json")))!;
        var rendered = NodeReference.Run("render.mjs", new JsonObject
        {
            ["template"] = config["chat_template"]!.GetValue<string>(),
            ["contexts"] = new JsonArray(new JsonObject
            {
                ["messages"] = conversation["messages"]!.DeepClone(), ["add_generation_prompt"] = true, ["enable_thinking"] = false,
                ["eos_token"] = "<|im_end|>", ["pad_token"] = "<|endoftext|>",
            }),
        }).AsArray()[0]!["text"]!.GetValue<string>();
        Assert.Equal(rendered, prompt);
        Assert.EndsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n", prompt);
    }

    [Fact]
    public void SpecialTokensFollowTheConfigAndMistakesAreOneLine()
    {
        // DeepSeek-V3: add_bos_token true although its post-processor adds nothing; Qwen3: no BOS at all.
        var (c1, ds, e1) = HybridProcess.Run("tokenize", "--model", NodeReference.TokenizerDir("deepseek_v3"), "--text", "hi", "--add-special-tokens");
        Assert.True(c1 == 0, e1);
        Assert.StartsWith("0 ", ds);
        var (c2, qwen, e2) = HybridProcess.Run("tokenize", "--model", NodeReference.TokenizerDir("qwen3"), "--text", "hi", "--add-special-tokens", "--json");
        Assert.True(c2 == 0, e2);
        Assert.Equal("{\"ids\":[6023],\"tokens\":[\"hi\"]}\n", qwen);

        using var tmp = new TempDir();
        var (c3, _, e3) = HybridProcess.Run("tokenize", "--model", tmp.Path, "--text", "x");
        HybridProcess.AssertOneLineError(c3, e3, "no tokenizer");
        File.WriteAllText(tmp["bad.json"], "{broken");
        var (c4, _, e4) = HybridProcess.Run("tokenize", "--model", NodeReference.TokenizerDir("qwen3"), "--chat", tmp["bad.json"]);
        HybridProcess.AssertOneLineError(c4, e4, "not valid JSON");
        File.WriteAllText(tmp["chat.json"], "[{\"role\": \"user\", \"content\": \"x\"}]");
        File.WriteAllText(tmp["t.jinja"], "line one\n{% for m in messages %}{{ m.content }");
        var (c5, _, e5) = HybridProcess.Run("tokenize", "--model", NodeReference.TokenizerDir("qwen3"), "--chat", tmp["chat.json"], "--chat-template", tmp["t.jinja"]);
        HybridProcess.AssertOneLineError(c5, e5, "line 2");
        var (c6, _, e6) = HybridProcess.Run("tokenize", "--model", NodeReference.TokenizerDir("gpt4o"), "--chat", tmp["chat.json"]);
        HybridProcess.AssertOneLineError(c6, e6, "--chat-template");
        var (c7, _, e7) = HybridProcess.Run("tokenize", "--model", NodeReference.TokenizerDir("qwen3"), "--decode", "1 x");
        HybridProcess.AssertOneLineError(c7, e7, "not an integer");
    }
}
