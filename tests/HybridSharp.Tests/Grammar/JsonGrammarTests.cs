using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Data;
using HybridSharp.Grammar;
using HybridSharp.Tests.Reference;
using Json.Schema;
using Xunit;

namespace HybridSharp.Tests.Grammar;

/// <summary>
/// The JSON grammar against an independent validator (JsonSchema.Net): texts it accepts validate, texts it rejects do
/// not parse or do not validate, and random walks through it — over the byte vocabulary and over Qwen3's 151k
/// tokens — always end in JSON that validates.
/// </summary>
public sealed class JsonGrammarTests
{
    public const string Schema = """
        {"type":"object","properties":{
           "name":{"type":"string"},
           "age":{"type":"integer","minimum":0,"maximum":130},
           "score":{"type":["number","null"]},
           "tags":{"type":"array","items":{"enum":["a","b","ü"]},"maxItems":3},
           "kind":{"anyOf":[{"const":"cat"},{"$ref":"#/$defs/point"}]},
           "ok":{"type":"boolean"},
           "note":{"type":"string","description":"optional"}
         },
         "required":["name","age","score","tags","kind","ok"],"additionalProperties":false,
         "$defs":{"point":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"],"additionalProperties":false}}}
        """;

    private static JsonSchema Validator => JsonSchema.FromText(Schema);

    private static bool Accepts(GrammarNode node, string text) =>
        JsonGrammarState.Start(node).Advance(Encoding.UTF8.GetBytes(text)) is { } s && s.CanEnd;

    private static bool Validates(string text)
    {
        try
        {
            return Validator.Evaluate(JsonNode.Parse(text)).IsValid;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [Theory]
    [InlineData("""{"name":"Al","age":3,"score":null,"tags":[],"kind":"cat","ok":true}""", true)]
    [InlineData("""{"name":"A\"l\u00e9","age":30,"score":1.5e-3,"tags":["a","ü"],"kind":{"x":1,"y":-0.5},"ok":false,"note":""}""", true)]
    [InlineData("""{"name":"Al","age":3.5,"score":null,"tags":[],"kind":"cat","ok":true}""", false)]
    [InlineData("""{"name":"Al","age":3,"score":null,"tags":["c"],"kind":"cat","ok":true}""", false)]
    [InlineData("""{"name":"Al","age":3,"score":null,"tags":["a","a","a","a"],"kind":"cat","ok":true}""", false)]
    [InlineData("""{"name":"Al","age":3,"score":null,"tags":[],"kind":"dog","ok":true}""", false)]
    [InlineData("""{"name":"Al","age":3,"score":null,"tags":[],"kind":"cat"}""", false)]
    [InlineData("""{"name":"Al","age":3,"score":null,"tags":[],"kind":"cat","ok":true,"extra":1}""", false)]
    [InlineData("""{"name":"Al","age":03,"score":null,"tags":[],"kind":"cat","ok":true}""", false)]
    [InlineData("""{"name":"Al","age":3,"score":null,"tags":[],"kind":{"x":1},"ok":true}""", false)]
    public void AcceptsExactlyWhatTheSchemaAllows(string text, bool valid)
    {
        var grammar = JsonSchemaGrammar.Compile(JsonDocument.Parse(Schema).RootElement);
        Assert.Equal(valid, Accepts(grammar, text));
        if (valid) Assert.True(Validates(text));
    }

    [Fact]
    public void JsonObjectModeTakesAnyObjectAndTopLevelNumbersMayEnd()
    {
        var tree = JsonSchemaGrammar.Compile(JsonDocument.Parse("""{"$ref":"#/$defs/t","$defs":{"t":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/t"}}},"required":["kids"]}}}""").RootElement);
        Assert.True(Accepts(tree, """{"kids":[{"kids":[]},{"kids":[{"kids":[]}]}]}"""));
        Assert.True(Accepts(new AnyObjectNode(), """{"a":[1,{"b":null}],"c":"x"}"""));
        Assert.False(Accepts(new AnyObjectNode(), "[1]"));
        Assert.True(Accepts(new NumberNode(false), "-123456789012345.123456789012345e-99"));
        Assert.False(Accepts(new NumberNode(false), "1234567890123456"));
        Assert.False(Accepts(new NumberNode(false), "1e100"));
        Assert.False(Accepts(new NumberNode(true), "1.5"));
        var number = JsonGrammarState.Start(new NumberNode(false)).Advance("12"u8)!;
        Assert.True(number.CanEnd);
        Assert.False(number.IsComplete);
        Assert.True(JsonGrammarState.Start(new StringNode()).Advance("\"x\""u8)!.IsComplete);
    }

    [Theory]
    [InlineData("""{"type":"integer","minimum":1,"maximum":5}""", "3", true)]
    [InlineData("""{"type":"integer","minimum":1,"maximum":5}""", "5", true)]
    [InlineData("""{"type":"integer","minimum":1,"maximum":5}""", "6", false)]
    [InlineData("""{"type":"integer","minimum":1,"maximum":5}""", "0", false)]
    [InlineData("""{"type":"integer","minimum":1,"maximum":5}""", "10", false)]
    [InlineData("""{"type":"integer","minimum":-20,"exclusiveMaximum":0}""", "-19", true)]
    [InlineData("""{"type":"integer","minimum":-20,"exclusiveMaximum":0}""", "0", false)]
    [InlineData("""{"type":"integer","minimum":-20,"exclusiveMaximum":0}""", "-21", false)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "0.25", true)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "1.5", false)]
    [InlineData("""{"type":"number","minimum":0,"maximum":1}""", "1e0", false)]
    [InlineData("""{"type":"number","exclusiveMinimum":0.5}""", "0.5", false)]
    [InlineData("""{"type":"number","exclusiveMinimum":0.5}""", "0.51", true)]
    [InlineData("""{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991}""", "-123456789012345", true)]
    public void NumberBoundsAreKept(string schema, string text, bool valid)
    {
        var grammar = JsonSchemaGrammar.Compile(JsonDocument.Parse(schema).RootElement);
        Assert.Equal(valid, Accepts(grammar, text));
        // The grammar writes no exponent under bounds (a valid subset); elsewhere it agrees with the validator.
        if (!text.Contains('e')) Assert.Equal(valid, JsonSchema.FromText(schema).Evaluate(JsonNode.Parse(text)).IsValid);
    }

