using System.Text;
using HybridSharp.Data;
using HybridSharp.Data.Corpus;
using Parquet;
using Parquet.Schema;
using Xunit;

namespace HybridSharp.Tests.Data;

public sealed class CorpusBuilderTests
{
    private static readonly ByteTokenizer Tokenizer = new();

    /// <summary>Expected shard content for documents: each document's bytes followed by EOS.</summary>
    private static int[] Stream(params string[] docs) =>
        docs.SelectMany(d => Tokenizer.Encode(d).Append(Tokenizer.EosId)).ToArray();

    private static int[] ReadAll(string path)
    {
        using var shard = TokenShard.Open(path);
        return shard.ReadTokens(0, checked((int)shard.Count));
    }

    private static List<string> Documents(string shardPath)
    {
        var tokens = ReadAll(shardPath);
        Assert.True(tokens.Length == 0 || tokens[^1] == Tokenizer.EosId, "a shard must end with EOS");
        var docs = new List<string>();
        var current = new List<int>();
        foreach (var t in tokens)
        {
            if (t == Tokenizer.EosId) { docs.Add(Tokenizer.Decode(current)); current.Clear(); }
            else current.Add(t);
        }
        return docs;
    }

    /// <summary>Asserts train and validation docs are complementary subsequences of <paramref name="expected"/>.</summary>
    private static void AssertSplitOf(string datasetDir, params string[] expected)
    {
        var train = new Queue<string>(Documents(Path.Combine(datasetDir, DatasetManifest.TrainFileName)));
        var val = new Queue<string>(Documents(Path.Combine(datasetDir, DatasetManifest.ValidationFileName)));
        foreach (var doc in expected)
        {
            if (train.TryPeek(out var t) && t == doc) train.Dequeue();
            else if (val.TryPeek(out var v) && v == doc) val.Dequeue();
            else Assert.Fail($"document \"{doc}\" is missing or out of order");
        }
        Assert.Empty(train);
        Assert.Empty(val);
    }

    private static DatasetManifest BuildFrom(string dir, string file, CorpusBuilderOptions? options = null) =>
        new CorpusBuilder(Tokenizer, options).AddFile(file).Build(dir);

    [Fact]
    public void InMemoryDocumentsAreSeparatedByEos()
    {
        using var tmp = new CorpusTestDirectory();
        var manifest = new CorpusBuilder(Tokenizer, new CorpusBuilderOptions { ValidationFraction = 0 })
            .AddDocuments(["ab", "", "c", "é<|im_end|>"], "synthetic")
            .Build(tmp.Path);

        // Fraction 0 still sends one document (the last) to validation so that both splits exist.
        Assert.Equal(Stream("ab", "c"), ReadAll(tmp.File("train.bin")));
        Assert.Equal(Stream("é<|im_end|>"), ReadAll(tmp.File("val.bin")));
        Assert.Equal(2, manifest.TrainDocuments);
        Assert.Equal(1, manifest.ValidationDocuments);
        Assert.Equal(["synthetic"], manifest.Sources);
    }

    [Fact]
    public void SingleDocumentGoesToTraining()
    {
        using var tmp = new CorpusTestDirectory();
        var manifest = new CorpusBuilder(Tokenizer, new CorpusBuilderOptions { ValidationFraction = 0.5 })
            .AddDocuments(["only"]).Build(tmp.Path);
        Assert.Equal(Stream("only"), ReadAll(tmp.File("train.bin")));
        Assert.Empty(ReadAll(tmp.File("val.bin")));
        Assert.Equal(0, manifest.ValidationDocuments);
    }

    [Fact]
    public void TextFileSplitsOnBlankLines()
    {
        using var tmp = new CorpusTestDirectory();
        var file = tmp.File("in.txt");
        File.WriteAllText(file, "Hello\r\nworld\n\n  \n\nSecond doc\n\nthird\n");
        BuildFrom(tmp.File("ds"), file);
        AssertSplitOf(tmp.File("ds"), "Hello\nworld", "Second doc", "third");
    }

    [Fact]
    public void TextFileCanBeOneDocument()
    {
        using var tmp = new CorpusTestDirectory();
        var file = tmp.File("in.TXT");
        File.WriteAllText(file, "a\n\nb\n");
        var manifest = BuildFrom(tmp.File("ds"), file,
            new CorpusBuilderOptions { Documents = new DocumentReaderOptions { TextMode = TextDocumentMode.WholeFile } });
        Assert.Equal(Stream("a\n\nb\n"), ReadAll(Path.Combine(tmp.File("ds"), "train.bin")));
        Assert.Equal(1, manifest.TrainDocuments);
    }

