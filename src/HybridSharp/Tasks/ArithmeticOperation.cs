namespace HybridSharp.Tasks;

/// <summary>The four operations an arithmetic word-problem step can perform on the running total.</summary>
public enum ArithmeticOperation
{
    /// <summary>Running total plus the operand.</summary>
    Add,
    /// <summary>Running total minus the operand.</summary>
    Subtract,
    /// <summary>Running total times the operand.</summary>
    Multiply,
    /// <summary>Running total divided (exactly) by the operand.</summary>
    Divide,
}

/// <summary>Helpers for <see cref="ArithmeticOperation"/>.</summary>
public static class ArithmeticOperationExtensions
{
    /// <summary>The ASCII symbol used in written solutions: <c>+</c>, <c>-</c>, <c>*</c> or <c>/</c>.</summary>
    public static char Symbol(this ArithmeticOperation operation) => operation switch
    {
        ArithmeticOperation.Add => '+',
        ArithmeticOperation.Subtract => '-',
        ArithmeticOperation.Multiply => '*',
        ArithmeticOperation.Divide => '/',
        _ => throw new ArgumentOutOfRangeException(nameof(operation)),
    };

    /// <summary>Applies the operation. Throws if a division is not exact, so callers never silently truncate.</summary>
    public static int Apply(this ArithmeticOperation operation, int left, int right) => operation switch
    {
        ArithmeticOperation.Add => checked(left + right),
        ArithmeticOperation.Subtract => checked(left - right),
        ArithmeticOperation.Multiply => checked(left * right),
        ArithmeticOperation.Divide when right != 0 && left % right == 0 => left / right,
        ArithmeticOperation.Divide => throw new ArgumentException($"{left} / {right} is not an exact integer division."),
        _ => throw new ArgumentOutOfRangeException(nameof(operation)),
    };
}
