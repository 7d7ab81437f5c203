using System.CommandLine;
using Mdmai.Cli.Commands;
using Mdmai.DataManager;
using Mdmai.DataManager.Configuration;

namespace Mdmai.Cli;

/// <summary>The <c>mdmai</c> command line: thin commands over the library, each with <c>--json</c> and documented exit codes.</summary>
internal static class MdmaiCli
{
    public static readonly Option<string?> DataDir = new("--data-dir")
    {
        Description = "Data folder (default: $MDMAI_HOME, else $XDG_DATA_HOME/mdmai, else ~/.local/share/mdmai)",
        Recursive = true,
    };

    public static readonly Option<bool> Json = new("--json")
    {
        Description = "Print machine-readable JSON (and no progress bars)",
        Recursive = true,
    };

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, bool interactive, CancellationToken cancellationToken = default)
    {
        var context = new CliContext(stdout, stderr, environment, interactive);
        var parse = Root(context, wholeEntity: null).Parse(args);
        if (EntityCommands.Invoked(parse) is { } entity)
        {
            parse = Root(context, entity).Parse(args); // that entity's command, made whole this time
        }

        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
            {
                await stderr.WriteLineAsync($"mdmai: {error.Message}");
            }

            await stderr.WriteLineAsync("Run 'mdmai --help' for usage.");
            return ExitCodes.Usage;
        }

        // Ctrl+C, or the caller (a test stopping a long-running command such as serve).
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false }, cancel.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>The command tree; of the entity commands only <paramref name="wholeEntity"/> is made whole (see <see cref="EntityCommands.CreateAll"/>).</summary>
    private static RootCommand Root(CliContext context, string? wholeEntity)
    {
        var root = new RootCommand("mdmai — the MDMAI data manager: campaigns, characters, NPCs, sessions and compendia in a local SQLite database.");
        root.Options.Add(DataDir);
        root.Options.Add(Json);
        root.Options.Add(KeyCommands.PasswordFile);
        foreach (var command in GeneralCommands.Create(context).Concat(EntityCommands.CreateAll(context, wholeEntity)).Append(DbCommands.Create(context)).Append(KeyCommands.Create(context)).Append(DupesCommand.Create(context)).Append(FilesCommands.Create(context)).Append(BackupCommands.Create(context)).Concat(IntegrityCommands.Create(context)).Append(ServeCommand.Create(context)))
        {
            root.Subcommands.Add(command);
        }

        return root;
    }
}

/// <summary>What every command needs: output, the data folder, and one place that turns errors into exit codes.</summary>
internal sealed class CliContext(TextWriter stdout, TextWriter stderr, Func<string, string?> environment, bool interactive)
{
    public Func<string, string?> Environment => environment;

    public Output OutputFor(ParseResult parse) => new(stdout, stderr, parse.GetValue(MdmaiCli.Json), interactive);

    public string DataPath(ParseResult parse) => parse.GetValue(MdmaiCli.DataDir) is { Length: > 0 } dir
        ? Path.GetFullPath(dir)
        : DataFolder.ResolveDefaultPath(environment);

    public static bool UsesDefaultFolder(ParseResult parse) => parse.GetValue(MdmaiCli.DataDir) is not { Length: > 0 };

    /// <summary>Runs a command body, mapping every failure to its message and exit code.</summary>
    public async Task<int> RunAsync(ParseResult parse, Func<Output, Task<int>> body)
    {
        var output = OutputFor(parse);
        _output = output;
        try
        {
            return await body(output);
        }
        catch (OperationCanceledException)
        {
            output.Error(new MdmaiException(MdmaiErrorCode.Unknown, "Cancelled; nothing more was written."));
            return ExitCodes.Cancelled;
        }
        catch (MdmaiException ex)
        {
            output.Error(ex);
            return ExitCodes.For(ex.Code);
        }
        catch (IOException ex) when (MdmaiException.IsDiskFull(ex))
        {
            var error = new MdmaiException(MdmaiErrorCode.DiskFull, $"The disk is full: {ex.Message}. Free some space and try again.", ex);
            output.Error(error);
            return ExitCodes.For(error.Code);
        }
        catch (UnauthorizedAccessException ex)
        {
            var error = new MdmaiException(MdmaiErrorCode.ReadOnly, $"Permission denied: {ex.Message}", ex);
            output.Error(error);
            return ExitCodes.For(error.Code);
        }
        catch (IOException ex)
        {
            output.Error(new MdmaiException(MdmaiErrorCode.Unknown, ex.Message, ex));
            return ExitCodes.Failure;
        }
    }
    private Output? _output;

    /// <summary>
    /// Opens the data folder (the library's one way: lock, config, keys, database, file store); a missing folder says to
    /// run init. On an encrypted folder, <paramref name="unlock"/> asks for the password (to read and write sensitive
    /// fields and stored files). Commands that change the file store or the folder as a whole ask for
    /// <see cref="FolderAccess.Exclusive"/>; the rest share the folder with each other (never with the open app).
    /// </summary>
    public Task<DataFolderSession> OpenAsync(ParseResult parse, CancellationToken cancellationToken, bool unlock = true, FolderAccess access = FolderAccess.Shared, bool migrate = true) =>
        DataFolderSession.OpenAsync(DataPath(parse), new DataFolderSessionOptions
        {
            Access = access,
            Unlock = unlock,
            Migrate = migrate,
            Password = () => Password(parse),
        }, cancellationToken);

    /// <summary>The data folder's password (<c>--password-file</c>, else <c>$MDMAI_PASSWORD</c>, else a prompt), asked once per command.</summary>
    public string Password(ParseResult parse) =>
        _password ??= Passwords.Read(_output ?? OutputFor(parse), environment, parse.GetValue(Commands.KeyCommands.PasswordFile), "MDMAI_PASSWORD", "Password:", confirm: false);

    private string? _password;
}
