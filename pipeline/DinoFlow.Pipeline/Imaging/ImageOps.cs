namespace DinoFlow.Pipeline.Imaging;

/// <summary>Small pixel operations used for training-time augmentation.</summary>
public static class ImageOps
{
    public static BgrImage FlipHorizontal(BgrImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var source = image.Pixels;
        var flipped = new byte[source.Length];
        var rowBytes = image.Width * 3;
        for (var y = 0; y < image.Height; y++)
        {
            var row = y * rowBytes;
            for (var x = 0; x < image.Width; x++)
            {
                var from = row + x * 3;
                var to = row + (image.Width - 1 - x) * 3;
                flipped[to] = source[from];
                flipped[to + 1] = source[from + 1];
                flipped[to + 2] = source[from + 2];
            }
        }

        return new BgrImage(image.Width, image.Height, flipped);
    }
}
