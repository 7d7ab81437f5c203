using System.Globalization;

namespace Mdmai.Bench;

/// <summary>Command-line options: <c>--name value</c> pairs and bare words.</summary>
public sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    /// <summary>Words that are not options, in order.</summary>
    public List<string> Positional { get; } = [];

    /// <summary>Parses <paramref name="args"/>; <c>--flag</c> without a value (or followed by another option) is "true".</summary>
    public static Options Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new Options();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                var name = arg[2..];
                var eq = name.IndexOf('=', StringComparison.Ordinal);
                if (eq >= 0)
                {
                    options._values[name[..eq]] = name[(eq + 1)..];
                }
                else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    options._values[name] = args[++i];
                }
                else
                {
                    options._values[name] = "true";
                }
            }
            else
            {
                options.Positional.Add(arg);
            }
        }

        return options;
    }

    /// <summary>Whether the option was given.</summary>
    public bool Has(string name) => _values.ContainsKey(name);

    /// <summary>A text option.</summary>
    public string Get(string name, string fallback) => _values.TryGetValue(name, out var v) ? v : fallback;

    /// <summary>A text option that must be given.</summary>
    public string Require(string name) => _values.TryGetValue(name, out var v) ? v : throw new ArgumentException($"--{name} is required.");

    /// <summary>An integer option; accepts <c>1_000_000</c>, <c>1,000,000</c>, <c>100k</c> and <c>1M</c>.</summary>
    public long GetLong(string name, long fallback)
    {
        if (!_values.TryGetValue(name, out var text))
        {
            return fallback;
        }

        return ParseCount(text) ?? throw new ArgumentException($"--{name}: '{text}' is not a number.");
    }

    /// <summary>A number option.</summary>
    public double GetDouble(string name, double fallback) =>
        _values.TryGetValue(name, out var text)
            ? double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw new ArgumentException($"--{name}: '{text}' is not a number.")
            : fallback;

    /// <summary>Parses 1000000, 1_000_000, 1,000,000, 100k, 1M.</summary>
    public static long? ParseCount(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Replace("_", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal).Trim();
        long multiplier = 1;
        if (t.EndsWith('k') || t.EndsWith('K'))
        {
            multiplier = 1000;
            t = t[..^1];
        }
        else if (t.EndsWith('m') || t.EndsWith('M'))
        {
            multiplier = 1_000_000;
            t = t[..^1];
        }

        return long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n * multiplier : null;
    }

    /// <summary>The option as command-line words again (to hand to a child).</summary>
    public IEnumerable<string> ToArgs()
    {
        foreach (var (k, v) in _values)
        {
            yield return "--" + k;
            yield return v;
        }
    }
}
