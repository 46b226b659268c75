using HybridSharp.Data;
using HybridSharp.Data.Corpus;
using HybridSharp.Distill;
using HybridSharp.Eval.Reasoning;
using HybridSharp.Sft;
using HybridSharp.Tests.Cli;
using Parquet.Serialization;
using Xunit;

namespace HybridSharp.Tests.Data;

/// <summary>
/// One typing rule for every record reader: a number or true/false where text is expected is an error naming the file,
/// line and field unless coercion is asked for; objects and lists are errors either way; value fields take numbers.
/// </summary>
public sealed class RecordTypingTests
{
    private static readonly RecordReadOptions Coerce = new() { CoerceText = true };

    [Fact]
    public void DistillInputsRefuseANumericProblemUnlessCoerced()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp["p.jsonl"], "{\"problem\": \"2+2?\", \"answer\": 4}\n{\"problem\": 17, \"answer\": \"17\"}\n");
        var fields = new ProblemFields();
        var ex = Assert.Throws<InvalidDataException>(() => ProblemReader.Read([tmp["p.jsonl"]], fields));
        Assert.Contains("p.jsonl: line 2: field \"problem\" is a number, expected text", ex.Message);
        Assert.Contains("`RecordReadOptions.CoerceText`", ex.Message);

        var read = ProblemReader.Read([tmp["p.jsonl"]], fields, Coerce);
        Assert.Equal(["2+2?", "17"], read.Select(p => p.Problem));
        Assert.Equal("4", read[0].Reference);   // an answer is a value: a number is its right type, no coercion needed
    }

    [Fact]
    public void ObjectsAndListsAreErrorsEvenWhenCoercing()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp["p.jsonl"], "{\"problem\": {\"text\": \"x\"}, \"answer\": \"1\"}\n");
        var ex = Assert.Throws<InvalidDataException>(() => ReasoningProblemReader.Read(tmp["p.jsonl"], read: Coerce));
        Assert.Contains("line 1: field \"problem\" is an object, expected text", ex.Message);
        File.WriteAllText(tmp["q.jsonl"], "{\"problem\": \"x\", \"answer\": [1, 2]}\n");
        ex = Assert.Throws<InvalidDataException>(() => ReasoningProblemReader.Read(tmp["q.jsonl"]));
        Assert.Contains("line 1: field \"answer\" is a list, expected a string or a number", ex.Message);
    }

    [Fact]
    public void BooleansCountAsWrongTypedText()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp["p.jsonl"], "{\"problem\": true, \"answer\": false}\n");
        var ex = Assert.Throws<InvalidDataException>(() => ReasoningProblemReader.Read(tmp["p.jsonl"]));
        Assert.Contains("field \"problem\" is true/false, expected text", ex.Message);
        var p = Assert.Single(ReasoningProblemReader.Read(tmp["p.jsonl"], read: Coerce));
        Assert.Equal(("true", "false"), (p.Problem, p.Answer));
    }

    [Fact]
    public void ChatDataNamesTheTurnAndField()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp["c.jsonl"],
            "{\"messages\": [{\"role\": \"user\", \"content\": \"6*7?\"}, {\"role\": \"assistant\", \"content\": 42}]}\n");
        var ex = Assert.Throws<InvalidDataException>(() => ChatDataReader.Read(tmp["c.jsonl"]));
        Assert.Contains("c.jsonl: line 1: messages[1]: field \"content\" is a number, expected text", ex.Message);
        var c = Assert.Single(ChatDataReader.Read(tmp["c.jsonl"], Coerce));
        Assert.Equal("42", c.Messages[1].Content);
    }

    public sealed class NumericRow
    {
        public int id { get; set; }
        public double text { get; set; }
    }

    [Fact]
    public async Task CorpusColumnsOfNumbersAreReadOnlyWhenCoerced()
    {
        using var tmp = new TempDir();
        await ParquetSerializer.SerializeAsync(new[] { new NumericRow { id = 1, text = 2.5 }, new NumericRow { id = 2, text = 7 } }, tmp["n.parquet"]);
        File.WriteAllText(tmp["n.jsonl"], "{\"text\": \"a\"}\n{\"text\": 3}\n{\"text\": true}\n");

        async Task<List<string>> Read(string path, bool coerce)
        {
            var list = new List<string>();
            await foreach (var d in DocumentReader.ReadFileAsync(path, new DocumentReaderOptions { CoerceText = coerce })) list.Add(d);
            return list;
        }

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Read(tmp["n.parquet"], false));
        Assert.Contains("column \"text\" holds Double, expected strings (`DocumentReaderOptions.CoerceText`", ex.Message);
        Assert.Equal(["2.5", "7"], await Read(tmp["n.parquet"], true));
        ex = await Assert.ThrowsAsync<InvalidDataException>(() => Read(tmp["n.jsonl"], false));
        Assert.Contains("line 2: field \"text\" is a number", ex.Message);
        Assert.Equal(["a", "3", "true"], await Read(tmp["n.jsonl"], true));
    }

    [Fact]
    public void CommandsNameTheirCoerceFlag()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp["c.jsonl"], "{\"text\": \"some words\"}\n{\"text\": 12}\n");
        var (code, _, err) = HybridProcess.Run("data", tmp["ds"], tmp["c.jsonl"]);
        HybridProcess.AssertOneLineError(code, err, "line 2: field \"text\" is a number, expected a string (--coerce reads numbers");
        var (ok, _, okErr) = HybridProcess.Run("data", tmp["ds"], tmp["c.jsonl"], "--coerce");
        Assert.True(ok == 0, okErr);

        File.WriteAllText(tmp["p.jsonl"], "{\"problem\": 5, \"answer\": \"5\"}\n");
        (code, _, err) = HybridProcess.Run("eval-reasoning", "--model", tmp["missing-model"], "--data", tmp["p.jsonl"], "--out", tmp["r"]);
        HybridProcess.AssertOneLineError(code, err, "field \"problem\" is a number, expected text (--coerce reads numbers");
    }
}
