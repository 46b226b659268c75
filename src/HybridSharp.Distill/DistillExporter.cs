using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridSharp.Chat;
using HybridSharp.IO;
using Parquet.Serialization;

namespace HybridSharp.Distill;

/// <summary>Files written by <see cref="DistillExporter.Export"/>.</summary>
public sealed record ExportResult(IReadOnlyList<string> Files, int Rows, IReadOnlyList<string> Warnings);

/// <summary>
/// Exports accepted rows, each once, in input order, every file written to a temp name and renamed:
/// <c>sft.jsonl</c> (TRL <c>messages</c> + <c>problem</c>/<c>solution</c>; with a student format also <c>text</c> and
/// <c>tokens</c>), <c>sft.parquet</c> (same columns, messages as a list of role/content structs), <c>sharegpt.jsonl</c> + <c>dataset_info.json</c> (LLaMA-Factory),
/// <c>full.jsonl</c> (every field: long CoT, difficulty, teacher, prompt version and hashes, usage, finish reason,
/// validators) and <c>rejected.jsonl</c> (rejected and failed rows with their reasons).
/// </summary>
public static class DistillExporter
{
    public static ExportResult Export(IReadOnlyList<DistillRow> rows, string directory, ExportOptions options)
    {
        Directory.CreateDirectory(directory);
        var accepted = rows.Where(r => r.Status == DistillRow.Accepted).OrderBy(r => r.Index).ThenBy(r => r.Id, StringComparer.Ordinal).ToList();
        var files = new List<string>();
        var warnings = new List<string>();
        string? System(DistillRow r) => options.UseGenerationPrompt ? r.SystemPrompt : options.SftSystemPrompt;
        if (accepted.Count > 0 && !options.UseGenerationPrompt)
            warnings.Add(options.SftSystemPrompt is null
                ? "SFT exports carry no system prompt, while the data was generated with the DAP system prompt (LiteCoT's trainer also replaces it)"
                : "the SFT system prompt differs from the generation (DAP) prompt");

        string sft = Path.Combine(directory, "sft.jsonl");
        IReadOnlyList<ChatMessage> Conversation(DistillRow r) =>
            [.. System(r) is { } s ? new[] { ChatMessage.FromSystem(s) } : [], ChatMessage.FromUser(r.Problem), ChatMessage.FromAssistant(r.Content)];
        var rendered = options.Student is { } student ? accepted.Select(r => student.Render(Conversation(r))).ToList() : null;
        WriteLines(sft, accepted.Select((r, i) =>
        {
            var row = new JsonObject { ["id"] = r.Id, ["messages"] = ChatMessage.ToJson(Conversation(r)), ["problem"] = r.Problem, ["solution"] = r.Solution };
            if (rendered is not null)
            {
                row["text"] = rendered[i].Text;
                row["tokens"] = rendered[i].Tokens;
            }
            return row;
        }));
        files.Add(sft);

        string share = Path.Combine(directory, "sharegpt.jsonl");
        WriteLines(share, accepted.Select(r =>
        {
            var o = new JsonObject
            {
                ["conversations"] = new JsonArray(
                    new JsonObject { ["from"] = "human", ["value"] = r.Problem },
                    new JsonObject { ["from"] = "gpt", ["value"] = r.Content }),
            };
            if (System(r) is { } s) o["system"] = s;
            return o;
        }));
        files.Add(share);

        string info = Path.Combine(directory, "dataset_info.json");
        var infoJson = new JsonObject
        {
            [options.DatasetName] = new JsonObject
            {
                ["file_name"] = "sharegpt.jsonl",
                ["formatting"] = "sharegpt",
                ["columns"] = new JsonObject { ["messages"] = "conversations", ["system"] = "system" },
                ["tags"] = new JsonObject { ["role_tag"] = "from", ["content_tag"] = "value", ["user_tag"] = "human", ["assistant_tag"] = "gpt" },
            },
        };
        AtomicFile.WriteAllText(info, infoJson.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        files.Add(info);

        string full = Path.Combine(directory, "full.jsonl");
        WriteLines(full, accepted.Select(r => JsonSerializer.SerializeToNode(r, DistillRow.Json)!));
        files.Add(full);

        string rejected = Path.Combine(directory, "rejected.jsonl");
        WriteLines(rejected, rows.Where(r => r.Status != DistillRow.Accepted).OrderBy(r => r.Index)
            .Select(r => (JsonNode)new JsonObject
            {
                ["id"] = r.Id, ["status"] = r.Status,
                ["rejections"] = JsonSerializer.SerializeToNode(r.Rejections, DistillRow.Json),
                ["difficulty"] = r.Difficulty, ["problem"] = r.Problem, ["content"] = r.Content,
            }));
        files.Add(rejected);

        if (options.Parquet)
        {
            string pq = Path.Combine(directory, "sft.parquet");
            var records = accepted.Select((r, i) => new SftParquetRow
            {
                Id = r.Id, Problem = r.Problem, Solution = r.Solution, Difficulty = r.Difficulty, Text = rendered?[i].Text,
                Messages = [.. (System(r) is { } s ? new[] { new SftMessage { Role = "system", Content = s } } : []),
                    new SftMessage { Role = "user", Content = r.Problem }, new SftMessage { Role = "assistant", Content = r.Content }],
            }).ToList();
            AtomicFile.Write(pq, stream => ParquetSerializer.SerializeAsync(records, stream).GetAwaiter().GetResult());
            files.Add(pq);
        }
        return new ExportResult(files, accepted.Count, warnings);
    }

    private static void WriteLines(string path, IEnumerable<JsonNode> lines) => AtomicFile.Write(path, stream =>
    {
        using var w = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
        var opts = DistillRow.Json;
        foreach (var line in lines) w.WriteLine(line.ToJsonString(opts));
    });
}

/// <summary>A row of <c>sft.parquet</c>.</summary>
public sealed class SftParquetRow
{
    [System.Text.Json.Serialization.JsonPropertyName("id")] public string Id { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("messages")] public List<SftMessage> Messages { get; set; } = [];
    [System.Text.Json.Serialization.JsonPropertyName("problem")] public string Problem { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("solution")] public string Solution { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("difficulty")] public string Difficulty { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("text")] public string? Text { get; set; }
}

/// <summary>One chat message in <c>sft.parquet</c>.</summary>
public sealed class SftMessage
{
    [System.Text.Json.Serialization.JsonPropertyName("role")] public string Role { get; set; } = "";
    [System.Text.Json.Serialization.JsonPropertyName("content")] public string Content { get; set; } = "";
}
