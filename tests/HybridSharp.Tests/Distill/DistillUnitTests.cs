using System.Net;
using System.Text.Json;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Data;
using HybridSharp.Distill;
using Parquet.Serialization;
using Xunit;

namespace HybridSharp.Tests.Distill;

public class DistillUnitTests
{
    private const string Medium = "**Analysis:**\na\n\n**Initial Approach:**\nb\n\n**Reflection:**\nc\n\n**Improvement:**\nd\n\n**Summary:**\ne\n\n**Solution:**\n2 + 3 = 5\n\\boxed{5}";

    [Fact]
    public void Parser_SplitsUntaggedAndTaggedAnswers()
    {
        var a = DapParser.Parse(Medium);
        Assert.Null(a.FormatError);
        Assert.StartsWith("**Solution:**", a.Solution);
        Assert.EndsWith("**Summary:**\ne", a.Thought);
        Assert.NotNull(DapParser.Parse(Medium + "\n**Solution:**\nagain").FormatError);
        Assert.NotNull(DapParser.Parse("no sections at all").FormatError);

        var tagged = DapParser.Parse("<|begin_of_thought|>**Analysis:** x\n**Approach:** y\n**Summary:** z<|end_of_thought|>\n<|begin_of_solution|>**Solution:** 4<|end_of_solution|>");
        Assert.Null(tagged.FormatError);
        Assert.True(tagged.Tagged);
        Assert.Equal("**Solution:** 4", tagged.Solution);
        Assert.Equal(DifficultyLabeler.Easy, DifficultyLabeler.Label(tagged.Thought));
        Assert.NotNull(DapParser.Parse("<|begin_of_solution|>**Solution:** 4<|end_of_solution|><|begin_of_thought|>t<|end_of_thought|>").FormatError);
    }

    [Fact]
    public void Labeler_FollowsSection6_AndChecksHeaderOrder()
    {
        Assert.Equal(DifficultyLabeler.Medium, DifficultyLabeler.Label(DapParser.Parse(Medium).Thought));
        Assert.Equal(DifficultyLabeler.Easy, DifficultyLabeler.Label("**Analysis:** a **Approach:** b **Summary:** c"));
        Assert.Equal(DifficultyLabeler.Hard, DifficultyLabeler.Label("**Analysis:** a **Problem Decomposition:** b"));
        Assert.Equal(DifficultyLabeler.Unknown, DifficultyLabeler.Label("**Analysis:** a **Summary:** c"));
        Assert.Null(DifficultyLabeler.FrameworkMismatch("**Analysis:** **Approach:** **Summary:**", DifficultyLabeler.Easy));
        Assert.NotNull(DifficultyLabeler.FrameworkMismatch("**Approach:** **Analysis:** **Summary:**", DifficultyLabeler.Easy));
        const string hard = "**Analysis:** **Problem Decomposition:** **Sub-problem Processing:** **Initial Approach:** **Reflection:** **Improvement:** " +
                            "**Initial Approach:** **Reflection:** **Improvement:** **Integration:** **Overall Reflection:** **Final Optimization:** **Summary:**";
        Assert.Null(DifficultyLabeler.FrameworkMismatch(hard, DifficultyLabeler.Hard));
    }

    [Fact]
    public void Prompts_KeepExactHeaders_RenderSections_AndCanBeOverridden()
    {
        using var dir = new TempDir();
        var builtIn = PromptSet.BuiltIn();
        Assert.Equal(PromptSet.BuiltInVersion, builtIn.Version);
        var system = builtIn.Template("system.md");
        foreach (var h in DifficultyLabeler.HardHeaders.Concat(DifficultyLabeler.MediumHeaders).Concat(DifficultyLabeler.EasyHeaders))
            Assert.Contains($"**{h}:**", system);
        Assert.Contains("**Solution:**", system);
        var values = new Dictionary<string, string?> { ["problem"] = "P?", ["long_cot"] = "L.", ["reference"] = null };
        var without = builtIn.Render("rewrite-user.md", values);
        Assert.DoesNotContain("correct answer", without);
        Assert.DoesNotContain("{{", without);
        values["reference"] = "\\boxed{3}";
        Assert.Contains("\\boxed{3}", builtIn.Render("rewrite-user.md", values));

        File.WriteAllText(dir["user.md"], "Q: {{problem}} A: {{reference}}");
        var custom = PromptSet.Load(dir.Path);
        Assert.StartsWith(Path.GetFileName(dir.Path) + "@", custom.Version);
        Assert.NotEqual(builtIn.TemplatesSha256, custom.TemplatesSha256);
        Assert.Equal("Q: x A: y", custom.Render("user.md", new Dictionary<string, string?> { ["problem"] = "x", ["reference"] = "y" }));
        Assert.Equal(system, custom.Template("system.md"));
        Assert.Throws<DirectoryNotFoundException>(() => PromptSet.Load(dir["missing"]));
    }

