using System.Globalization;
using System.Text;

namespace DinoFlow.Pipeline.Storage;

/// <summary>A key that cannot be turned into a safe location inside the data root.</summary>
public sealed class InvalidObjectKeyException(string key, string reason)
    : Exception($"invalid object key '{ObjectKey.Printable(key)}': {reason}")
{
    public string Key { get; } = key;
    public string Reason { get; } = reason;
}

/// <summary>
/// Normalises object keys and paths so that nothing can escape the data root: '/' separators, Unicode NFC,
/// no absolute paths, no '.' or '..' segments, no control or invisible formatting characters (which make
/// two keys that look the same differ, or hide a '..').
/// </summary>
public static class ObjectKey
{
    public const int MaxLength = 1024;

    public static string Normalize(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length == 0) throw new InvalidObjectKeyException(key, "it is empty");
        if (key.Length > MaxLength) throw new InvalidObjectKeyException(key, $"it is longer than {MaxLength} characters");
        if (HasInvalidSurrogates(key))
            throw new InvalidObjectKeyException(key, "it is not valid Unicode");

        var text = key.Normalize(NormalizationForm.FormC).Replace('\\', '/');
        if (text.StartsWith('/')) throw new InvalidObjectKeyException(key, "it is an absolute path");
        if (text.Length >= 2 && char.IsAsciiLetter(text[0]) && text[1] == ':')
            throw new InvalidObjectKeyException(key, "it is an absolute (drive) path");

        foreach (var rune in text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
                or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator
                or UnicodeCategory.ParagraphSeparator)
                throw new InvalidObjectKeyException(key, $"it contains the character U+{rune.Value:X4} ({category})");
        }

        var segments = text.Split('/');
        foreach (var segment in segments)
        {
            if (segment.Length == 0) throw new InvalidObjectKeyException(key, "it has an empty path segment");
            if (segment is "." or "..") throw new InvalidObjectKeyException(key, $"it has a '{segment}' segment");
            if (segment.Trim().Length == 0) throw new InvalidObjectKeyException(key, "it has a blank path segment");
        }

        return text;
    }

    public static bool TryNormalize(string key, out string normalized, out string? reason)
    {
        try
        {
            normalized = Normalize(key);
            reason = null;
            return true;
        }
        catch (InvalidObjectKeyException e)
        {
            normalized = "";
            reason = e.Reason;
            return false;
        }
    }

    /// <summary>Joins normalised segments (a prefix and a relative key).</summary>
    public static string Combine(string prefix, string key) =>
        prefix.Length == 0 ? key : prefix.TrimEnd('/') + "/" + key;

    /// <summary>The key with characters that would corrupt a log line or terminal escaped.</summary>
    public static string Printable(string key)
    {
        var builder = new StringBuilder(key.Length);
        foreach (var c in key)
        {
            var category = char.GetUnicodeCategory(c);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate)
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            else
                builder.Append(c);
        }

        return builder.ToString();
    }

    private static bool HasInvalidSurrogates(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1])) return true;
                i++;
            }
            else if (char.IsLowSurrogate(text[i]))
            {
                return true;
            }
        }

        return false;
    }
}
