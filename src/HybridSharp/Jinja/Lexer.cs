using System.Globalization;
using System.Text;

namespace HybridSharp.Jinja;

internal enum TokenKind { Text, ExprOpen, ExprClose, BlockOpen, BlockClose, Name, String, Integer, Float, Operator, End }

internal readonly record struct Token(TokenKind Kind, string Value, int Line);

/// <summary>
/// Splits template source into text and tag tokens with Jinja's whitespace rules as transformers configures them:
/// <c>trim_blocks</c> (the first newline after a block or comment tag is dropped), <c>lstrip_blocks</c> (spaces and
/// tabs before a block or comment tag at the start of a line are dropped), <c>-</c> / <c>+</c> modifiers on tags,
/// <c>\r\n</c> and <c>\r</c> read as <c>\n</c> and one trailing newline removed.
/// </summary>
internal static class Lexer
{
    private static readonly string[] Operators =
        ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|"];

    public static List<Token> Tokenize(string source)
    {
        source = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (source.EndsWith('\n')) source = source[..^1];
        var tokens = new List<Token>();
        int pos = 0, line = 1;
        bool trimNextText = false, trimNextNewline = false;
        while (pos < source.Length)
        {
            int open = FindTagOpen(source, pos);
            string text = source[pos..(open < 0 ? source.Length : open)];
            if (trimNextText) text = text.TrimStart();
            else if (trimNextNewline && text.StartsWith('\n')) text = text[1..];
            trimNextText = trimNextNewline = false;
            if (open < 0)
            {
                AddText(tokens, text, line);
                break;
            }
            char kind = source[open + 1];
            char modifier = open + 2 < source.Length ? source[open + 2] : '\0';
            if (modifier == '-') text = text.TrimEnd();
            else if (kind != '{' && modifier != '+') text = LStripBlock(text, source, open);
            int textLine = line;
            line += Count(source, pos, open);
            AddText(tokens, text, textLine);
            int bodyStart = open + 2 + (modifier is '-' or '+' ? 1 : 0);

            if (kind == '#')
            {
                int close = source.IndexOf("#}", bodyStart, StringComparison.Ordinal);
                if (close < 0) throw new TemplateException("unclosed comment", line);
                bool minus = source[close - 1] == '-' && close - 1 >= bodyStart;
                line += Count(source, open, close + 2);
                pos = close + 2;
                trimNextText = minus;
                trimNextNewline = !minus && !(close - 1 >= bodyStart && source[close - 1] == '+');
                continue;
            }
            if (kind == '%' && IsRawTag(source, bodyStart, out int rawBodyStart))
            {
                int endRaw = FindEndRaw(source, rawBodyStart, out int endRawClose, out bool endMinusBefore, out bool endMinusAfter);
                if (endRaw < 0) throw new TemplateException("unclosed raw block", line);
                var raw = source[rawBodyStart..endRaw];
                if (rawBodyStart > 0 && source[rawBodyStart - 3] == '-') raw = raw.TrimStart();
                else if (raw.StartsWith('\n')) raw = raw[1..];
                if (endMinusBefore) raw = raw.TrimEnd();
                AddText(tokens, raw, line);
                line += Count(source, open, endRawClose);
                pos = endRawClose;
                trimNextText = endMinusAfter;
                trimNextNewline = !endMinusAfter;
                continue;
            }
            tokens.Add(new Token(kind == '{' ? TokenKind.ExprOpen : TokenKind.BlockOpen, "", line));
            string closer = kind == '{' ? "}}" : "%}";
            pos = LexTag(source, bodyStart, closer, tokens, ref line, out bool closeMinus, out bool closePlus);
            tokens.Add(new Token(kind == '{' ? TokenKind.ExprClose : TokenKind.BlockClose, "", line));
            trimNextText = closeMinus;
            trimNextNewline = kind == '%' && !closeMinus && !closePlus;
        }
        tokens.Add(new Token(TokenKind.End, "", line));
        return tokens;
    }

