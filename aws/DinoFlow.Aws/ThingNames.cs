using System.Text.RegularExpressions;

namespace DinoFlow.Aws;

/// <summary>
/// What IoT Core allows as a thing name (letters, digits, ':', '_', '-', at most 128). A name listed from a thing group is
/// checked before it becomes part of an S3 key (shadow/THING/, platforms/THING.json), so no listing can reach another prefix.
/// </summary>
public static partial class ThingNames
{
    public static bool IsValid(string name) => Pattern().IsMatch(name);

    [GeneratedRegex("^[a-zA-Z0-9:_-]{1,128}$")]
    private static partial Regex Pattern();
}
