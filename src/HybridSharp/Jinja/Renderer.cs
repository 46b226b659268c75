using System.Text;

namespace HybridSharp.Jinja;

/// <summary>Evaluates a parsed template against variables; one instance per render.</summary>
internal sealed partial class Renderer
{
    private sealed class BreakSignal : Exception;
    private sealed class ContinueSignal : Exception;

    private readonly List<Dictionary<string, object?>> _scopes = [];
    private StringBuilder _out = new();

    public Renderer(IReadOnlyDictionary<string, object?> globals, IReadOnlyDictionary<string, object?> variables)
    {
        _scopes.Add(new Dictionary<string, object?>(globals, StringComparer.Ordinal));
        foreach (var (k, v) in variables) _scopes[0][k] = v;
        _scopes.Add(new Dictionary<string, object?>(StringComparer.Ordinal));
    }

    /// <summary>Character ranges of the output produced inside <c>{% generation %}</c> blocks.</summary>
    public List<(int Start, int End)> GenerationSpans { get; } = [];

    public string Render(List<Node> nodes)
    {
        try
        {
            RenderNodes(nodes);
        }
        catch (BreakSignal)
        {
            throw new TemplateException("'break' outside a loop", 0);
        }
        catch (ContinueSignal)
        {
            throw new TemplateException("'continue' outside a loop", 0);
        }
        return _out.ToString();
    }

    private void RenderNodes(List<Node> nodes)
    {
        foreach (var n in nodes) RenderNode(n);
    }

    private void RenderNode(Node node)
    {
        try
        {
            switch (node)
            {
                case TextNode t:
                    _out.Append(t.Text);
                    break;
                case OutputNode o:
                    _out.Append(Values.Str(Eval(o.Value)));
                    break;
                case IfNode i:
                    foreach (var (condition, body) in i.Branches)
                    {
                        if (Values.Truthy(Eval(condition)))
                        {
                            RenderNodes(body);
                            return;
                        }
                    }
                    if (i.Else is not null) RenderNodes(i.Else);
                    break;
                case ForNode f:
                    RenderFor(f);
                    break;
                case SetNode s:
                    Assign(s.Target, Eval(s.Value), s.Line);
                    break;
                case SetBlockNode sb:
                {
                    var text = Capture(sb.Body);
                    object? value = text;
                    if (sb.Filter is not null) value = ApplyFilter(sb.Filter, text, [], [], sb.Line);
                    Assign(sb.Target, value, sb.Line);
                    break;
                }
                case MacroNode m:
                    SetVariable(m.Name, new Macro(m.Name, m.Parameters, m.Body, null));
                    break;
                case CallBlockNode c:
                {
                    var call = (CallExpr)c.Call;
                    var caller = new Macro("caller", c.CallerParameters, c.Body, null);
                    var target = Eval(call.Target);
                    var args = call.Args.Select(Eval).ToList();
                    var kwargs = call.Kwargs.Select(k => (k.Name, Eval(k.Value))).ToList();
                    if (target is not Macro macro) throw new TemplateException("'call' needs a macro", c.Line);
                    _out.Append(Values.Str(macro.Invoke(this, args, kwargs, c.Line, caller)));
                    break;
                }
                case FilterBlockNode fb:
                {
                    object? value = Capture(fb.Body);
                    foreach (var f in fb.Filters)
                        value = ApplyFilter(f.Name, value, f.Args.Select(Eval).ToList(), f.Kwargs.Select(k => (k.Name, Eval(k.Value))).ToList(), fb.Line);
                    _out.Append(Values.Str(value));
                    break;
                }
                case GenerationNode g:
                {
                    int start = _out.Length;
                    RenderNodes(g.Body);
                    GenerationSpans.Add((start, _out.Length));
                    break;
                }
                case BreakNode:
                    throw new BreakSignal();
                case ContinueNode:
                    throw new ContinueSignal();
                case DoNode d:
                    Eval(d.Value);
                    break;
                default:
                    throw new TemplateException($"cannot render {node.GetType().Name}", node.Line);
            }
        }
        catch (InvalidOperationException ex)
        {
            throw new TemplateException(ex.Message, node.Line);
        }
    }

    private string Capture(List<Node> body)
    {
        var saved = _out;
        _out = new StringBuilder();
        try
        {
            RenderNodes(body);
            return _out.ToString();
        }
        finally
        {
            _out = saved;
        }
    }

