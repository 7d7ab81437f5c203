using System.Globalization;

namespace Mdmai.DataManager;

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
        if (TryParseCanonical(text, out var canonical))
        {
            return canonical;
        }

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

    /// <summary>
    /// The canonical form, digit by digit: every stored timestamp has it, and reading a page of records parses
    /// a few hundred of them (the general parser took a tenth of a list's time).
    /// </summary>
    private static bool TryParseCanonical(string text, out DateTimeOffset value)
    {
        value = default;
        if (text.Length != 24 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':'
            || text[19] != '.' || text[23] != 'Z')
        {
            return false;
        }

        if (!Digits(text, 0, 4, out var year) || !Digits(text, 5, 2, out var month) || !Digits(text, 8, 2, out var day)
            || !Digits(text, 11, 2, out var hour) || !Digits(text, 14, 2, out var minute) || !Digits(text, 17, 2, out var second)
            || !Digits(text, 20, 3, out var millisecond)
            || year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        value = new DateTimeOffset(year, month, day, hour, minute, second, millisecond, TimeSpan.Zero);
        return true;
    }

    private static bool Digits(string text, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            var digit = text[i] - '0';
            if ((uint)digit > 9)
            {
                return false;
            }

            value = (value * 10) + digit;
        }

        return true;
    }

    /// <summary>Drops precision below a millisecond, so a stored value reads back equal.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset value)
    {
        var utc = value.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
    }
}
