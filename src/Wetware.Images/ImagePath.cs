namespace Wetware.Images;

/// <summary>Paths inside an image: absolute, '/'-separated, no '.', '..' or empty parts ("/" is the root).</summary>
public static class ImagePath
{
    /// <summary>The normalized form of <paramref name="path"/>; '..' that would leave the root is an error.</summary>
    public static string Normalize(string path, string? context = null)
    {
        var parts = new List<string>();
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            switch (part)
            {
                case ".":
                    continue;
                case "..":
                    if (parts.Count == 0)
                    {
                        throw new ImageException($"{(context is null ? "" : $"layer '{context}': ")}path '{path}' leaves the image root");
                    }
                    parts.RemoveAt(parts.Count - 1);
                    continue;
                default:
                    if (part.Contains('\0'))
                    {
                        throw new ImageException($"{(context is null ? "" : $"layer '{context}': ")}path '{path}' contains a NUL byte");
                    }
                    parts.Add(part);
                    continue;
            }
        }
        return "/" + string.Join('/', parts);
    }

    /// <summary>The parent of a normalized path ("/" for a top-level entry and for the root).</summary>
    public static string Parent(string path)
    {
        int slash = path.LastIndexOf('/');
        return slash <= 0 ? "/" : path[..slash];
    }

    /// <summary>The last part of a normalized path ("" for the root).</summary>
    public static string Name(string path) => path[(path.LastIndexOf('/') + 1)..];

    /// <summary>Joins a normalized directory path and a child name.</summary>
    public static string Join(string directory, string name) => directory == "/" ? "/" + name : directory + "/" + name;
}