    [Fact]
    public void JsonlUsesChosenField()
    {
        using var tmp = new CorpusTestDirectory();
        var file = tmp.File("in.jsonl");
        File.WriteAllText(file, """
            {"body": "first", "id": 1}

            {"id": 2, "body": "line\nbreak \u00e9"}
            {"body": ""}
            {"body": "last"}
            """);
        BuildFrom(tmp.File("ds"), file, new CorpusBuilderOptions { Documents = new DocumentReaderOptions { JsonlField = "body" } });
        AssertSplitOf(tmp.File("ds"), "first", "line\nbreak é", "last");
    }

    [Fact]
    public void JsonlBadLineNamesFileAndLine()
    {
        using var tmp = new CorpusTestDirectory();
        var file = tmp.File("bad.jsonl");
        File.WriteAllText(file, "{\"text\": \"ok\"}\n\n{\"text\": oops}\n");
        var ex = Assert.Throws<InvalidDataException>(() => BuildFrom(tmp.File("ds"), file));
        Assert.Contains("bad.jsonl", ex.Message);
        Assert.Contains("line 3", ex.Message);
        Assert.DoesNotContain("LineNumber", ex.Message);
        Assert.False(File.Exists(Path.Combine(tmp.File("ds"), DatasetManifest.FileName)));
        Assert.False(File.Exists(Path.Combine(tmp.File("ds"), DatasetManifest.TrainFileName)));
    }

    [Theory]
    [InlineData("{\"text\": null}", "is null")]
    [InlineData("{\"text\": 42}", "is a number, expected a string (`DocumentReaderOptions.CoerceText`")]
    [InlineData("{\"text\": [\"a\"]}", "is a list, expected a string")]
    public void JsonlNullOrNonStringFieldIsAnError(string line, string expected)
    {
        using var tmp = new CorpusTestDirectory();
        var file = tmp.File("f.jsonl");
        File.WriteAllText(file, "{\"text\": \"ok\"}\n" + line + "\n");
        var ex = Assert.Throws<InvalidDataException>(() => BuildFrom(tmp.File("ds"), file));
        Assert.Contains("line 2", ex.Message);
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void JsonlMissingFieldNamesLine()
    {
        using var tmp = new CorpusTestDirectory();
        var file = tmp.File("f.jsonl");
        File.WriteAllText(file, "{\"text\": \"ok\"}\n{\"content\": \"x\"}\n");
        var ex = Assert.Throws<InvalidDataException>(() => BuildFrom(tmp.File("ds"), file));
        Assert.Contains("line 2", ex.Message);
        Assert.Contains("\"text\"", ex.Message);
    }

    [Fact]
    public async Task ParquetReadsColumnAcrossRowGroups()
    {
        using var tmp = new CorpusTestDirectory();
        var file = tmp.File("in.parquet");
        var id = new DataField<int>("id");
        var text = new DataField<string>("content");
        await using (var stream = File.Create(file))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(id, text), stream))
        {
            string?[][] groups = [["alpha", "beta"], ["gamma", ""], ["δέλτα"]];
            int next = 0;
            foreach (var group in groups)
            {
                using var rowGroup = writer.CreateRowGroup();
                var ids = Enumerable.Range(next, group.Length).ToArray();
                next += group.Length;
                await rowGroup.WriteAsync(id, new ReadOnlyMemory<int>(ids));
                await rowGroup.WriteAsync(text, group);
            }
        }

        var manifest = await new CorpusBuilder(Tokenizer, new CorpusBuilderOptions
        {
            ValidationFraction = 0.3,
            Documents = new DocumentReaderOptions { ParquetColumn = "content" },
        }).AddFile(file).BuildAsync(tmp.File("ds"));

        AssertSplitOf(tmp.File("ds"), "alpha", "beta", "gamma", "δέλτα");
        Assert.Equal(4, manifest.TrainDocuments + manifest.ValidationDocuments);

        var ex = Assert.Throws<InvalidDataException>(() => BuildFrom(tmp.File("ds2"), file));
        Assert.Contains("\"text\"", ex.Message);
        Assert.Contains("content", ex.Message);

