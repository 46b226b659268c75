// MSBuild inline task: marks one symbol-version need (e.g. GLIBCXX_3.4.32) WEAK in ELF64 little-endian shared
// objects, but only when the system's libstdc++ does not define that version. glibc's loader tolerates a missing
// weak version need. Only build-output copies are passed in; the NuGet cache is never modified.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class MarkGlibcxxNeedWeak : Task
{
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();
    [Required] public string VersionName { get; set; } = "";

    static readonly string[] LibDirs =
    {
        "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib", "/lib",
    };

    bool SystemHasVersion()
    {
        foreach (var dir in LibDirs)
        {
            var path = Path.Combine(dir, "libstdc++.so.6");
            if (!File.Exists(path)) continue;
            try
            {
                var bytes = File.ReadAllBytes(path);
                var needle = Encoding.ASCII.GetBytes(VersionName + "\0");
                return IndexOf(bytes, needle) >= 0;
            }
            catch (IOException) { }
        }
        return false; // unknown: patching is harmless when the version is present anyway
    }

    static int IndexOf(byte[] hay, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= hay.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

    public override bool Execute()
    {
        if (SystemHasVersion())
        {
            Log.LogMessage(MessageImportance.Low, "System libstdc++ provides " + VersionName + "; no patch needed.");
            return true;
        }
        foreach (var item in Files)
        {
            var path = item.GetMetadata("FullPath");
            try
            {
                var data = File.ReadAllBytes(path);
                int patched = Patch(data, VersionName, out int alreadyWeak);
                if (patched > 0)
                {
                    var tmp = path + ".hs-tmp";
                    File.WriteAllBytes(tmp, data);
                    File.Delete(path);
                    File.Move(tmp, path);
                }
                Log.LogMessage(MessageImportance.Normal,
                    "HybridSharp: " + path + ": marked " + patched + " need(s) of " + VersionName + " weak (" + alreadyWeak + " already weak).");
            }
            catch (Exception ex)
            {
                Log.LogError("HybridSharp: cannot patch " + path + ": " + ex.Message);
                return false;
            }
        }
        return true;
    }

    static ulong U64(byte[] b, long o) => BitConverter.ToUInt64(b, (int)o);
    static uint U32(byte[] b, long o) => BitConverter.ToUInt32(b, (int)o);
    static ushort U16(byte[] b, long o) => BitConverter.ToUInt16(b, (int)o);

    /// <summary>Returns how many Vernaux entries were newly marked weak.</summary>
    public static int Patch(byte[] d, string name, out int alreadyWeak)
    {
        alreadyWeak = 0;
        if (d.Length < 64 || d[0] != 0x7F || d[1] != (byte)'E' || d[2] != (byte)'L' || d[3] != (byte)'F')
            throw new InvalidDataException("not an ELF file");
        if (d[4] != 2 || d[5] != 1) throw new InvalidDataException("not ELF64 little-endian");
        long shoff = (long)U64(d, 0x28);
        int shentsize = U16(d, 0x3A), shnum = U16(d, 0x3C);
        int count = 0;
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (U32(d, sh + 4) != 0x6ffffffe) continue; // SHT_GNU_verneed
            long secOff = (long)U64(d, sh + 24);
            uint link = U32(d, sh + 40), num = U32(d, sh + 44);
            long strOff = (long)U64(d, shoff + (long)link * shentsize + 24);
            long p = secOff;
            for (uint n = 0; n < num; n++)
            {
                int cnt = U16(d, p + 2);
                long a = p + U32(d, p + 8);
                for (int k = 0; k < cnt; k++)
                {
                    long nameOff = strOff + U32(d, a + 8);
                    int end = Array.IndexOf(d, (byte)0, (int)nameOff);
                    string s = Encoding.ASCII.GetString(d, (int)nameOff, end - (int)nameOff);
                    if (s == name)
                    {
                        ushort flags = U16(d, a + 4);
                        if ((flags & 0x2) != 0) alreadyWeak++;
                        else
                        {
                            flags |= 0x2;
                            d[a + 4] = (byte)(flags & 0xFF);
                            d[a + 5] = (byte)(flags >> 8);
                            count++;
                        }
                    }
                    a += U32(d, a + 12);
                }
                p += U32(d, p + 12);
            }
        }
        return count;
    }
}
