using System.CommandLine;
using System.Text.Json;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Data.Tokenizers;

namespace HybridSharp.Cli.Commands;

/// <summary><c>hybrid tokenize</c>: token ids, decoded text and rendered chat prompts of any model or HF tokenizer directory.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = Cli.OptNoDefault<string?>("--model", "a model directory or any HF tokenizer directory (tokenizer.json + tokenizer_config.json)", "-m");
        var text = Cli.OptNoDefault<string?>("--text", "text to encode");
        var file = Cli.OptNoDefault<string?>("--file", "file whose text to encode (UTF-8)");
        var chat = Cli.OptNoDefault<string?>("--chat", "JSON file: {\"messages\": [...], \"tools\": [...]} or a list of messages; prints the rendered prompt");
        var decode = Cli.OptNoDefault<string?>("--decode", "space-separated ids to decode, e.g. \"1 2 3\"");
        var json = Cli.Opt("--json", "print JSON ({\"ids\", \"tokens\"} for text; {\"text\", \"ids\"} for --chat)", false);
        var special = Cli.Opt("--add-special-tokens", "frame the text with the tokenizer's special tokens (BOS/EOS), as HF's add_special_tokens=True", false);
        var generation = Cli.Opt("--add-generation-prompt", "with --chat: end with the assistant header", false);
        var chatOptions = new ChatOptions();
        var cmd = new Command("tokenize", "Encode text, decode ids or render a chat prompt with a model's tokenizer and chat template.")
            { model, text, file, chat, decode, json, special, generation };
        foreach (var o in chatOptions.All) cmd.Options.Add(o);
        cmd.SetAction(pr => Cli.Guard(() =>
        {
            var dir = pr.GetValue(model) ?? throw new ArgumentException("--model DIR is required");
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"model directory not found: {dir}");
            var inputs = new[] { pr.GetValue(text) is not null, pr.GetValue(file) is not null, pr.GetValue(chat) is not null, pr.GetValue(decode) is not null };
            if (inputs.Count(x => x) != 1) throw new ArgumentException("give exactly one of --text, --file, --chat or --decode");
            if (TokenizerKinds.Detect(dir) is null) throw new FileNotFoundException($"no tokenizer in {dir} (expected tokenizer.json or a HybridSharp tokenizer_config.json)");
            var tokenizer = TokenizerFactory.Load(dir);
            bool asJson = pr.GetValue(json);

            if (pr.GetValue(decode) is { } idText)
            {
                var ids = ParseIds(idText, tokenizer.VocabSize);
                Console.Out.Write(asJson ? JsonSerializer.Serialize(new { text = tokenizer.Decode(ids) }) + "\n" : tokenizer.Decode(ids) + "\n");
                return 0;
            }
            if (pr.GetValue(chat) is { } chatFile)
            {
                if (!File.Exists(chatFile)) throw new FileNotFoundException($"chat file not found: {chatFile}", chatFile);
                var (messages, tools) = ChatTemplate.ReadConversation(File.ReadAllText(chatFile), chatFile);
                var extra = chatOptions.TemplateKwargs(pr);
                var prompt = chatOptions.Template(pr, tokenizer, dir).Render(messages, tools, pr.GetValue(generation), extra);
                if (asJson) Console.Out.Write(JsonSerializer.Serialize(new { text = prompt, ids = tokenizer.Encode(prompt) }) + "\n");
                else Console.Out.Write(prompt);
                return 0;
            }
            string input;
            if (pr.GetValue(file) is { } path)
            {
                if (!File.Exists(path)) throw new FileNotFoundException($"file not found: {path}", path);
                input = File.ReadAllText(path);
            }
            else input = pr.GetValue(text)!;
            var encoded = tokenizer.Encode(input, pr.GetValue(special));
            if (asJson)
            {
                var tokens = encoded.Select(id => tokenizer is HfBpeTokenizer hf ? hf.IdToToken(id) : tokenizer.Decode([id])).ToArray();
                Console.Out.Write(JsonSerializer.Serialize(new { ids = encoded, tokens }) + "\n");
            }
            else Console.Out.Write(string.Join(' ', encoded) + "\n");
            return 0;
        }, torch: false));
        return cmd;
    }

    private static int[] ParseIds(string text, int vocabSize)
    {
        var parts = text.Split([' ', ',', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], out ids[i])) throw new ArgumentException($"--decode: '{parts[i]}' is not an integer id");
            if (ids[i] < 0 || ids[i] >= vocabSize) throw new ArgumentException($"--decode: id {ids[i]} is outside the vocabulary (0..{vocabSize - 1})");
        }
        return ids;
    }
}
