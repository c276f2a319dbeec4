namespace Wetware.Images.Tests;

/// <summary>A scratch directory tree, removed afterwards.</summary>
internal sealed class Scratch : IDisposable
{
    public Scratch() => Root = Directory.CreateTempSubdirectory("ww-images-").FullName;

    public string Root { get; }

    /// <summary>Writes a file (creating its directories) and returns the layer directory it is in.</summary>
    public string File(string layer, string path, string content)
    {
        string full = Path.Join(Root, layer, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        System.IO.File.WriteAllText(full, content);
        return Path.Join(Root, layer);
    }

    public string Dir(string layer, string path = "")
    {
        string full = Path.Join(Root, layer, path);
        Directory.CreateDirectory(full);
        return Path.Join(Root, layer);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class LayerSpecTests
{
    [Theory]
    [InlineData("./img", typeof(LocalLayer))]
    [InlineData("/abs/dir", typeof(LocalLayer))]
    [InlineData("C:dir", typeof(LocalLayer))]      // the part after ':' does not start with '/': not a mount
    [InlineData("@std", typeof(StdLayer))]
    [InlineData("/ipfs/bafyabc/sub", typeof(IpfsLayer))]
    [InlineData("./tool.wasm:/bin/tool", typeof(MountLayer))]
    [InlineData("/ipfs/bafyabc:/lib", typeof(MountLayer))]
    public void LayerArgumentsParseByTheSpecRule(string text, Type kind)
    {
        LayerSpec spec = LayerSpec.Parse(text);
        Assert.IsType(kind, spec);
        Assert.Equal(text, spec.Text);
    }

    [Fact]
    public void AMountSplitsAtTheFirstColonAndNormalizesItsTarget()
    {
        var m = Assert.IsType<MountLayer>(LayerSpec.Parse("src:/x/./y//z/"));
        Assert.Equal("/x/y/z", m.Target);
        Assert.Equal("src", Assert.IsType<LocalLayer>(m.Source).Path);
        // Only the first ':' splits: after it comes "b:/x", which does not start with '/', so no mount.
        Assert.Equal("a:b:/x", Assert.IsType<LocalLayer>(LayerSpec.Parse("a:b:/x")).Path);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData(":/bin", "SOURCE")]
    [InlineData("/ipfs/", "CID")]
    [InlineData("./x:/../etc", "leaves the image root")]
    public void BadLayerArgumentsAreClearErrors(string text, string expected)
    {
        var e = Assert.Throws<ImageException>(() => LayerSpec.Parse(text));
        Assert.Contains(expected, e.Message);
    }
}
