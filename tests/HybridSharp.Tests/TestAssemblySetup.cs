using System.Runtime.CompilerServices;
using HybridSharp.Runtime;

namespace HybridSharp.Tests;

/// <summary>Process-wide setup of the test host, as the CLI does at startup.</summary>
internal static class TestAssemblySetup
{
#pragma warning disable CA2255 // a test assembly is an application: the heap-only allocator must be on before any tensor
    [ModuleInitializer]
    internal static void Initialize() => NativeAllocator.Configure();
#pragma warning restore CA2255
}
