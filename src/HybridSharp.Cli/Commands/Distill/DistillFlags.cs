using System.CommandLine;
using HybridSharp.Data.Tokenizers;
using HybridSharp.Chat;
using HybridSharp.Data;
using HybridSharp.Distill;

namespace HybridSharp.Cli.Commands.Distill;

/// <summary>Length-statistics and cost options of <c>distill run</c> and <c>distill stats</c>.</summary>
internal sealed class ReportOptions
{
    public readonly Option<string> Tokenizer = Cli.Opt("--tokenizer", "tokenizer for length statistics: byte, hf (with --tokenizer-dir) or tiktoken:<encoding>", "tiktoken:cl100k_base");
    public readonly Option<string?> TokenizerDir = Cli.OptNoDefault<string?>("--tokenizer-dir", "folder with tokenizer.json (for --tokenizer hf)");
    public readonly Option<double?> PriceIn = Cli.OptNoDefault<double?>("--price-input", "price per 1M prompt tokens (cost estimate)");
    public readonly Option<double?> PriceOut = Cli.OptNoDefault<double?>("--price-output", "price per 1M completion tokens (cost estimate)");
    public IEnumerable<Option> All => [Tokenizer, TokenizerDir, PriceIn, PriceOut];
    public ITokenizer CreateTokenizer(ParseResult pr) => TokenizerFactory.Create(pr.GetValue(Tokenizer)!, pr.GetValue(TokenizerDir));
}

/// <summary>Export options of <c>distill run</c> and <c>distill export</c>.</summary>
internal sealed class ExportFlags
{
    public readonly Option<string?> SftSystem = Cli.OptNoDefault<string?>("--sft-system", "system prompt for SFT exports: 'generation' (the DAP prompt of each row), a text, or omit for none");
    public readonly Option<string> DatasetName = Cli.Opt("--dataset-name", "dataset name in LLaMA-Factory's dataset_info.json", "distilled");
    public readonly Option<bool> NoParquet = Cli.Opt("--no-parquet", "skip sft.parquet", false);
    public readonly Option<string?> Student = Cli.OptNoDefault<string?>("--student",
        "a student model or HF tokenizer directory: SFT rows also get \"text\" (the conversation rendered with its chat template) and \"tokens\"");
    public readonly Option<string?> StudentTemplate = Cli.OptNoDefault<string?>("--student-chat-template", "with --student: a Jinja chat template file to use instead of the student's");
    public IEnumerable<Option> All => [SftSystem, DatasetName, NoParquet, Student, StudentTemplate];
    public ExportOptions Build(ParseResult pr)
    {
        var sys = pr.GetValue(SftSystem);
        StudentFormat? student = null;
        if (pr.GetValue(Student) is { } dir)
        {
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--student: directory not found: {dir}");
            if (Data.Tokenizers.TokenizerKinds.Detect(dir) is null)
                throw new FileNotFoundException($"--student: no tokenizer in {dir} (expected tokenizer.json or a HybridSharp tokenizer_config.json)");
            var tokenizer = TokenizerFactory.Load(dir);
            student = new StudentFormat(ChatTemplate.For(tokenizer, dir, pr.GetValue(StudentTemplate)), tokenizer);
        }
        else if (pr.GetValue(StudentTemplate) is not null) throw new ArgumentException("--student-chat-template needs --student DIR");
        return new ExportOptions
        {
            Student = student,
            UseGenerationPrompt = sys == "generation",
            SftSystemPrompt = sys == "generation" ? null : sys,
            DatasetName = pr.GetValue(DatasetName)!,
            Parquet = !pr.GetValue(NoParquet),
        };
    }
}
