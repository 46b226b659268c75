namespace HybridSharp.Server;

/// <summary>
/// A request failure that becomes an OpenAI-shaped error body <c>{"error":{"message","type","param","code"}}</c>
/// with <see cref="Status"/>.
/// </summary>
public sealed class ApiException(int status, string message, string type = ApiException.InvalidRequest, string? param = null, string? code = null)
    : Exception(message)
{
    public const string InvalidRequest = "invalid_request_error";
    public const string Authentication = "authentication_error";
    public const string RateLimit = "rate_limit_error";
    public const string Server = "server_error";

    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static ApiException BadRequest(string message, string? param = null, string? code = null) => new(400, message, InvalidRequest, param, code);
}
