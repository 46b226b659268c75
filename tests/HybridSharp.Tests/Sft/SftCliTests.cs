using System.Text.Json;
using HybridSharp.Tests.Cli;
using HybridSharp.Training;
using Xunit;
using HybridSharp.Checkpoints;

namespace HybridSharp.Tests.Sft;

[Collection("Torch")]
public class SftCliTests
{
    private static void WriteChat(string path, int count)
    {
        var lines = new List<string>();
        for (int i = 0; i < count; i++)
        {
            int a = i % 9 + 1, b = i % 7 + 2;
            var user = $"What is {a}+{b}?";
            var assistant = $"{a}+{b}={a + b}. \\boxed{{{a + b}}}";
            lines.Add(i % 2 == 0
                ? JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = user }, new { role = "assistant", content = assistant } } })
                : JsonSerializer.Serialize(new { conversations = new[] { new { from = "human", value = user }, new { from = "gpt", value = assistant } } }));
        }
        File.WriteAllLines(path, lines);
    }

    private static string[] SftArgs(TempDir tmp, string outName, params string[] extra) =>
    [
        "sft", "-m", tmp["m"], "-d", tmp["chat.jsonl"], "-o", tmp[outName], "--steps", "4", "-b", "4", "--lr", "1e-3",
        "--eval-size", "4", "--eval-every", "2", "--max-length", "64", .. extra,
    ];

    [Fact]
    public void SftRunsResumesExactlyAndTheOutputGenerates()
    {
        using var tmp = new TempDir();
        Assert.Equal(0, HybridProcess.Run("init", tmp["m"], "--preset", "transformer-tiny").Code);
        WriteChat(tmp["chat.jsonl"], 24);

        var (c1, o1, e1) = HybridProcess.Run(SftArgs(tmp, "out", "--stop-after", "2"));
        Assert.True(c1 == 0, o1 + e1);
        Assert.True(Trainer.HasCheckpoint(tmp["out"]));
        var (c2, o2, e2) = HybridProcess.Run(SftArgs(tmp, "out", "--resume"));
        Assert.True(c2 == 0, o2 + e2);
        Assert.Contains("resumed from step 2", o2);
        var (c3, o3, e3) = HybridProcess.Run(SftArgs(tmp, "straight"));
        Assert.True(c3 == 0, o3 + e3);

        // Interrupted + resumed equals uninterrupted, step by step.
        var resumed = MetricsLog.Read(Path.Combine(tmp["out"], Trainer.MetricsFileName));
        var straight = MetricsLog.Read(Path.Combine(tmp["straight"], Trainer.MetricsFileName));
        Assert.Equal(4, resumed.Count);
        Assert.Equal(straight.Select(m => m.Loss), resumed.Select(m => m.Loss));
        Assert.Equal(straight.Select(m => m.EvalLoss), resumed.Select(m => m.EvalLoss));
        Assert.NotNull(resumed[^1].EvalLoss);

        Assert.True(File.Exists(Path.Combine(tmp["out"], "sft_config.json")));
        Assert.True(File.Exists(Path.Combine(tmp["out"], Trainer.LossPlotFileName)));
        var (m, _) = ModelDirectory.Load(tmp["out"]);
        m.Dispose();
        var (c4, o4, e4) = HybridProcess.Run("generate", "-m", tmp["out"], "--prompt", "<|im_start|>user\\nWhat is 2+3?<|im_end|>\\n<|im_start|>assistant\\n", "-n", "6");
        Assert.True(c4 == 0, o4 + e4);
        Assert.Contains("tokens, finish:", e4);
    }

    [Fact]
    public void ATemplateFileTrainsAModelWithoutOneAndTravelsWithItToChat()
    {
        using var tmp = new TempDir();
        Assert.Equal(0, HybridProcess.Run("init", tmp["m"], "--preset", "transformer-tiny", "--tokenizer", "tiktoken:r50k_base").Code);
        WriteChat(tmp["chat.jsonl"], 8);
        var (c1, _, e1) = HybridProcess.Run(SftArgs(tmp, "o1"));
        HybridProcess.AssertOneLineError(c1, e1, "--chat-template");

        const string template = "{% for m in messages %}{{ m.role }}: {{ m.content }}<|endoftext|>{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";
        File.WriteAllText(tmp["t.jinja"], template);
        var (c2, o2, e2) = HybridProcess.Run(SftArgs(tmp, "out", "--chat-template", tmp["t.jinja"], "--stop-after", "2"));
        Assert.True(c2 == 0, o2 + e2);
        Assert.Equal(template, File.ReadAllText(Path.Combine(tmp["out"], "chat_template.jinja")));

        // The fine-tuned directory chats through the template it was trained with.
        var (c3, o3, e3) = HybridProcess.RunWithInput("What is 2+3?\n/reset\nHi\n\n", "generate", "-m", tmp["out"], "-n", "4", "-t", "0");
        Assert.True(c3 == 0, o3 + e3);
        Assert.Contains($"template: {Path.Combine(tmp["out"], "chat_template.jinja")}", e3);
        Assert.StartsWith("> ", o3);
    }

    [Fact]
    public void UserMistakesGiveOneLineErrors()
    {
        using var tmp = new TempDir();
        Assert.Equal(0, HybridProcess.Run("init", tmp["m"], "--preset", "transxssm-tiny").Code);
        WriteChat(tmp["chat.jsonl"], 6);
        var (c1, o1, e1) = HybridProcess.Run(SftArgs(tmp, "o1", "--packing"));   // packed rows work for SSD stacks too
        Assert.True(c1 == 0, o1 + e1);
        Assert.Contains("packed rows", o1);
        var (c2, _, e2) = HybridProcess.Run(SftArgs(tmp, "o2", "--loss", "user"));
        HybridProcess.AssertOneLineError(c2, e2, "--loss must be assistant or all");
        var (c3, _, e3) = HybridProcess.Run(SftArgs(tmp, "o3", "--resume"));
        HybridProcess.AssertOneLineError(c3, e3, "has no checkpoint");
        File.WriteAllText(tmp["bad.jsonl"], "{\"messages\": 3}\n");
        var (c4, _, e4) = HybridProcess.Run("sft", "-m", tmp["m"], "-d", tmp["bad.jsonl"], "-o", tmp["o4"]);
        HybridProcess.AssertOneLineError(c4, e4, "line 1");
    }
}