    [Theory]
    [InlineData("""{"type":"string","pattern":"^a"}""", "pattern")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string","format":"date"}}}""", "format")]
    [InlineData("""{"type":"object","additionalProperties":{"type":"string"}}""", "additionalProperties")]
    [InlineData("""{"$ref":"http://example.com/s.json"}""", "local $ref")]
    [InlineData("""{"type":"tuple"}""", "unknown type")]
    [InlineData("""{"$defs":{"a":{"type":"string","minLength":2}},"$ref":"#/$defs/a"}""", "minLength")]
    public void UnsupportedKeywordsAreNamed(string schema, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => JsonSchemaGrammar.Compile(JsonDocument.Parse(schema).RootElement));
        Assert.Contains(expected, error.Message);
    }

    public static TheoryData<string> Vocabularies => new("byte", "qwen3");

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void RandomWalksAlwaysEndInValidJson(string vocabulary)
    {
        ITokenizer tokenizer = vocabulary == "byte" ? new ByteTokenizer() : TokenizerFactory.Load(NodeReference.TokenizerDir(vocabulary));
        var grammar = JsonSchemaGrammar.Compile(JsonDocument.Parse(Schema).RootElement);
        var stops = new HashSet<int> { tokenizer.EosId };
        var rng = new Random(7);
        for (int run = 0; run < 6; run++)
        {
            var chooser = new ConstrainedChooser(tokenizer, grammar, stops, seed: run);
            var bytes = new List<byte>();
            // Random logits favour closing quotes and short numbers a little, so strings end within the budget.
            var bias = new float[tokenizer.VocabSize];
            for (int id = 0; id < bias.Length; id++)
                if (!tokenizer.IsSpecial(id) && tokenizer.TokenBytes(id) is { Length: > 0 } b && (b.Contains((byte)'"') || b.Contains((byte)','))) bias[id] = 6;
            for (int step = 0; step < 600 && !chooser.State.IsComplete; step++)
            {
                var logits = new float[tokenizer.VocabSize];
                for (int i = 0; i < logits.Length; i++) logits[i] = (float)(rng.NextDouble() * 4) + bias[i];
                int id = chooser.Choose(logits, logits, greedy: run % 2 == 0);
                if (stops.Contains(id)) break;
                chooser.Accept(id);
                bytes.AddRange(tokenizer.TokenBytes(id));
            }
            var text = Encoding.UTF8.GetString(bytes.ToArray());
            Assert.True(chooser.State.CanEnd, $"run {run} did not finish: {text}");
            Assert.True(Validates(text), text);
        }
    }
}
