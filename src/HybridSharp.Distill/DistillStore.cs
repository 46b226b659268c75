using Microsoft.Data.Sqlite;

namespace HybridSharp.Distill;

/// <summary>
/// The run's SQLite database (<c>distill.db</c>): the content-addressed response cache and the per-problem rows.
/// </summary>
/// <remarks>
/// Tables: <c>responses(key, request, response)</c> — key = SHA-256 of the canonical request (model, messages,
/// generation parameters, prompt version), written the moment a response arrives, so a completed request is never
/// sent again after a crash or Ctrl-C; <c>rows(id, idx, fingerprint, status, row)</c> — one row per problem, upserted
/// by id (so it can never be duplicated), valid while its fingerprint matches the run settings; <c>meta</c>. WAL
/// journal with synchronous=NORMAL: a committed write survives a killed process. Exports are built from
/// <c>rows</c> and written atomically (temp + rename). One connection, serialised by a lock (SQLite writes are
/// serial anyway; each write is a sub-millisecond transaction).
/// </remarks>
public sealed class DistillStore : IDisposable
{
    private readonly SqliteConnection _db;
    private readonly Lock _lock = new();
    // Hot-path calls wait for the connection asynchronously so 64 in-flight requests do not block pool threads.
    private readonly SemaphoreSlim _gate = new(1, 1);
    public string Path { get; }

    public DistillStore(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path, Pooling = false }.ToString());
        _db.Open();
        Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;");
        Exec("""
            CREATE TABLE IF NOT EXISTS responses(key TEXT PRIMARY KEY, model TEXT NOT NULL, request TEXT NOT NULL, response TEXT NOT NULL, created TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS rows(id TEXT PRIMARY KEY, idx INTEGER NOT NULL, fingerprint TEXT NOT NULL, status TEXT NOT NULL, row TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """);
    }

    private void Exec(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    /// <summary>Runs <paramref name="action"/> with the connection, waiting for it without blocking a thread.</summary>
    public async Task<T> WithConnectionAsync<T>(Func<T> action, CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try { return action(); }
        finally { _gate.Release(); }
    }

    public Task<string?> GetResponseAsync(string key, CancellationToken ct = default) => WithConnectionAsync(() => GetResponse(key), ct);

    public Task PutResponseAsync(string key, string model, string request, string response) =>
        WithConnectionAsync(() => { PutResponse(key, model, request, response); return 0; });

    public Task PutRowAsync(string id, long index, string fingerprint, string status, string rowJson) =>
        WithConnectionAsync(() => { PutRow(id, index, fingerprint, status, rowJson); return 0; });

    /// <summary>The cached response JSON for a key, or null.</summary>
    public string? GetResponse(string key)
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT response FROM responses WHERE key = $k";
            cmd.Parameters.AddWithValue("$k", key);
            return cmd.ExecuteScalar() as string;
        }
    }

    public void PutResponse(string key, string model, string request, string response)
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "INSERT OR REPLACE INTO responses(key, model, request, response, created) VALUES ($k, $m, $q, $r, $c)";
            cmd.Parameters.AddWithValue("$k", key);
            cmd.Parameters.AddWithValue("$m", model);
            cmd.Parameters.AddWithValue("$q", request);
            cmd.Parameters.AddWithValue("$r", response);
            cmd.Parameters.AddWithValue("$c", DateTimeOffset.UtcNow.ToString("O"));
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>All cached (key, request body) pairs.</summary>
    public List<(string Key, string Request)> CachedRequests()
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT key, request FROM responses ORDER BY key";
            using var r = cmd.ExecuteReader();
            var list = new List<(string, string)>();
            while (r.Read()) list.Add((r.GetString(0), r.GetString(1)));
            return list;
        }
    }

    public long CachedCount()
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT COUNT(*) FROM responses";
            return (long)cmd.ExecuteScalar()!;
        }
    }

    /// <summary>Ids whose row is final (accepted or rejected) under <paramref name="fingerprint"/>.</summary>
    public HashSet<string> FinishedIds(string fingerprint)
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT id FROM rows WHERE fingerprint = $f AND status IN ('accepted', 'rejected')";
            cmd.Parameters.AddWithValue("$f", fingerprint);
            using var r = cmd.ExecuteReader();
            var set = new HashSet<string>(StringComparer.Ordinal);
            while (r.Read()) set.Add(r.GetString(0));
            return set;
        }
    }

    public void PutRow(string id, long index, string fingerprint, string status, string rowJson)
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "INSERT INTO rows(id, idx, fingerprint, status, row) VALUES ($i, $x, $f, $s, $r) " +
                              "ON CONFLICT(id) DO UPDATE SET idx = excluded.idx, fingerprint = excluded.fingerprint, status = excluded.status, row = excluded.row";
            cmd.Parameters.AddWithValue("$i", id);
            cmd.Parameters.AddWithValue("$x", index);
            cmd.Parameters.AddWithValue("$f", fingerprint);
            cmd.Parameters.AddWithValue("$s", status);
            cmd.Parameters.AddWithValue("$r", rowJson);
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>Row JSON of every row under <paramref name="fingerprint"/> (all rows when null), in input order.</summary>
    public List<string> Rows(string? fingerprint)
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = fingerprint is null ? "SELECT row FROM rows ORDER BY idx, id" : "SELECT row FROM rows WHERE fingerprint = $f ORDER BY idx, id";
            if (fingerprint is not null) cmd.Parameters.AddWithValue("$f", fingerprint);
            using var r = cmd.ExecuteReader();
            var list = new List<string>();
            while (r.Read()) list.Add(r.GetString(0));
            return list;
        }
    }

    public string? GetMeta(string key)
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "SELECT value FROM meta WHERE key = $k";
            cmd.Parameters.AddWithValue("$k", key);
            return cmd.ExecuteScalar() as string;
        }
    }

    public void SetMeta(string key, string value)
    {
        lock (_lock)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "INSERT OR REPLACE INTO meta(key, value) VALUES ($k, $v)";
            cmd.Parameters.AddWithValue("$k", key);
            cmd.Parameters.AddWithValue("$v", value);
            cmd.ExecuteNonQuery();
        }
    }

    public void Dispose()
    {
        lock (_lock) _db.Dispose();
        _gate.Dispose();
    }
}
