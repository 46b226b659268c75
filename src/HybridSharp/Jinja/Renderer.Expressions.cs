using System.Globalization;
using System.Text;

namespace HybridSharp.Jinja;

internal sealed partial class Renderer
{
    public object? Eval(Expr expr)
    {
        switch (expr)
        {
            case LiteralExpr l:
                return l.Value;
            case NameExpr n:
                return Lookup(n.Name);
            case ListExpr l:
                return l.Items.Select(Eval).ToList();
            case TupleExpr t:
                return t.Items.Select(Eval).ToList();
            case DictExpr d:
            {
                var dict = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, v) in d.Items) dict[Values.Str(Eval(k))] = Eval(v);
                return dict;
            }
            case AttributeExpr a:
                return GetAttribute(Eval(a.Target), a.Name, a.Line);
            case IndexExpr i:
                return GetItem(Eval(i.Target), Eval(i.Index), i.Line);
            case SliceExpr s:
                return Slice(Eval(s.Target), s.Start is null ? null : Eval(s.Start), s.Stop is null ? null : Eval(s.Stop), s.Step is null ? null : Eval(s.Step), s.Line);
            case CallExpr c:
            {
                var target = Eval(c.Target);
                var args = c.Args.Select(Eval).ToList();
                var kwargs = c.Kwargs.Select(k => (k.Name, Eval(k.Value))).ToList();
                if (target is ICallable callable) return callable.Call(this, args, kwargs, c.Line);
                if (target is Undefined u) throw new TemplateException(u.Hint.Contains("undefined") ? u.Hint : $"{u.Hint} is undefined", c.Line);
                throw new TemplateException($"'{Values.TypeName(target)}' object is not callable", c.Line);
            }
            case UnaryExpr u:
            {
                var v = Eval(u.Operand);
                return u.Op switch
                {
                    "not" => !Values.Truthy(v),
                    "-" => v is long l ? (object)(-l) : v is double d ? (object)(-d) : throw Error($"bad operand type for unary -: '{Values.TypeName(v)}'", u.Line),
                    _ => v is long or double ? v : throw Error($"bad operand type for unary +: '{Values.TypeName(v)}'", u.Line),
                };
            }
            case BinaryExpr b:
                return EvalBinary(b);
            case CompareExpr c:
            {
                var left = Eval(c.First);
                foreach (var (op, rightExpr) in c.Rest)
                {
                    var right = Eval(rightExpr);
                    if (!CompareOp(op, left, right, c.Line)) return false;
                    left = right;
                }
                return true;
            }
            case ConditionalExpr c:
                return Values.Truthy(Eval(c.Condition)) ? Eval(c.Then) : c.Else is null ? new Undefined("the conditional expression's else branch") : Eval(c.Else);
            case FilterExpr f:
                return ApplyFilter(f.Filter.Name, Eval(f.Target), f.Filter.Args.Select(Eval).ToList(), f.Filter.Kwargs.Select(k => (k.Name, Eval(k.Value))).ToList(), f.Line);
            case TestExpr t:
            {
                var result = ApplyTest(t.Test, Eval(t.Target), t.Args.Select(Eval).ToList(), t.Line);
                return t.Negated ? !result : result;
            }
            default:
                throw new TemplateException($"cannot evaluate {expr.GetType().Name}", expr.Line);
        }
    }

    private static TemplateException Error(string message, int line) => new(message, line);

    private object? EvalBinary(BinaryExpr b)
    {
        if (b.Op == "and")
        {
            var l = Eval(b.Left);
            return Values.Truthy(l) ? Eval(b.Right) : l;
        }
        if (b.Op == "or")
        {
            var l = Eval(b.Left);
            return Values.Truthy(l) ? l : Eval(b.Right);
        }
        var left = Eval(b.Left);
        var right = Eval(b.Right);
        if (b.Op == "~") return Values.Str(left) + Values.Str(right);
        if (left is Undefined lu) throw Error(lu.Hint.Contains("undefined") ? lu.Hint : $"{lu.Hint} is undefined", b.Line);
        if (right is Undefined ru) throw Error(ru.Hint.Contains("undefined") ? ru.Hint : $"{ru.Hint} is undefined", b.Line);
        switch (b.Op)
        {
            case "+":
                if (left is string ls && right is string rs) return ls + rs;
                if (left is List<object?> ll && right is List<object?> rl) return ll.Concat(rl).ToList();
                break;
            case "*":
                if (left is string s1 && right is long n1) return string.Concat(Enumerable.Repeat(s1, (int)Math.Max(0, n1)));
                if (left is long n2 && right is string s2) return string.Concat(Enumerable.Repeat(s2, (int)Math.Max(0, n2)));
                if (left is List<object?> l1 && right is long n3) return Enumerable.Repeat(l1, (int)Math.Max(0, n3)).SelectMany(x => x).ToList();
                break;
            case "%" when left is string format:
                return PercentFormat(format, right, b.Line);
        }
        if (!Values.IsNumber(left) || !Values.IsNumber(right))
            throw Error($"unsupported operand type(s) for {b.Op}: '{Values.TypeName(left)}' and '{Values.TypeName(right)}'", b.Line);
        bool ints = left is long or bool && right is long or bool;
        long li = ints ? (left is bool lb ? (lb ? 1 : 0) : (long)left!) : 0, ri = ints ? (right is bool rb ? (rb ? 1 : 0) : (long)right!) : 0;
        double ld = Values.ToDouble(left), rd = Values.ToDouble(right);
        switch (b.Op)
        {
            case "+": return ints ? (object)(li + ri) : ld + rd;
            case "-": return ints ? (object)(li - ri) : ld - rd;
            case "*": return ints ? (object)(li * ri) : ld * rd;
            case "/":
                if (rd == 0) throw Error("division by zero", b.Line);
                return ld / rd;
            case "//":
                if (rd == 0) throw Error("integer division or modulo by zero", b.Line);
                return ints ? (object)FloorDiv(li, ri) : Math.Floor(ld / rd);
            case "%":
                if (rd == 0) throw Error("integer division or modulo by zero", b.Line);
                return ints ? (object)(li - ri * FloorDiv(li, ri)) : ld - rd * Math.Floor(ld / rd);
            case "**":
                return ints && ri >= 0 ? (object)(long)Math.Pow(li, ri) : Math.Pow(ld, rd);
        }
        throw Error($"unknown operator {b.Op}", b.Line);
    }

    private static long FloorDiv(long a, long b) => (long)Math.Floor((double)a / b);

    private static string PercentFormat(string format, object? args, int line)
    {
        var list = args is List<object?> l ? l : [args];
        var sb = new StringBuilder();
        int k = 0;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }
            char spec = format[++i];
            if (spec == '%') sb.Append('%');
            else
            {
                if (k >= list.Count) throw Error("not enough arguments for format string", line);
                var v = list[k++];
                sb.Append(spec switch
                {
                    'd' or 'i' => ((long)Values.ToDouble(v)).ToString(CultureInfo.InvariantCulture),
                    'r' => Values.Repr(v),
                    _ => Values.Str(v),
                });
            }
        }
        return sb.ToString();
    }

    private bool CompareOp(string op, object? left, object? right, int line)
    {
        switch (op)
        {
            case "==": return Values.Equals(left, right);
            case "!=": return !Values.Equals(left, right);
            case "in": return Contains(right, left, line);
            case "notin": return !Contains(right, left, line);
        }
        try
        {
            int c = Values.Compare(left, right);
            return op switch { "<" => c < 0, "<=" => c <= 0, ">" => c > 0, _ => c >= 0 };
        }
        catch (InvalidOperationException ex)
        {
            throw Error(ex.Message.Replace("'<'", $"'{op}'"), line);
        }
    }

    private static bool Contains(object? container, object? item, int line) => container switch
    {
        string s => item is string sub ? s.Contains(sub, StringComparison.Ordinal) : throw Error($"'in <string>' requires string as left operand, not {Values.TypeName(item)}", line),
        List<object?> l => l.Any(x => Values.Equals(x, item)),
        OrderedDictionary<string, object?> d => item is string key && d.ContainsKey(key),
        Namespace ns => item is string key && ns.Attributes.ContainsKey(key),
        Undefined u => throw Error(u.Hint.Contains("undefined") ? u.Hint : $"{u.Hint} is undefined", line),
        _ => throw Error($"argument of type '{Values.TypeName(container)}' is not iterable", line),
    };

    public object? GetAttribute(object? target, string name, int line)
    {
        switch (target)
        {
            case Undefined u:
                throw Error(u.Hint.Contains("undefined") ? u.Hint : $"{u.Hint} is undefined", line);
            case OrderedDictionary<string, object?> d:
                if (d.TryGetValue(name, out var v)) return v;
                return (object?)Methods.Get(target, name) ?? new Undefined($"'dict object' has no attribute '{name}'");
            case Namespace ns:
                return ns.Attributes.TryGetValue(name, out var nv) ? nv : new Undefined($"'Namespace' has no attribute '{name}'");
            case LoopInfo loop:
                return loop.Get(name);
            default:
                return (object?)Methods.Get(target, name) ?? new Undefined($"'{Values.TypeName(target)} object' has no attribute '{name}'");
        }
    }

    public object? GetItem(object? target, object? index, int line)
    {
        switch (target)
        {
            case Undefined u:
                throw Error(u.Hint.Contains("undefined") ? u.Hint : $"{u.Hint} is undefined", line);
            case List<object?> list when index is long or bool:
            {
                long i = index is bool b ? (b ? 1 : 0) : (long)index;
                if (i < 0) i += list.Count;
                return i >= 0 && i < list.Count ? list[(int)i] : new Undefined($"list object has no element {index}");
            }
            case string s when index is long idx:
            {
                var runes = s.EnumerateRunes().ToList();
                if (idx < 0) idx += runes.Count;
                return idx >= 0 && idx < runes.Count ? runes[(int)idx].ToString() : new Undefined($"string index {index} out of range");
            }
            case OrderedDictionary<string, object?> d:
                return index is string key && d.TryGetValue(key, out var v) ? v : new Undefined($"'dict object' has no attribute {Values.Repr(index)}");
            case LoopInfo loop when index is string loopName:
                return loop.Get(loopName);
            case Namespace ns when index is string nsKey:
                return ns.Attributes.TryGetValue(nsKey, out var nv) ? nv : new Undefined($"'Namespace' has no attribute '{nsKey}'");
        }
        if (index is string attr) return GetAttribute(target, attr, line);
        return new Undefined($"'{Values.TypeName(target)} object' has no element {Values.Repr(index)}");
    }

    private static object? Slice(object? target, object? start, object? stop, object? step, int line)
    {
        long st = step is null ? 1 : (long)Values.ToDouble(step);
        if (st == 0) throw Error("slice step cannot be zero", line);
        List<object?> items = target switch
        {
            List<object?> l => l,
            string s => s.EnumerateRunes().Select(r => (object?)r.ToString()).ToList(),
            Undefined u => throw Error(u.Hint.Contains("undefined") ? u.Hint : $"{u.Hint} is undefined", line),
            _ => throw Error($"'{Values.TypeName(target)}' object is not subscriptable", line),
        };
        int n = items.Count;
        long Clamp(object? v, long def, bool isStart)
        {
            if (v is null) return def;
            long x = (long)Values.ToDouble(v);
            if (x < 0) x += n;
            if (st > 0) return Math.Clamp(x, 0, n);
            return Math.Clamp(x, -1, n - 1);
        }
        long a = Clamp(start, st > 0 ? 0 : n - 1, true), b = Clamp(stop, st > 0 ? n : -1, false);
        var result = new List<object?>();
        for (long i = a; st > 0 ? i < b : i > b; i += st) result.Add(items[(int)i]);
        return target is string ? string.Concat(result.Select(x => (string)x!)) : result;
    }
}
