using System.Globalization;

namespace HybridSharp.Jinja;

/// <summary>Parses lexer tokens into statements and expressions with Jinja's precedence.</summary>
internal sealed class Parser(List<Token> tokens)
{
    private int _pos;

    public List<Node> ParseTemplate()
    {
        var body = ParseBody(out var end);
        if (end is not null) throw new TemplateException($"unexpected '{end}'", Peek.Line);
        return body;
    }

    private Token Peek => tokens[_pos];

    private Token Next() => tokens[_pos++];

    private bool AtOperator(string op) => Peek.Kind == TokenKind.Operator && Peek.Value == op;

    private bool AtName(string name) => Peek.Kind == TokenKind.Name && Peek.Value == name;

    private void Expect(string op)
    {
        if (!AtOperator(op)) throw new TemplateException($"expected '{op}', found {Describe(Peek)}", Peek.Line);
        _pos++;
    }

    private void ExpectName(string name)
    {
        if (!AtName(name)) throw new TemplateException($"expected '{name}', found {Describe(Peek)}", Peek.Line);
        _pos++;
    }

    private string ExpectIdentifier()
    {
        if (Peek.Kind != TokenKind.Name) throw new TemplateException($"expected a name, found {Describe(Peek)}", Peek.Line);
        return Next().Value;
    }

    private void ExpectBlockClose()
    {
        if (Peek.Kind != TokenKind.BlockClose) throw new TemplateException($"expected end of statement, found {Describe(Peek)}", Peek.Line);
        _pos++;
    }