        // A null is an error naming its row (counted across row groups), never a silently skipped document.
        var withNull = tmp.File("null.parquet");
        await using (var stream = File.Create(withNull))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text), stream))
        {
            foreach (var group in new string?[][] { ["a", "b"], ["c", null] })
            {
                using var rowGroup = writer.CreateRowGroup();
                await rowGroup.WriteAsync(text, group);
            }
        }
        var nullError = await Assert.ThrowsAsync<InvalidDataException>(() => new CorpusBuilder(Tokenizer, new CorpusBuilderOptions
        {
            Documents = new DocumentReaderOptions { ParquetColumn = "content" },
        }).AddFile(withNull).BuildAsync(tmp.File("ds3")));
        Assert.Contains("row 4", nullError.Message);
    }

    [Fact]
    public void MissingFileThrowsWithPath()
    {
        using var tmp = new CorpusTestDirectory();
        var missing = tmp.File("nope.txt");
        var ex = Assert.Throws<FileNotFoundException>(() => new CorpusBuilder(Tokenizer).AddFile(missing));
        Assert.Equal(missing, ex.FileName);
        Assert.Contains(missing, ex.Message);
    }

    [Fact]
    public void UnknownExtensionIsRejected()
    {
        using var tmp = new CorpusTestDirectory();
        var file = tmp.File("data.csv");
        File.WriteAllText(file, "a,b");
        var ex = Assert.Throws<ArgumentException>(() => new CorpusBuilder(Tokenizer).AddFile(file));
        Assert.Contains(".csv", ex.Message);
    }

    [Fact]
    public void EmptyCorpusIsRejected()
    {
        using var tmp = new CorpusTestDirectory();
        Assert.Throws<InvalidDataException>(() => new CorpusBuilder(Tokenizer).AddDocuments(["", ""]).Build(tmp.Path));
        Assert.Throws<InvalidOperationException>(() => new CorpusBuilder(Tokenizer).Build(tmp.Path));
    }

    [Fact]
    public void SplitIsDeterministicBySeed()
    {
        using var tmp = new CorpusTestDirectory();
        var docs = Enumerable.Range(0, 80).Select(i => $"document number {i}").ToArray();
        DatasetManifest Build(string name, long seed) =>
            new CorpusBuilder(Tokenizer, new CorpusBuilderOptions { ValidationFraction = 0.25, Seed = seed })
                .AddDocuments(docs).Build(tmp.File(name));

        var a = Build("a", 7);
        var b = Build("b", 7);
        var c = Build("c", 8);

        Assert.Equal(a, b with { Sources = a.Sources });
        Assert.Equal(File.ReadAllBytes(Path.Combine(tmp.File("a"), "train.bin")), File.ReadAllBytes(Path.Combine(tmp.File("b"), "train.bin")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(tmp.File("a"), "val.bin")), File.ReadAllBytes(Path.Combine(tmp.File("b"), "val.bin")));
        Assert.NotEqual(Documents(Path.Combine(tmp.File("a"), "val.bin")), Documents(Path.Combine(tmp.File("c"), "val.bin")));
        Assert.InRange(a.ValidationDocuments, 5, 40);
        Assert.Equal(80, a.TrainDocuments + a.ValidationDocuments);
        AssertSplitOf(tmp.File("a"), docs);
        AssertSplitOf(tmp.File("c"), docs);
    }

    [Fact]
    public void ManifestDescribesDatasetAndReopens()
    {
        using var tmp = new CorpusTestDirectory();
        var file = tmp.File("in.txt");
        File.WriteAllText(file, "one\n\ntwo\n\nthree\n", Encoding.UTF8);
        var manifest = BuildFrom(tmp.File("ds"), file, new CorpusBuilderOptions { ValidationFraction = 0.2, Seed = 3 });

        Assert.Equal("byte", manifest.Tokenizer);
        Assert.Equal(261, manifest.VocabSize);
        Assert.Equal(2, manifest.TokenWidth);
        Assert.Equal(257, manifest.EosId);
        Assert.Equal(0.2, manifest.ValidationFraction);
        Assert.Equal(3, manifest.Seed);
        Assert.Equal([file], manifest.Sources);
        Assert.Equal(Stream("one", "two", "three").Length, manifest.TrainTokens + manifest.ValidationTokens);

        using (var ds = TokenDataset.Open(tmp.File("ds")))
        {
            Assert.Equal(manifest, ds.Manifest with { Sources = manifest.Sources });
            Assert.Equal(manifest.Sources, ds.Manifest.Sources);
            Assert.Equal(manifest.TrainTokens, ds.Train.Count);
            Assert.Equal(manifest.ValidationTokens, ds.Validation.Count);
        }

        var json = File.ReadAllText(Path.Combine(tmp.File("ds"), DatasetManifest.FileName));
        Assert.Contains("\"eosId\": 257", json);
        File.WriteAllText(Path.Combine(tmp.File("ds"), DatasetManifest.FileName),
            json.Replace($"\"trainTokens\": {manifest.TrainTokens}", $"\"trainTokens\": {manifest.TrainTokens + 1}"));
        var ex = Assert.Throws<InvalidDataException>(() => TokenDataset.Open(tmp.File("ds")));
        Assert.Contains("train.bin", ex.Message);
    }
}
