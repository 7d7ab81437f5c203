using Mdmai.DataManager;
using Spectre.Console;

namespace Mdmai.Cli;

/// <summary>
/// Where a password comes from, in order: a file given by option (first line), an environment variable,
/// or a prompt on a terminal. Never from a command-line argument, which other users can see.
/// </summary>
internal static class Passwords
{
    public static string Read(Output output, Func<string, string?> environment, string? file, string variable, string prompt, bool confirm)
    {
        if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw new MdmaiException(MdmaiErrorCode.NotFound, $"No password file at '{file}'.");
            }

            var line = File.ReadLines(file).FirstOrDefault() ?? "";
            return line.Length > 0 ? line : throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"The password file '{file}' is empty.");
        }

        if (environment(variable) is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment;
        }

        if (!output.Interactive)
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument,
                $"A password is needed: set {variable}, pass a password file, or run on a terminal to be asked.");
        }

        var password = output.Console.Prompt(new TextPrompt<string>(prompt).Secret());
        if (confirm && password != output.Console.Prompt(new TextPrompt<string>("Repeat it:").Secret()))
        {
            throw new MdmaiException(MdmaiErrorCode.InvalidArgument, "The two passwords differ; nothing was changed.");
        }

        return password;
    }
}
