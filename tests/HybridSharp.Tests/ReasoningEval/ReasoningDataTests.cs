using HybridSharp.Data;
using HybridSharp.Chat;
using System.Text.Json;
using HybridSharp.Eval.Reasoning;
using HybridSharp.Sft;
using HybridSharp.Tasks;
using Parquet.Serialization;
using Xunit;

namespace HybridSharp.Tests.ReasoningEval;

public class ReasoningDataTests
{
    [Fact]
    public void ProblemReaderMapsFieldsAndAcceptsNumbers()
    {
        using var tmp = new TempDir();
        File.WriteAllLines(tmp["p.jsonl"],
        [
            """{"question":"1+1?","solution":2,"level":"easy","uid":"a"}""",
            """{"question":"2+2?","solution":"4"}""",
        ]);
        var fields = new ProblemFields { Problem = "question", Answer = "solution", Difficulty = "level", Id = "uid" };
        var problems = ReasoningProblemReader.Read(tmp["p.jsonl"], fields);
        Assert.Equal(new ReasoningProblem("a", "1+1?", "2", "easy"), problems[0]);
        Assert.Equal(new ReasoningProblem("2", "2+2?", "4", null), problems[1]);
        Assert.Single(ReasoningProblemReader.Read(tmp["p.jsonl"], fields, limit: 1));
        var ex = Assert.Throws<InvalidDataException>(() => ReasoningProblemReader.Read(tmp["p.jsonl"]));
        Assert.Contains("line 1", ex.Message);
        Assert.Contains("`ProblemFields.Problem`", ex.Message);
    }

    public sealed class Row
    {
        public string problem { get; set; } = "";
        public int answer { get; set; }
        public int difficulty { get; set; }
    }

    [Fact]
    public async Task ProblemReaderReadsParquet()
    {
        using var tmp = new TempDir();
        await ParquetSerializer.SerializeAsync(new[] { new Row { problem = "3*3?", answer = 9, difficulty = 2 } }, tmp["p.parquet"]);
        var p = Assert.Single(ReasoningProblemReader.Read(tmp["p.parquet"]));
        Assert.Equal(new ReasoningProblem("1", "3*3?", "9", "2"), p);
    }

    [Fact]
    public void BuilderWritesDisjointSetsInTheAgreedLayouts()
    {
        using var tmp = new TempDir();
        var summary = ReasoningDataBuilder.Write(tmp.Path, new ReasoningDataOptions { TrainCount = 12, EvalCount = 8, Seed = 5, MinDifficulty = 1, MaxDifficulty = 4 });
        Assert.Equal(12, summary.Train);
        Assert.True(summary.MeanLongChars > 2 * summary.MeanConciseChars);

        var longSft = ChatDataReader.Read(Path.Combine(tmp.Path, ReasoningDataBuilder.LongSftFile));
        Assert.Equal(12, longSft.Count);
        Assert.All(longSft, c => Assert.Equal([ChatMessage.User, ChatMessage.Assistant], c.Messages.Select(m => m.Role)));
        Assert.All(longSft, c => Assert.NotNull(AnswerExtractor.LastBoxed(c.Messages[1].Content!)));
        Assert.Equal(12, ChatDataReader.Read(Path.Combine(tmp.Path, ReasoningDataBuilder.ConciseReferenceFile)).Count);

        var distill = File.ReadAllLines(Path.Combine(tmp.Path, ReasoningDataBuilder.DistillProblemsFile)).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(distill, d =>
        {
            foreach (var f in new[] { "id", "problem", "answer", "long_cot", "difficulty" }) Assert.True(d.TryGetProperty(f, out _), f);
            Assert.Equal(d.GetProperty("answer").GetString(), AnswerExtractor.LastBoxed(d.GetProperty("long_cot").GetString()!));
        });
        Assert.Equal([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4], distill.Select(d => d.GetProperty("difficulty").GetInt32()));

        var eval = ReasoningProblemReader.Read(Path.Combine(tmp.Path, ReasoningDataBuilder.EvalFile));
        Assert.Equal(8, eval.Count);
        Assert.All(eval, p => Assert.NotNull(p.Difficulty));
        var trainQuestions = longSft.Select(c => c.Messages[0].Content).ToHashSet();
        Assert.DoesNotContain(eval, p => trainQuestions.Contains(p.Problem));

        // Deterministic in the seed.
        using var again = new TempDir();
        ReasoningDataBuilder.Write(again.Path, new ReasoningDataOptions { TrainCount = 12, EvalCount = 8, Seed = 5, MinDifficulty = 1, MaxDifficulty = 4 });
        Assert.Equal(File.ReadAllText(Path.Combine(tmp.Path, ReasoningDataBuilder.EvalFile)), File.ReadAllText(Path.Combine(again.Path, ReasoningDataBuilder.EvalFile)));
    }
}
