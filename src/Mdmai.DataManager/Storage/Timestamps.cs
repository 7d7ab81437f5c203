using System.Globalization;

namespace Mdmai.DataManager.Storage;

/// <summary>
/// The one timestamp format of the database: UTC ISO-8601 with milliseconds, <c>2026-11-25T19:08:00.123Z</c>.
/// It sorts as text in time order, and SQLite's <c>strftime('%Y-%m-%dT%H:%M:%fZ')</c> writes the same.
/// </summary>
public static class Timestamps
{
    private const string Pattern = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    /// <summary>Formats a moment in the canonical form.</summary>
    public static string Format(DateTimeOffset value) => value.UtcDateTime.ToString(Pattern, CultureInfo.InvariantCulture);

    /// <summary>Parses the canonical form (and, leniently, any ISO-8601 moment) to UTC.</summary>
    public static DateTimeOffset Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (DateTimeOffset.TryParseExact(text, Pattern, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var exact))
        {
            return exact;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var any))
        {
            return Truncate(any);
        }

        throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{text}' is not a date and time; use ISO-8601 such as 2026-11-25T19:08:00.000Z.");
    }

    /// <summary>Drops precision below a millisecond, so a stored value reads back equal.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset value)
    {
        var utc = value.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }
}
