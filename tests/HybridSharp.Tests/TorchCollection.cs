using Xunit;

namespace HybridSharp.Tests;

/// <summary>Torch tests share libtorch's thread pool; run them one at a time.</summary>
[CollectionDefinition("Torch", DisableParallelization = true)]
public sealed class TorchCollection;
