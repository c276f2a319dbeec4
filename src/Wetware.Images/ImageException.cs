namespace Wetware.Images;

/// <summary>A layer that cannot be used or merged: the message names the layer(s) and the path.</summary>
public sealed class ImageException(string message) : Exception(message);
