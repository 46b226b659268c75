namespace HybridSharp.Data;

/// <summary>
/// A tokenizer as the rest of HybridSharp sees it. Implementations: <see cref="ByteTokenizer"/> (the embedded default);
/// BPE (HF tokenizer.json) and tiktoken fit behind this interface.
/// </summary>
public interface ITokenizer
{
    /// <summary>Number of ids the model's embedding must hold (including special tokens).</summary>
    int VocabSize { get; }

    int BosId { get; }
    int EosId { get; }
    int PadId { get; }

    /// <summary>Special tokens by text (e.g. "&lt;|im_end|&gt;") → id.</summary>
    IReadOnlyDictionary<string, int> SpecialTokens { get; }

    /// <summary>Encodes text; occurrences of special-token strings become their single ids.</summary>
    int[] Encode(string text);

    /// <summary>
    /// Encodes a whole document the way the model sees one (Hugging Face's <c>add_special_tokens=True</c>): with
    /// <paramref name="addSpecialTokens"/>, the tokens the tokenizer frames text with (BOS for the byte and tiktoken
    /// tokenizers; the post-processor's or tokenizer_config.json's choice for HF tokenizers, possibly none).
    /// </summary>
    int[] Encode(string text, bool addSpecialTokens) => addSpecialTokens ? [BosId, .. Encode(text)] : Encode(text);

    /// <summary>Decodes ids to text. Special tokens are rendered as their text unless <paramref name="skipSpecial"/>.</summary>
    string Decode(IEnumerable<int> ids, bool skipSpecial = false);

    /// <summary>The raw UTF-8 bytes a token stands for (special tokens: their text's bytes). Used by streaming decoders.</summary>
    byte[] TokenBytes(int id);

    /// <summary>True for special (control) tokens.</summary>
    bool IsSpecial(int id);
}
