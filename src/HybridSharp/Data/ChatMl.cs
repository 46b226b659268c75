namespace HybridSharp.Data;

/// <summary>
/// ChatML, the chat format of tokenizers that have <c>&lt;|im_start|&gt;</c> and <c>&lt;|im_end|&gt;</c> tokens (the byte
/// tokenizer among them), as a Jinja chat template. It opens with the BOS token where the tokenizer names one:
/// HybridSharp's own models are trained with BOS before every sequence, and chat prompts are encoded exactly as rendered.
/// Tools follow the Hermes convention Qwen's templates use: the tool list in the system turn, calls as
/// <c>&lt;tool_call&gt;{"name", "arguments"}&lt;/tool_call&gt;</c>, results in a user turn inside
/// <c>&lt;tool_response&gt;</c>. Without tools the text is plain ChatML.
/// </summary>
public static class ChatMl
{
    public const string Template =
        "{{ bos_token }}" +
        "{% if tools %}{{ '<|im_start|>system\\n' }}{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] + '\\n\\n' }}{% endif %}" +
        "{{ '# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>' }}" +
        "{% for tool in tools %}{{ '\\n' + (tool | tojson) }}{% endfor %}" +
        "{{ '\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\\n</tool_call><|im_end|>\\n' }}{% endif %}" +
        "{% for message in messages %}" +
        "{% if tools and loop.first and message['role'] == 'system' %}" +
        "{% elif message['role'] == 'assistant' and message['tool_calls'] %}{{ '<|im_start|>assistant\\n' }}{% if message['content'] %}{{ message['content'] + '\\n' }}{% endif %}" +
        "{% for call in message['tool_calls'] %}{% if not loop.first %}{{ '\\n' }}{% endif %}" +
        "{{ '<tool_call>\\n{\"name\": \"' + call['function']['name'] + '\", \"arguments\": ' + (call['function']['arguments'] | tojson) + '}\\n</tool_call>' }}{% endfor %}{{ '<|im_end|>\\n' }}" +
        "{% elif message['role'] == 'tool' %}{{ '<|im_start|>user\\n<tool_response>\\n' + message['content'] + '\\n</tool_response><|im_end|>\\n' }}" +
        "{% else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endif %}" +
        "{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
}
