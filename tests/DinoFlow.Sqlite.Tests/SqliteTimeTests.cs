using System.Globalization;

namespace DinoFlow.Sqlite.Tests;

public class SqliteTimeTests
{
    [Fact]
    public void A_time_round_trips_to_the_tick_as_UTC_text()
    {
        var time = new DateTimeOffset(2026, 11, 30, 5, 7, 51, TimeSpan.FromHours(2)).AddTicks(1_234_567);

        var text = SqliteTime.Format(time);

        Assert.Equal("2026-11-30T03:07:51.1234567Z", text);
        Assert.Equal(time, SqliteTime.Parse(text));
        Assert.Equal(time.UtcTicks, SqliteTime.Parse(text).UtcTicks);
        Assert.Equal(TimeSpan.Zero, SqliteTime.Parse(text).Offset);
    }

    [Fact]
    public void Text_order_is_time_order()
    {
        var start = new DateTimeOffset(2026, 11, 30, 23, 59, 59, TimeSpan.Zero);
        DateTimeOffset[] times = [start, start.AddTicks(1), start.AddSeconds(1), start.AddDays(40), start.ToOffset(TimeSpan.FromHours(-8)).AddMilliseconds(1)];

        var byText = times.OrderBy(SqliteTime.Format, StringComparer.Ordinal).ToList();

        Assert.Equal(times.OrderBy(t => t.UtcTicks), byText);
        Assert.All(times, t => Assert.Equal(28, SqliteTime.Format(t).Length));
    }

    [Theory]
    [InlineData("2026-11-30T03:07:51.123456Z")]          // the portal's old format
    [InlineData("2026-11-30T03:07:51.1234560+00:00")]    // the edge store's old format
    [InlineData("2026-11-30T05:07:51.123456+02:00")]
    [InlineData("2026-11-30T03:07:51.123456")]           // no zone: UTC
    public void Older_formats_still_read_as_the_same_instant(string text)
    {
        var expected = new DateTimeOffset(2026, 11, 30, 3, 7, 51, TimeSpan.Zero).AddTicks(1_234_560);

        Assert.Equal(expected, SqliteTime.Parse(text));
        Assert.Equal("2026-11-30T03:07:51.1234560Z", SqliteTime.Format(SqliteTime.Parse(text)));
        Assert.Equal(expected.ToString("O", CultureInfo.InvariantCulture), SqliteTime.Parse(text).ToString("O", CultureInfo.InvariantCulture));
    }
}