    [Fact]
    public void FuzzyDedup_MatchesFixedPairs_AndMinHashAgreesWithTheScan()
    {
        Assert.Equal(97, FuzzySharp.Fuzz.Ratio("this is a test", "this is a test!")); // rapidfuzz: 96.55
        Assert.Equal(91, FuzzySharp.Fuzz.Ratio("fuzzy wuzzy was a bear", "wuzzy fuzzy was a bear"));
        var problems = new List<ProblemRecord>();
        var gen = new HybridSharp.Tasks.ArithmeticGenerator(3);
        for (int i = 0; i < 60; i++) problems.Add(new ProblemRecord($"p{i}", i, gen.Generate(6).Question, "", null, "math"));
        problems.Add(new ProblemRecord("dupExact", 60, "  " + problems[5].Problem.ToUpperInvariant() + " ", "", null, "math"));
        problems.Add(new ProblemRecord("dupFuzzy", 61, problems[7].Problem.Replace("?", "!?"), "", null, "math"));
        problems.Add(new ProblemRecord("otherDomain", 62, problems[9].Problem, "", null, "code"));
        var eval = new[] { problems[11].Problem + " ", "unrelated evaluation text" };
        var scan = NearDuplicates.Find(problems, new DedupOptions { EvalTexts = eval });
        var lsh = NearDuplicates.Find(problems, new DedupOptions { EvalTexts = eval, MinHashAbove = 0 });
        Assert.Equal(RejectionCodes.Duplicate, scan[60].Code);
        Assert.Equal(RejectionCodes.Duplicate, scan[61].Code);
        Assert.False(scan.ContainsKey(62));
        Assert.Equal(RejectionCodes.Contaminated, scan[11].Code);
        Assert.Equal(scan.Keys.Order(), lsh.Keys.Order());
        Assert.All(scan.Keys, k => Assert.Equal(scan[k].Code, lsh[k].Code));
    }

    [Fact]
    public void SourceFilters_DropFiguresMultipartAndMissingBoxes()
    {
        var all = new SourceFilterOptions { Figures = true, MultiPart = true, RequireBoxed = true };
        ProblemRecord P(string problem, string reference) => new("x", 0, problem, reference, null, "math");
        Assert.Null(SourceFilter.Check(P("Find x if 2x = 4.", "so \\boxed{2}"), all));
        Assert.Contains("figure", SourceFilter.Check(P("In the figure below, find x.", "\\boxed{2}"), all));
        Assert.Contains("multi-part", SourceFilter.Check(P("a) Find x. b) Find y.", "\\boxed{2}"), all));
        Assert.Contains("proof", SourceFilter.Check(P("Prove it.", "done \\boxed{}"), all));
        Assert.Contains("no \\boxed", SourceFilter.Check(P("Find x.", "x is 2"), all));
        Assert.Null(SourceFilter.Check(P("In the figure below", "x"), new SourceFilterOptions()));
    }

    [Fact]
    public void AnswerCheck_ComparesBoxedAnswersAndChoiceLetters()
    {
        Assert.Null(AnswerCheck.Mismatch("**Solution:** so \\boxed{\\frac{1}{2}}", "The answer is \\boxed{0.5}", "math"));
        Assert.NotNull(AnswerCheck.Mismatch("**Solution:** \\boxed{3}", "\\boxed{4}", "math"));
        Assert.NotNull(AnswerCheck.Mismatch("**Solution:** no box", "\\boxed{4}", "math"));
        Assert.Null(AnswerCheck.Mismatch("**Solution:** The answer is B.", "B", "puzzle"));
        Assert.NotNull(AnswerCheck.Mismatch("**Solution:** The answer is C.", "B", "puzzle"));
        Assert.Null(AnswerCheck.Mismatch("anything", "\\boxed{4}", "code"));
    }

    [Fact]
    public void Client_ParsesBothReasoningFieldNames_AndRejectsMalformedBodies()
    {
        const string vllm = """{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"C","reasoning":"R"},"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8,"completion_tokens_details":{"reasoning_tokens":4}}}""";
        var r = TeacherClient.ParseCompletion(vllm);
        Assert.Equal(("C", "R", "length"), (r.Content, r.Reasoning, r.FinishReason));
        Assert.Equal(new TeacherUsage(3, 5, 4), r.Usage);
        var ds = TeacherClient.ParseCompletion(vllm.Replace("\"reasoning\"", "\"reasoning_content\"").Replace(",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":5,\"total_tokens\":8,\"completion_tokens_details\":{\"reasoning_tokens\":4}}", ""));
        Assert.Equal("R", ds.Reasoning);
        Assert.Null(ds.Usage);
        Assert.Equal("malformed_json", Assert.Throws<TeacherTransientException>(() => TeacherClient.ParseCompletion("{\"choices\": [")).Code);
        Assert.Equal("malformed_json", Assert.Throws<TeacherTransientException>(() => TeacherClient.ParseCompletion("{\"choices\": []}")).Code);

        using var resp = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        resp.Headers.Add("Retry-After", "2");
        Assert.Equal(TimeSpan.FromSeconds(2), TeacherClient.RetryAfter(resp));
        resp.Headers.Add("retry-after-ms", "150");
        Assert.Equal(TimeSpan.FromMilliseconds(150), TeacherClient.RetryAfter(resp));
    }

