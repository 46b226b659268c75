using HybridSharp.Data;

namespace HybridSharp.Eval.Reasoning;

/// <summary>
/// Reads a problem set (JSONL or Parquet) with configurable field names. The problem is a text field; the answer, id and
/// difficulty are value fields (a number is fine there); see <see cref="RecordReadOptions"/>.
/// </summary>
public static class ReasoningProblemReader
{
    public static IReadOnlyList<ReasoningProblem> Read(string path, ProblemFields? fields = null, int limit = int.MaxValue, RecordReadOptions? read = null)
    {
        fields ??= new ProblemFields();
        var list = new List<ReasoningProblem>();
        foreach (var (number, record) in TabularRecords.Read(path))
        {
            if (list.Count >= limit) break;
            string where = TabularRecords.Where(path, number);
            var problem = TabularRecords.Text(record, fields.Problem, where, read);
            if (string.IsNullOrWhiteSpace(problem))
                throw new InvalidDataException($"{where}: no problem text in field \"{fields.Problem}\" (set `ProblemFields.Problem`)");
            var answer = TabularRecords.Value(record, fields.Answer, where);
            if (string.IsNullOrWhiteSpace(answer))
                throw new InvalidDataException($"{where}: no reference answer in field \"{fields.Answer}\" (set `ProblemFields.Answer`)");
            var difficulty = fields.Difficulty is null ? null : TabularRecords.Value(record, fields.Difficulty, where);
            var id = (fields.Id is null ? null : TabularRecords.Value(record, fields.Id, where)) ?? number.ToString(System.Globalization.CultureInfo.InvariantCulture);
            list.Add(new ReasoningProblem(id, problem, answer.Trim(), string.IsNullOrWhiteSpace(difficulty) ? null : difficulty.Trim()));
        }
        if (list.Count == 0) throw new InvalidDataException($"{path}: no problems");
        return list;
    }
}