    private static string Describe(Token t) => t.Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.BlockClose => "'%}'",
        TokenKind.ExprClose => "'}}'",
        TokenKind.String => $"string '{t.Value}'",
        _ => $"'{t.Value}'",
    };

    private static readonly HashSet<string> EndKeywords =
        ["endif", "elif", "else", "endfor", "endset", "endmacro", "endcall", "endfilter", "endgeneration", "endraw"];

    /// <summary>Parses statements until an end keyword (returned in <paramref name="end"/>, token left after its name) or the end.</summary>
    private List<Node> ParseBody(out string? end)
    {
        var nodes = new List<Node>();
        while (true)
        {
            var t = Peek;
            switch (t.Kind)
            {
                case TokenKind.End:
                    end = null;
                    return nodes;
                case TokenKind.Text:
                    _pos++;
                    nodes.Add(new TextNode(t.Value, t.Line));
                    break;
                case TokenKind.ExprOpen:
                    _pos++;
                    var e = ParseExpression();
                    if (Peek.Kind != TokenKind.ExprClose) throw new TemplateException($"expected '}}}}', found {Describe(Peek)}", Peek.Line);
                    _pos++;
                    nodes.Add(new OutputNode(e, t.Line));
                    break;
                case TokenKind.BlockOpen:
                    _pos++;
                    if (Peek.Kind == TokenKind.Name && EndKeywords.Contains(Peek.Value))
                    {
                        end = Next().Value;
                        return nodes;
                    }
                    nodes.Add(ParseStatement());
                    break;
                default:
                    throw new TemplateException($"unexpected {Describe(t)}", t.Line);
            }
        }
    }

    private List<Node> ParseUntil(string what, params string[] ends)
    {
        int line = Peek.Line;
        var body = ParseBody(out var end);
        if (end is null || !ends.Contains(end))
            throw new TemplateException($"'{what}' is not closed (expected {string.Join(" or ", ends.Select(x => $"'{x}'"))}, found {(end is null ? "end of template" : $"'{end}'")})", line);
        _pos--; // leave the end keyword for the caller
        return body;
    }

    private Node ParseStatement()
    {
        var t = Peek;
        if (t.Kind != TokenKind.Name) throw new TemplateException($"expected a statement, found {Describe(t)}", t.Line);
        _pos++;
        switch (t.Value)
        {
            case "if": return ParseIf(t.Line);
            case "for": return ParseFor(t.Line);
            case "set": return ParseSet(t.Line);
            case "macro": return ParseMacro(t.Line);
            case "call": return ParseCallBlock(t.Line);
            case "filter":
            {
                var filters = new List<FilterCall> { ParseFilterCall() };
                while (AtOperator("|"))
                {
                    _pos++;
                    filters.Add(ParseFilterCall());
                }
                ExpectBlockClose();
                var body = ParseUntil("filter", "endfilter");
                ExpectName("endfilter");
                ExpectBlockClose();
                return new FilterBlockNode(filters, body, t.Line);
            }
            case "generation":
            {
                ExpectBlockClose();
                var body = ParseUntil("generation", "endgeneration");
                ExpectName("endgeneration");
                ExpectBlockClose();
                return new GenerationNode(body, t.Line);
            }
            case "break":
                ExpectBlockClose();
                return new BreakNode(t.Line);
            case "continue":
                ExpectBlockClose();
                return new ContinueNode(t.Line);
            case "do":
            {
                var e = ParseExpression();
                ExpectBlockClose();
                return new DoNode(e, t.Line);
            }
            default:
                throw new TemplateException($"unknown statement '{t.Value}'", t.Line);
        }
    }

    private Node ParseIf(int line)
    {
        var branches = new List<(Expr, List<Node>)>();
        var condition = ParseExpression();
        ExpectBlockClose();
        while (true)
        {
            var body = ParseUntil("if", "elif", "else", "endif");
            branches.Add((condition, body));
            var end = Next().Value;
            if (end == "elif")
            {
                condition = ParseExpression();
                ExpectBlockClose();
                continue;
            }
            ExpectBlockClose();
            List<Node>? elseBody = null;
            if (end == "else")
            {
                elseBody = ParseUntil("else", "endif");
                ExpectName("endif");
                ExpectBlockClose();
            }
            return new IfNode(branches, elseBody, line);
        }
    }

    private Node ParseFor(int line)
    {
        var targets = new List<string> { ExpectIdentifier() };
        while (AtOperator(","))
        {
            _pos++;
            targets.Add(ExpectIdentifier());
        }
        ExpectName("in");
        var iterable = ParseOr();
        Expr? filter = null;
        if (AtName("if"))
        {
            _pos++;
            filter = ParseOr();
        }
        if (AtName("recursive")) throw new TemplateException("recursive loops are not supported", line);
        ExpectBlockClose();
        var body = ParseUntil("for", "else", "endfor");
        var end = Next().Value;
        ExpectBlockClose();
        List<Node>? elseBody = null;
        if (end == "else")
        {
            elseBody = ParseUntil("for", "endfor");
            ExpectName("endfor");
            ExpectBlockClose();
        }
        return new ForNode(targets, iterable, filter, body, elseBody, line);
    }

    private Node ParseSet(int line)
    {
        Expr target = new NameExpr(ExpectIdentifier(), line);
        if (AtOperator("."))
        {
            _pos++;
            target = new AttributeExpr(target, ExpectIdentifier(), line);
        }
        else if (AtOperator(","))
        {
            var names = new List<Expr> { target };
            while (AtOperator(","))
            {
                _pos++;
                names.Add(new NameExpr(ExpectIdentifier(), line));
            }
            target = new TupleExpr(names, line);
        }
        if (AtOperator("="))
        {
            _pos++;
            var value = ParseTupleOrExpression();
            ExpectBlockClose();
            return new SetNode(target, value, line);
        }
        string? filter = null;
        if (AtOperator("|"))
        {
            _pos++;
            filter = ExpectIdentifier();
        }
        ExpectBlockClose();
        var body = ParseUntil("set", "endset");
        ExpectName("endset");
        ExpectBlockClose();
        return new SetBlockNode(target, body, filter, line);
    }

    private List<(string, Expr?)> ParseParameters()
    {
        var parameters = new List<(string, Expr?)>();
        Expect("(");
        while (!AtOperator(")"))
        {
            var name = ExpectIdentifier();
            Expr? def = null;
            if (AtOperator("="))
            {
                _pos++;
                def = ParseExpression();
            }
            parameters.Add((name, def));
            if (!AtOperator(",")) break;
            _pos++;
        }
        Expect(")");
        return parameters;
    }

    private Node ParseMacro(int line)
    {
        var name = ExpectIdentifier();
        var parameters = ParseParameters();
        ExpectBlockClose();
        var body = ParseUntil("macro", "endmacro");
        ExpectName("endmacro");
        ExpectBlockClose();
        return new MacroNode(name, parameters, body, line);
    }

    private Node ParseCallBlock(int line)
    {
        var callerParameters = AtOperator("(") ? ParseParameters() : [];
        var call = ParseExpression();
        if (call is not CallExpr) throw new TemplateException("'call' needs a macro call", line);
        ExpectBlockClose();
        var body = ParseUntil("call", "endcall");
        ExpectName("endcall");
        ExpectBlockClose();
        return new CallBlockNode(call, callerParameters, body, line);
    }

    private Expr ParseTupleOrExpression()
    {
        int line = Peek.Line;
        var first = ParseExpression();
        if (!AtOperator(",")) return first;
        var items = new List<Expr> { first };
        while (AtOperator(","))
        {
            _pos++;
            if (Peek.Kind is TokenKind.BlockClose or TokenKind.ExprClose) break;
            items.Add(ParseExpression());
        }
        return new TupleExpr(items, line);
    }

    public Expr ParseExpression()
    {
        int line = Peek.Line;
        var e = ParseOr();
        while (AtName("if"))
        {
            _pos++;
            var condition = ParseOr();
            Expr? otherwise = null;
            if (AtName("else"))
            {
                _pos++;
                otherwise = ParseExpression();
            }
            e = new ConditionalExpr(condition, e, otherwise, line);
        }
        return e;
    }

    private Expr ParseOr()
    {
        var e = ParseAnd();
        while (AtName("or"))
        {
            int line = Next().Line;
            e = new BinaryExpr("or", e, ParseAnd(), line);
        }
        return e;
    }

    private Expr ParseAnd()
    {
        var e = ParseNot();
        while (AtName("and"))
        {
            int line = Next().Line;
            e = new BinaryExpr("and", e, ParseNot(), line);
        }
        return e;
    }

    private Expr ParseNot()
    {
        if (AtName("not"))
        {
            int line = Next().Line;
            return new UnaryExpr("not", ParseNot(), line);
        }
        return ParseCompare();
    }

    private Expr ParseCompare()
    {
        int line = Peek.Line;
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Peek.Kind == TokenKind.Operator && Peek.Value is "==" or "!=" or "<" or "<=" or ">" or ">=")
            {
                var op = Next().Value;
                rest.Add((op, ParseMath1()));
            }
            else if (AtName("in"))
            {
                _pos++;
                rest.Add(("in", ParseMath1()));
            }
            else if (AtName("not") && tokens[_pos + 1].Kind == TokenKind.Name && tokens[_pos + 1].Value == "in")
            {
                _pos += 2;
                rest.Add(("notin", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, line);
    }

    private Expr ParseMath1()
    {
        var e = ParseConcat();
        while (Peek.Kind == TokenKind.Operator && Peek.Value is "+" or "-")
        {
            var t = Next();
            e = new BinaryExpr(t.Value, e, ParseConcat(), t.Line);
        }
        return e;
    }

    private Expr ParseConcat()
    {
        var e = ParseMath2();
        while (AtOperator("~"))
        {
            var t = Next();
            e = new BinaryExpr("~", e, ParseMath2(), t.Line);
        }
        return e;
    }

    private Expr ParseMath2()
    {
        var e = ParsePow();
        while (Peek.Kind == TokenKind.Operator && Peek.Value is "*" or "/" or "//" or "%")
        {
            var t = Next();
            e = new BinaryExpr(t.Value, e, ParsePow(), t.Line);
        }
        return e;
    }

    private Expr ParsePow()
    {
        var e = ParseUnary(withFilter: true);
        while (AtOperator("**"))
        {
            var t = Next();
            e = new BinaryExpr("**", e, ParseUnary(withFilter: true), t.Line);
        }
        return e;
    }

    private Expr ParseUnary(bool withFilter)
    {
        Expr e;
        if (Peek.Kind == TokenKind.Operator && Peek.Value is "-" or "+")
        {
            var t = Next();
            e = new UnaryExpr(t.Value, ParseUnary(withFilter: false), t.Line);
        }
        else e = ParsePostfix(ParsePrimary());
        return withFilter ? ParseFilters(e) : e;
    }

    private Expr ParseFilters(Expr e)
    {
        while (true)
        {
            if (AtOperator("|"))
            {
                int line = Next().Line;
                e = ParsePostfix(new FilterExpr(e, ParseFilterCall(), line));
            }
            else if (AtName("is"))
            {
                int line = Next().Line;
                bool negated = false;
                if (AtName("not"))
                {
                    _pos++;
                    negated = true;
                }
                var name = ExpectIdentifier();
                var args = new List<Expr>();
                if (AtOperator("("))
                {
                    var (a, _) = ParseArguments();
                    args = a;
                }
                else if (Peek.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float
                         || (Peek.Kind == TokenKind.Name && Peek.Value is not ("and" or "or" or "else" or "if" or "in" or "not" or "is")))
                    args.Add(ParsePostfix(ParsePrimary()));
                e = new TestExpr(e, name, args, negated, line);
            }
            else return e;
        }
    }

    private FilterCall ParseFilterCall()
    {
        var name = ExpectIdentifier();
        while (AtOperator("."))
        {
            _pos++;
            name += "." + ExpectIdentifier();
        }
        if (!AtOperator("(")) return new FilterCall(name, [], []);
        var (args, kwargs) = ParseArguments();
        return new FilterCall(name, args, kwargs);
    }

    private (List<Expr>, List<(string, Expr)>) ParseArguments()
    {
        Expect("(");
        var args = new List<Expr>();
        var kwargs = new List<(string, Expr)>();
        while (!AtOperator(")"))
        {
            if (Peek.Kind == TokenKind.Name && tokens[_pos + 1].Kind == TokenKind.Operator && tokens[_pos + 1].Value == "=")
            {
                var name = Next().Value;
                _pos++;
                kwargs.Add((name, ParseExpression()));
            }
            else args.Add(ParseExpression());
            if (!AtOperator(",")) break;
            _pos++;
        }
        Expect(")");
        return (args, kwargs);
    }

    private Expr ParsePostfix(Expr e)
    {
        while (true)
        {
            var t = Peek;
            if (AtOperator("."))
            {
                _pos++;
                if (Peek.Kind == TokenKind.Integer) e = new IndexExpr(e, new LiteralExpr(long.Parse(Next().Value, CultureInfo.InvariantCulture), t.Line), t.Line);
                else e = new AttributeExpr(e, ExpectIdentifier(), t.Line);
            }
            else if (AtOperator("["))
            {
                _pos++;
                Expr? start = null, stop = null, step = null;
                bool slice = false;
                if (!AtOperator(":")) start = ParseExpression();
                if (AtOperator(":"))
                {
                    slice = true;
                    _pos++;
                    if (!AtOperator(":") && !AtOperator("]")) stop = ParseExpression();
                    if (AtOperator(":"))
                    {
                        _pos++;
                        if (!AtOperator("]")) step = ParseExpression();
                    }
                }
                Expect("]");
                e = slice ? new SliceExpr(e, start, stop, step, t.Line) : new IndexExpr(e, start!, t.Line);
            }
            else if (AtOperator("("))
            {
                var (args, kwargs) = ParseArguments();
                e = new CallExpr(e, args, kwargs, t.Line);
            }
            else return e;
        }
    }

    private Expr ParsePrimary()
    {
        var t = Next();
        switch (t.Kind)
        {
            case TokenKind.String:
            {
                var s = t.Value;
                while (Peek.Kind == TokenKind.String) s += Next().Value; // adjacent literals concatenate
                return new LiteralExpr(s, t.Line);
            }
            case TokenKind.Integer:
                return new LiteralExpr(long.Parse(t.Value, CultureInfo.InvariantCulture), t.Line);
            case TokenKind.Float:
                return new LiteralExpr(double.Parse(t.Value, CultureInfo.InvariantCulture), t.Line);
            case TokenKind.Name:
                return t.Value switch
                {
                    "true" or "True" => new LiteralExpr(true, t.Line),
                    "false" or "False" => new LiteralExpr(false, t.Line),
                    "none" or "None" => new LiteralExpr(null, t.Line),
                    _ => new NameExpr(t.Value, t.Line),
                };
            case TokenKind.Operator when t.Value == "(":
            {
                if (AtOperator(")"))
                {
                    _pos++;
                    return new TupleExpr([], t.Line);
                }
                var first = ParseExpression();
                if (AtOperator(")"))
                {
                    _pos++;
                    return first;
                }
                var items = new List<Expr> { first };
                while (AtOperator(","))
                {
                    _pos++;
                    if (AtOperator(")")) break;
                    items.Add(ParseExpression());
                }
                Expect(")");
                return new TupleExpr(items, t.Line);
            }
            case TokenKind.Operator when t.Value == "[":
            {
                var items = new List<Expr>();
                while (!AtOperator("]"))
                {
                    items.Add(ParseExpression());
                    if (!AtOperator(",")) break;
                    _pos++;
                }
                Expect("]");
                return new ListExpr(items, t.Line);
            }
            case TokenKind.Operator when t.Value == "{":
            {
                var items = new List<(Expr, Expr)>();
                while (!AtOperator("}"))
                {
                    var key = ParseExpression();
                    Expect(":");
                    items.Add((key, ParseExpression()));
                    if (!AtOperator(",")) break;
                    _pos++;
                }
                Expect("}");
                return new DictExpr(items, t.Line);
            }
            default:
                throw new TemplateException($"unexpected {Describe(t)}", t.Line);
        }
    }
}
