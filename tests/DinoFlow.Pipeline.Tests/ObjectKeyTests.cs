using DinoFlow.Pipeline.Storage;

namespace DinoFlow.Pipeline.Tests;

public class ObjectKeyTests
{
    [Theory]
    [InlineData("../etc/passwd", "'..' segment")]
    [InlineData("images/../../secret.jpg", "'..' segment")]
    [InlineData("/etc/passwd", "absolute")]
    [InlineData("C:/Windows/win.ini", "drive")]
    [InlineData("..\\..\\boot.ini", "'..' segment")]
    [InlineData("a/./b.jpg", "'.' segment")]
    [InlineData("a//b.jpg", "empty path segment")]
    [InlineData("", "empty")]
    [InlineData("red/\u202Egpj.exe", "U+202E")]
    [InlineData("red/zero\u200Bwidth.jpg", "U+200B")]
    [InlineData("red/new\nline.jpg", "U+000A")]
    public void A_key_that_could_escape_or_disguise_itself_is_refused_with_the_reason(string key, string reasonPart)
    {
        var error = Assert.Throws<InvalidObjectKeyException>(() => ObjectKey.Normalize(key));
        Assert.Contains(reasonPart, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Backslashes_become_slashes_and_unicode_is_composed()
    {
        var decomposed = "caf\u0065\u0301/img.jpg";
        Assert.Equal("caf\u00e9/img.jpg", ObjectKey.Normalize(decomposed));
        Assert.Equal("red/a.jpg", ObjectKey.Normalize("red\\a.jpg"));
    }

    [Fact]
    public void A_lone_surrogate_is_refused()
    {
        Assert.Throws<InvalidObjectKeyException>(() => ObjectKey.Normalize("red/\ud800.jpg"));
    }

    [Fact]
    public void Printable_escapes_control_and_format_characters()
    {
        Assert.Equal("a\\u202Eb\\u000A", ObjectKey.Printable("a\u202Eb\n"));
    }
}
