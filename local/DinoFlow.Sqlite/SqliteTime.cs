using System.Globalization;

namespace DinoFlow.Sqlite;

/// <summary>
/// The one time format in every DinoFlow database: ISO-8601 in UTC, round-trip ('O': 2026-11-30T03:07:51.1234567Z).
/// It is fixed-width, so text order is time order, and SQLite's date functions read it.
/// </summary>
public static class SqliteTime
{
    public static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    /// <summary>Reads this format and the older ones (an offset instead of Z, six fractional digits); a time without a zone is UTC; the result is in UTC.</summary>
    public static DateTimeOffset Parse(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
