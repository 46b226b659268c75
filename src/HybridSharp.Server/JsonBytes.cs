using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace HybridSharp.Server;

/// <summary>Small helpers that write one compact JSON object to UTF-8 bytes.</summary>
internal static class JsonBytes
{
    // Plain UTF-8 text in strings (quotes, '<', non-ASCII): this is an API, not HTML.
    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Object(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer, Options))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>The OpenAI error object: {"error":{"message","type","param","code"}} (all four keys, null when unknown).</summary>
    public static byte[] Error(string message, string type, string? param, string? code) => Object(w =>
    {
        w.WriteStartObject("error");
        w.WriteString("message", message);
        w.WriteString("type", type);
        if (param is null) w.WriteNull("param"); else w.WriteString("param", param);
        if (code is null) w.WriteNull("code"); else w.WriteString("code", code);
        w.WriteEndObject();
    });
}