    private static int FindTagOpen(string s, int from)
    {
        for (int i = s.IndexOf('{', from); i >= 0 && i + 1 < s.Length; i = s.IndexOf('{', i + 1))
            if (s[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    private static void AddText(List<Token> tokens, string text, int line)
    {
        if (text.Length > 0) tokens.Add(new Token(TokenKind.Text, text, line));
    }

    private static int Count(string s, int from, int to)
    {
        int n = 0;
        for (int i = from; i < to && i < s.Length; i++) if (s[i] == '\n') n++;
        return n;
    }

    /// <summary>lstrip_blocks: drop spaces and tabs between the start of the line and the tag.</summary>
    private static string LStripBlock(string text, string source, int open)
    {
        int i = text.Length;
        while (i > 0 && text[i - 1] is ' ' or '\t') i--;
        bool lineStart = i > 0 ? text[i - 1] == '\n' : (open - (text.Length - i) == 0 || source[open - (text.Length - i) - 1] == '\n');
        return lineStart ? text[..i] : text;
    }

    private static bool IsRawTag(string s, int bodyStart, out int rawBodyStart)
    {
        rawBodyStart = -1;
        int i = bodyStart;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        if (string.CompareOrdinal(s, i, "raw", 0, 3) != 0) return false;
        i += 3;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        if (i < s.Length && s[i] == '-') i++;
        if (string.CompareOrdinal(s, i, "%}", 0, 2) != 0) return false;
        rawBodyStart = i + 2;
        return true;
    }

    private static int FindEndRaw(string s, int from, out int closeEnd, out bool minusBefore, out bool minusAfter)
    {
        closeEnd = -1;
        minusBefore = minusAfter = false;
        for (int i = s.IndexOf("{%", from, StringComparison.Ordinal); i >= 0; i = s.IndexOf("{%", i + 2, StringComparison.Ordinal))
        {
            int j = i + 2;
            bool mb = j < s.Length && s[j] == '-';
            if (mb || (j < s.Length && s[j] == '+')) j++;
            while (j < s.Length && char.IsWhiteSpace(s[j])) j++;
            if (string.CompareOrdinal(s, j, "endraw", 0, 6) != 0) continue;
            j += 6;
            while (j < s.Length && char.IsWhiteSpace(s[j])) j++;
            bool ma = j < s.Length && s[j] == '-';
            if (ma) j++;
            if (string.CompareOrdinal(s, j, "%}", 0, 2) != 0) continue;
            closeEnd = j + 2;
            minusBefore = mb;
            minusAfter = ma;
            return i;
        }
        return -1;
    }

    private static int LexTag(string s, int pos, string closer, List<Token> tokens, ref int line, out bool closeMinus, out bool closePlus)
    {
        int depth = 0;
        while (true)
        {
            while (pos < s.Length && char.IsWhiteSpace(s[pos]))
            {
                if (s[pos] == '\n') line++;
                pos++;
            }
            if (pos >= s.Length) throw new TemplateException($"unclosed tag (expected '{closer}')", line);
            if (depth == 0)
            {
                if (string.CompareOrdinal(s, pos, closer, 0, 2) == 0)
                {
                    closeMinus = closePlus = false;
                    return pos + 2;
                }
                if (s[pos] is '-' or '+' && string.CompareOrdinal(s, pos + 1, closer, 0, 2) == 0)
                {
                    closeMinus = s[pos] == '-';
                    closePlus = s[pos] == '+';
                    return pos + 3;
                }
            }
            char c = s[pos];
            if (c is '"' or '\'')
            {
                var (value, end) = ReadString(s, pos, line);
                line += Count(s, pos, end);
                tokens.Add(new Token(TokenKind.String, value, line));
                pos = end;
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                int start = pos;
                while (pos < s.Length && (char.IsAsciiDigit(s[pos]) || s[pos] == '_')) pos++;
                bool isFloat = false;
                if (pos + 1 < s.Length && s[pos] == '.' && char.IsAsciiDigit(s[pos + 1]))
                {
                    isFloat = true;
                    pos++;
                    while (pos < s.Length && (char.IsAsciiDigit(s[pos]) || s[pos] == '_')) pos++;
                }
                if (pos < s.Length && s[pos] is 'e' or 'E')
                {
                    int save = pos++;
                    if (pos < s.Length && s[pos] is '+' or '-') pos++;
                    if (pos < s.Length && char.IsAsciiDigit(s[pos]))
                    {
                        isFloat = true;
                        while (pos < s.Length && char.IsAsciiDigit(s[pos])) pos++;
                    }
                    else pos = save;
                }
                tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, s[start..pos].Replace("_", ""), line));
                continue;
            }
            if (char.IsLetter(c) || c == '_')
            {
                int start = pos;
                while (pos < s.Length && (char.IsLetterOrDigit(s[pos]) || s[pos] == '_')) pos++;
                tokens.Add(new Token(TokenKind.Name, s[start..pos], line));
                continue;
            }
            string? op = null;
            foreach (var o in Operators)
                if (string.CompareOrdinal(s, pos, o, 0, o.Length) == 0) { op = o; break; }
            if (op is null) throw new TemplateException($"unexpected character '{c}'", line);
            if (op is "(" or "[" or "{") depth++;
            if (op is ")" or "]" or "}") depth = Math.Max(0, depth - 1);
            tokens.Add(new Token(TokenKind.Operator, op, line));
            pos += op.Length;
        }
    }

    private static (string Value, int End) ReadString(string s, int pos, int line)
    {
        char quote = s[pos];
        var sb = new StringBuilder();
        int i = pos + 1;
        while (i < s.Length && s[i] != quote)
        {
            if (s[i] == '\\' && i + 1 < s.Length)
            {
                char e = s[i + 1];
                i += 2;
                switch (e)
                {
                    case 'n': sb.Append('\n'); break;
                    case 't': sb.Append('\t'); break;
                    case 'r': sb.Append('\r'); break;
                    case '0': sb.Append('\0'); break;
                    case 'a': sb.Append('\a'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'v': sb.Append('\v'); break;
                    case '\\': sb.Append('\\'); break;
                    case '\'': sb.Append('\''); break;
                    case '"': sb.Append('"'); break;
                    case '\n': break;
                    case 'x' when i + 2 <= s.Length:
                        sb.Append((char)int.Parse(s.AsSpan(i, 2), NumberStyles.HexNumber));
                        i += 2;
                        break;
                    case 'u' when i + 4 <= s.Length:
                        sb.Append((char)int.Parse(s.AsSpan(i, 4), NumberStyles.HexNumber));
                        i += 4;
                        break;
                    case 'U' when i + 8 <= s.Length:
                        sb.Append(char.ConvertFromUtf32(int.Parse(s.AsSpan(i, 8), NumberStyles.HexNumber)));
                        i += 8;
                        break;
                    default: sb.Append('\\').Append(e); break;
                }
                continue;
            }
            sb.Append(s[i++]);
        }
        if (i >= s.Length) throw new TemplateException("unterminated string literal", line);
        return (sb.ToString(), i + 1);
    }
}
