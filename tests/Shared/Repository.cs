namespace Wetware.Tests.Shared;

/// <summary>The repository's root: the folder holding Wetware.slnx above the test's output, for its scripts and interop folders. Linked into the test projects that use it.</summary>
internal static class Repository
{
    private static readonly Lazy<string> Found = new(() =>
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "Wetware.slnx")))
        {
            dir = Path.GetDirectoryName(dir);
        }
        return dir ?? throw new InvalidOperationException("cannot find the repository root (Wetware.slnx) above " + AppContext.BaseDirectory);
    });

    public static string Root => Found.Value;
}
