using HybridSharp.Data;

namespace HybridSharp.Distill;

/// <summary>Reads distillation inputs from JSONL or Parquet files (<see cref="TabularRecords"/>) with a <see cref="ProblemFields"/> map.</summary>
public static class ProblemReader
{
    /// <summary>
    /// The problems of <paramref name="paths"/>, in order. Every record needs the problem field; a missing id is the
    /// first 16 hex digits of the problem's SHA-256; ids must be unique across the files. The problem and the long chain of
    /// thought are text fields, the answer, id and domain value fields (see <see cref="RecordReadOptions"/>).
    /// </summary>
    public static List<ProblemRecord> Read(IEnumerable<string> paths, ProblemFields fields, RecordReadOptions? read = null)
    {
        var list = new List<ProblemRecord>();
        foreach (var path in paths)
        {
            foreach (var (number, record) in TabularRecords.Read(path))
            {
                string where = TabularRecords.Where(path, number);
                string? Text(string? field) => NonBlank(field is null ? null : TabularRecords.Text(record, field, where, read));
                string? Value(string? field) => NonBlank(field is null ? null : TabularRecords.Value(record, field, where));
                var problem = Text(fields.Problem)
                    ?? throw new InvalidDataException($"{where}: field \"{fields.Problem}\" is missing or empty (set `ProblemFields.Problem`)");
                var id = Value(fields.Id) ?? PromptSet.Sha256Hex(problem)[..16];
                list.Add(new ProblemRecord(id, list.Count, problem, Value(fields.Answer) ?? "", Text(fields.LongCot), Value(fields.Domain) ?? fields.DefaultDomain));
            }
        }
        var dup = list.GroupBy(p => p.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
            throw new InvalidDataException($"problem id '{dup.Key}' occurs {dup.Count()} times in the input; ids must be unique (map another `ProblemFields.Id` or drop it to hash the problem text)");
        return list;
    }

    private static string? NonBlank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;
}