    private void RenderFor(ForNode f)
    {
        var source = Values.Iterate(Eval(f.Iterable) is var it && it is null ? throw new TemplateException("'NoneType' object is not iterable", f.Line) : it);
        _scopes.Add(new Dictionary<string, object?>(StringComparer.Ordinal));
        try
        {
            List<object?> items;
            if (f.Filter is null) items = source;
            else
            {
                items = [];
                foreach (var item in source)
                {
                    BindTargets(f.Targets, item, f.Line);
                    if (Values.Truthy(Eval(f.Filter))) items.Add(item);
                }
            }
            var loop = new LoopInfo(items);
            for (int i = 0; i < items.Count; i++)
            {
                loop.Index0 = i;
                _scopes[^1]["loop"] = loop;
                BindTargets(f.Targets, items[i], f.Line);
                try
                {
                    RenderNodes(f.Body);
                }
                catch (ContinueSignal)
                {
                }
                catch (BreakSignal)
                {
                    break;
                }
            }
            if (items.Count == 0 && f.Else is not null)
            {
                _scopes[^1].Remove("loop");
                RenderNodes(f.Else);
            }
        }
        finally
        {
            _scopes.RemoveAt(_scopes.Count - 1);
        }
    }

    private void BindTargets(List<string> targets, object? item, int line)
    {
        if (targets.Count == 1)
        {
            _scopes[^1][targets[0]] = item;
            return;
        }
        var parts = Values.Iterate(item);
        if (parts.Count != targets.Count)
            throw new TemplateException($"cannot unpack {parts.Count} values into {targets.Count} names", line);
        for (int i = 0; i < targets.Count; i++) _scopes[^1][targets[i]] = parts[i];
    }

    private void Assign(Expr target, object? value, int line)
    {
        switch (target)
        {
            case NameExpr n:
                SetVariable(n.Name, value);
                break;
            case AttributeExpr { Target: NameExpr ns } a:
                if (Lookup(ns.Name) is not Namespace space)
                    throw new TemplateException($"cannot assign attribute '{a.Name}' on '{ns.Name}': only namespace() objects take attributes", line);
                space.Attributes[a.Name] = value;
                break;
            case TupleExpr t:
                var parts = Values.Iterate(value);
                if (parts.Count != t.Items.Count) throw new TemplateException($"cannot unpack {parts.Count} values into {t.Items.Count} names", line);
                for (int i = 0; i < parts.Count; i++) Assign(t.Items[i], parts[i], line);
                break;
            default:
                throw new TemplateException("cannot assign to this expression", line);
        }
    }

    private void SetVariable(string name, object? value) => _scopes[^1][name] = value;

    private object? Lookup(string name)
    {
        for (int i = _scopes.Count - 1; i >= 0; i--)
            if (_scopes[i].TryGetValue(name, out var v)) return v;
        return new Undefined($"'{name}' is undefined");
    }

    /// <summary>A macro (or the <c>caller</c> of a call block) with its parameters and body.</summary>
    private sealed class Macro(string name, List<(string Name, Expr? Default)> parameters, List<Node> body, Macro? caller) : ICallable
    {
        public object? Call(Renderer r, List<object?> args, List<(string Name, object? Value)> kwargs, int line) => Invoke(r, args, kwargs, line, caller);

        public object? Invoke(Renderer r, List<object?> args, List<(string Name, object? Value)> kwargs, int line, Macro? callerMacro)
        {
            var scope = new Dictionary<string, object?>(StringComparer.Ordinal);
            var saved = r._scopes.ToList();
            // A macro sees the template's globals and top level, its arguments and nothing of the caller's locals.
            r._scopes.RemoveRange(2, r._scopes.Count - 2);
            r._scopes.Add(scope);
            try
            {
                for (int i = 0; i < parameters.Count; i++)
                {
                    var (p, def) = parameters[i];
                    if (i < args.Count) scope[p] = args[i];
                    else if (kwargs.FirstOrDefault(k => k.Name == p) is { Name: not null } kw) scope[p] = kw.Value;
                    else scope[p] = def is null ? new Undefined($"'{p}' is undefined") : r.Eval(def);
                }
                if (args.Count > parameters.Count) scope["varargs"] = args.Skip(parameters.Count).ToList();
                if (callerMacro is not null) scope["caller"] = callerMacro;
                return r.Capture(body);
            }
            finally
            {
                r._scopes.Clear();
                r._scopes.AddRange(saved);
            }
        }

        public override string ToString() => $"<macro {name}>";
    }
}