    [Fact]
    public async Task Exports_WriteReadableParquetAndLlamaFactoryInfo_AndStatsCountLengths()
    {
        using var dir = new TempDir();
        var rows = new List<DistillRow>
        {
            new() { Id = "b", Index = 1, Status = DistillRow.Accepted, Problem = "P1", Content = Medium, Solution = "**Solution:** 5", Difficulty = "medium", LongCot = new string('x', 400), SystemPrompt = "SYS" },
            new() { Id = "a", Index = 0, Status = DistillRow.Accepted, Problem = "P0", Content = "**Analysis:** **Approach:** **Summary:** **Solution:** 1", Solution = "**Solution:** 1", Difficulty = "easy", LongCot = new string('y', 200), SystemPrompt = "SYS" },
            new() { Id = "c", Index = 2, Status = DistillRow.Rejected, Problem = "P2", Rejections = [new Rejection("answer", "wrong")] },
        };
        var result = DistillExporter.Export(rows, dir.Path, new ExportOptions { UseGenerationPrompt = true, DatasetName = "dap" });
        Assert.Equal(2, result.Rows);
        Assert.Empty(result.Warnings);
        var sft = File.ReadAllLines(dir["sft.jsonl"]);
        Assert.Equal(["a", "b"], sft.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()!).ToArray());
        var first = JsonDocument.Parse(sft[0]).RootElement.GetProperty("messages");
        Assert.Equal(["system", "user", "assistant"], first.EnumerateArray().Select(m => m.GetProperty("role").GetString()!).ToArray());
        var info = JsonDocument.Parse(File.ReadAllText(dir["dataset_info.json"])).RootElement.GetProperty("dap");
        Assert.Equal("sharegpt", info.GetProperty("formatting").GetString());
        Assert.Equal("conversations", info.GetProperty("columns").GetProperty("messages").GetString());
        Assert.Equal("gpt", info.GetProperty("tags").GetProperty("assistant_tag").GetString());
        var share = JsonDocument.Parse(File.ReadAllLines(dir["sharegpt.jsonl"])[1]).RootElement;
        Assert.Equal("SYS", share.GetProperty("system").GetString());
        Assert.Equal("human", share.GetProperty("conversations")[0].GetProperty("from").GetString());
        var pq = (await ParquetSerializer.DeserializeAsync<SftParquetRow>(dir["sft.parquet"])).Data;
        Assert.Equal(2, pq.Count);
        Assert.Equal("assistant", pq[1].Messages[2].Role);
        Assert.Equal(Medium, pq[1].Messages[2].Content);
        Assert.Single(File.ReadAllLines(dir["rejected.jsonl"]));

        var stats = DistillStatistics.Compute(rows, TokenizerFactory.Create("byte"), "byte", 1.0, 2.0);
        Assert.Equal(2, stats.Accepted);
        Assert.Equal(1, stats.Reasons["answer"]);

        // A truncated answer that also fails later validators counts as truncated only; the rest are secondary.
        var truncated = rows[0] with
        {
            Id = "t", Status = DistillRow.Rejected,
            Rejections = [new(RejectionCodes.Truncated, "cut"), new(RejectionCodes.Format, "no solution"), new(RejectionCodes.Answer, "wrong")],
        };
        var withTruncated = DistillStatistics.Compute([.. rows, truncated], TokenizerFactory.Create("byte"), "byte");
        Assert.Equal(1, withTruncated.Reasons[RejectionCodes.Truncated]);
        Assert.Equal(1, withTruncated.Reasons["answer"]);
        Assert.Equal(1, withTruncated.SecondaryReasons["answer"]);
        Assert.Equal(1, withTruncated.SecondaryReasons[RejectionCodes.Format]);
        var easy = stats.ByDifficulty.Single(g => g.Group == "easy");
        Assert.True(easy.LongCot.Mean >= 200 && easy.Compression > 1, $"{easy}");
        var files = DistillReport.Write(stats, dir.Path);
        Assert.Contains("| easy | 1 |", File.ReadAllText(files[0]));
        Assert.True(new FileInfo(dir["tokens_by_difficulty.png"]).Length > 1000);
    }
}
