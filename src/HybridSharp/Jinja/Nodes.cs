namespace HybridSharp.Jinja;

/// <summary>A template statement.</summary>
internal abstract record Node(int Line);

internal sealed record TextNode(string Text, int Line) : Node(Line);
internal sealed record OutputNode(Expr Value, int Line) : Node(Line);
internal sealed record IfNode(List<(Expr Condition, List<Node> Body)> Branches, List<Node>? Else, int Line) : Node(Line);
internal sealed record ForNode(List<string> Targets, Expr Iterable, Expr? Filter, List<Node> Body, List<Node>? Else, int Line) : Node(Line);
internal sealed record SetNode(Expr Target, Expr Value, int Line) : Node(Line);
internal sealed record SetBlockNode(Expr Target, List<Node> Body, string? Filter, int Line) : Node(Line);
internal sealed record MacroNode(string Name, List<(string Name, Expr? Default)> Parameters, List<Node> Body, int Line) : Node(Line);
internal sealed record CallBlockNode(Expr Call, List<(string Name, Expr? Default)> CallerParameters, List<Node> Body, int Line) : Node(Line);
internal sealed record FilterBlockNode(List<FilterCall> Filters, List<Node> Body, int Line) : Node(Line);
internal sealed record GenerationNode(List<Node> Body, int Line) : Node(Line);
internal sealed record BreakNode(int Line) : Node(Line);
internal sealed record ContinueNode(int Line) : Node(Line);
internal sealed record DoNode(Expr Value, int Line) : Node(Line);

/// <summary>A template expression.</summary>
internal abstract record Expr(int Line);

internal sealed record LiteralExpr(object? Value, int Line) : Expr(Line);
internal sealed record NameExpr(string Name, int Line) : Expr(Line);
internal sealed record ListExpr(List<Expr> Items, int Line) : Expr(Line);
internal sealed record TupleExpr(List<Expr> Items, int Line) : Expr(Line);
internal sealed record DictExpr(List<(Expr Key, Expr Value)> Items, int Line) : Expr(Line);
internal sealed record AttributeExpr(Expr Target, string Name, int Line) : Expr(Line);
internal sealed record IndexExpr(Expr Target, Expr Index, int Line) : Expr(Line);
internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);
internal sealed record CallExpr(Expr Target, List<Expr> Args, List<(string Name, Expr Value)> Kwargs, int Line) : Expr(Line);
internal sealed record UnaryExpr(string Op, Expr Operand, int Line) : Expr(Line);
internal sealed record BinaryExpr(string Op, Expr Left, Expr Right, int Line) : Expr(Line);
internal sealed record CompareExpr(Expr First, List<(string Op, Expr Right)> Rest, int Line) : Expr(Line);
internal sealed record ConditionalExpr(Expr Condition, Expr Then, Expr? Else, int Line) : Expr(Line);
internal sealed record FilterExpr(Expr Target, FilterCall Filter, int Line) : Expr(Line);
internal sealed record TestExpr(Expr Target, string Test, List<Expr> Args, bool Negated, int Line) : Expr(Line);

internal sealed record FilterCall(string Name, List<Expr> Args, List<(string Name, Expr Value)> Kwargs);
