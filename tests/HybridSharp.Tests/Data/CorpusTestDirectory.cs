namespace HybridSharp.Tests.Data;

/// <summary>A unique temporary directory for one test, deleted on dispose.</summary>
internal sealed class CorpusTestDirectory : IDisposable
{
    public CorpusTestDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "hs-corpus-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
