// MSBuild inline task: lets the MKL inside libtorch use its AVX-512 / AVX2 kernels on non-Intel x86-64 CPUs.
// MKL picks its GEMM kernels by vendor: mkl_serv_intel_cpu_true() answers "is this a genuine Intel CPU?", and on
// AMD it answers no, so MKL falls back to generic code (on a Zen 4 core: ≈ 90 instead of ≈ 210 GFLOP/s fp32). MKL checks
// each instruction set it uses separately, so answering yes only lifts the vendor gate. In the *build-output copy* of
// libtorch_cpu.so the function's first bytes become `mov eax, 1; ret`; the NuGet cache is never modified, and the
// patched copy keeps the original timestamp so incremental builds do not copy it again. See docs/native-load.md.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class MklIntelDispatch : Task
{
    [Required] public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

    const string Symbol = "mkl_serv_intel_cpu_true";
    static readonly byte[] ReturnOne = { 0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3 };

    public override bool Execute()
    {
        foreach (var item in Files)
        {
            var path = item.GetMetadata("FullPath");
            try
            {
                long offset = FindFunction(path);
                if (offset < 0)
                {
                    Log.LogMessage(MessageImportance.Low, path + ": no " + Symbol + " (not an MKL build); left as is.");
                    continue;
                }
                var current = new byte[ReturnOne.Length];
                using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
                {
                    fs.Position = offset;
                    ReadExactly(fs, current);
                }
                if (Same(current, 0, ReturnOne)) continue;
                var stamp = File.GetLastWriteTimeUtc(path);
                var tmp = path + ".hsmkl.tmp";
                File.Copy(path, tmp, overwrite: true);
                using (var fs = new FileStream(tmp, FileMode.Open, FileAccess.Write))
                {
                    fs.Position = offset;
                    fs.Write(ReturnOne, 0, ReturnOne.Length);
                }
                File.SetLastWriteTimeUtc(tmp, stamp);
                File.Replace(tmp, path, null);
                Log.LogMessage(MessageImportance.Normal, "Let MKL use its vendor-gated kernels on any x86-64 CPU: " + path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                Log.LogWarning("Could not patch " + path + " (" + ex.Message + "); MKL keeps its vendor check.");
            }
        }
        return !Log.HasLoggedErrors;
    }

    /// <summary>File offset of the first byte of the exported function, or −1; ELF64 little-endian only.</summary>
    static long FindFunction(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var header = new byte[64];
        ReadExactly(fs, header);
        if (header[0] != 0x7F || header[1] != (byte)'E' || header[2] != (byte)'L' || header[3] != (byte)'F' || header[4] != 2 || header[5] != 1)
            throw new InvalidDataException("not an ELF64 little-endian file");
        long shoff = BitConverter.ToInt64(header, 0x28);
        int shentsize = BitConverter.ToUInt16(header, 0x3A), shnum = BitConverter.ToUInt16(header, 0x3C);
        var sections = new byte[shentsize * shnum];
        fs.Position = shoff;
        ReadExactly(fs, sections);
        long Field(int index, int at) => BitConverter.ToInt64(sections, index * shentsize + at);
        uint Type(int index) => BitConverter.ToUInt32(sections, index * shentsize + 4);
        for (int s = 0; s < shnum; s++)
        {
            if (Type(s) != 11) continue;                                   // SHT_DYNSYM
            int strIndex = BitConverter.ToInt32(sections, s * shentsize + 40);
            var symbols = Read(fs, Field(s, 24), Field(s, 32));
            var strings = Read(fs, Field(strIndex, 24), Field(strIndex, 32));
            var name = Encoding.ASCII.GetBytes(Symbol + "\0");
            for (int e = 0; e + 24 <= symbols.Length; e += 24)
            {
                int nameAt = BitConverter.ToInt32(symbols, e);
                if ((symbols[e + 4] & 0xF) != 2) continue;                 // STT_FUNC
                if (nameAt < 0 || nameAt + name.Length > strings.Length || !Same(strings, nameAt, name)) continue;
                int shndx = BitConverter.ToUInt16(symbols, e + 6);
                long value = BitConverter.ToInt64(symbols, e + 8), size = BitConverter.ToInt64(symbols, e + 16);
                if (shndx == 0 || shndx >= shnum || size < ReturnOne.Length) return -1;
                return Field(shndx, 24) + (value - Field(shndx, 16));    // sh_offset + (st_value − sh_addr)
            }
        }
        return -1;
    }

    static bool Same(byte[] data, int at, byte[] expected)
    {
        for (int i = 0; i < expected.Length; i++) if (data[at + i] != expected[i]) return false;
        return true;
    }

    static byte[] Read(FileStream fs, long offset, long size)
    {
        var buffer = new byte[size];
        fs.Position = offset;
        ReadExactly(fs, buffer);
        return buffer;
    }

    static void ReadExactly(Stream s, byte[] buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = s.Read(buffer, read, buffer.Length - read);
            if (n == 0) throw new InvalidDataException("unexpected end of file");
            read += n;
        }
    }
}
