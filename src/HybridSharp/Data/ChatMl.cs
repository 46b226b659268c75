namespace HybridSharp.Data;

/// <summary>
/// ChatML, the chat format of tokenizers that have <c>&lt;|im_start|&gt;</c> and <c>&lt;|im_end|&gt;</c> tokens (the byte
/// tokenizer among them), as a Jinja chat template. It opens with the BOS token where the tokenizer names one:
/// HybridSharp's own models are trained with BOS before every sequence, and chat prompts are encoded exactly as rendered.
/// </summary>
public static class ChatMl
{
    public const string Template =
        "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
}
