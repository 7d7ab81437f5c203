using System.Text.Json.Nodes;
using System.CommandLine;
using Mdmai.DataManager;
using Mdmai.DataManager.Configuration;
using Mdmai.DataManager.Files;
using Mdmai.DataManager.Security;

namespace Mdmai.Cli.Commands;

/// <summary><c>mdmai key change-password | add-recovery | status</c>.</summary>
internal static class KeyCommands
{
    public static readonly Option<string?> PasswordFile = new("--password-file")
    {
        Description = "Read the password from the first line of this file (else $MDMAI_PASSWORD, else a prompt)",
        Recursive = true,
    };

    public static Command Create(CliContext context)
    {
        var key = new Command("key", "The master password, the recovery key and the data keys of an encrypted data folder");
        key.Subcommands.Add(Status(context));
        key.Subcommands.Add(ChangePassword(context));
        key.Subcommands.Add(AddRecovery(context));
        key.Subcommands.Add(Rotate(context));
        return key;
    }

    /// <summary>The data folder, held alone (the key file changes) unless only read, and its key file, not unlocked.</summary>
    private sealed class KeySession(DataFolderSession session, KeyFile keys) : IAsyncDisposable
    {
        public DataFolderSession Session { get; } = session;
        public DataFolder Folder => Session.Folder;
        public KeyFile Keys { get; } = keys;

        public ValueTask DisposeAsync() => Session.DisposeAsync();
    }

    private static async Task<KeySession> OpenAsync(CliContext context, ParseResult parse, CancellationToken ct, FolderAccess access = FolderAccess.Exclusive)
    {
        var session = await context.OpenAsync(parse, ct, unlock: false, access: access);
        try
        {
            if (!File.Exists(session.Folder.KeyFilePath))
            {
                throw new MdmaiException(MdmaiErrorCode.NotFound, $"The data folder '{session.Folder.Path}' is not encrypted (no key file). Set it up with 'mdmai init --encrypt'.");
            }

            return new KeySession(session, await KeyFile.LoadAsync(session.Folder.KeyFilePath, ct));
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    private static Command Status(CliContext context)
    {
        var command = new Command("status", "Show whether encryption is on, the key epochs and whether a recovery key exists");
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await OpenAsync(context, parse, ct, FolderAccess.Shared);
            var (folder, keys) = (open.Folder, open.Keys);
            output.Report(new JsonObject { ["encryption_enabled"] = folder.Config.EncryptionEnabled, ["epochs"] = CliJson.Node(keys.Epochs), ["has_recovery_key"] = keys.HasRecoveryKey, ["kdf"] = CliJson.Node(keys.PasswordKdf) }, $"Encryption {(folder.Config.EncryptionEnabled ? "on" : "off")}; key epochs {string.Join(", ", keys.Epochs)}; recovery key {(keys.HasRecoveryKey ? "set" : "not set")}; Argon2id {keys.PasswordKdf.MemoryKib / 1024} MiB × {keys.PasswordKdf.Iterations}.");

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command ChangePassword(CliContext context)
    {
        var command = new Command("change-password", "Change the master password (rewraps the master key; no data is re-encrypted)");
        var newFile = new Option<string?>("--new-password-file") { Description = "Read the new password from this file (else $MDMAI_NEW_PASSWORD, else a prompt)" };
        command.Options.Add(newFile);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await OpenAsync(context, parse, ct);
            var folder = open.Folder;
            var current = Passwords.Read(output, context.Environment, parse.GetValue(PasswordFile), "MDMAI_PASSWORD", "Current password:", confirm: false);
            var replacement = Passwords.Read(output, context.Environment, parse.GetValue(newFile), "MDMAI_NEW_PASSWORD", "New password:", confirm: true);
            var followed = await DataManager.Backup.DataFolderBackups.ChangePasswordAsync(folder, current, replacement, context.Environment, ct);
            var backups = followed ? " The backup repository's password changed with it." : "";
            output.Report(new JsonObject { ["changed"] = true, ["backup_repository"] = backups.Length > 0 }, $"Password changed. The recovery key, if any, still works.{backups}");

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command AddRecovery(CliContext context)
    {
        var command = new Command("add-recovery", "Create a recovery key (replacing any earlier one) and print it once");
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await OpenAsync(context, parse, ct);
            var keys = open.Keys;
            var password = context.Password(parse);
            var recovery = await keys.AddRecoveryKeyAsync(password, ct);
            if (output.Json)
            {
                output.WriteJson(new JsonObject { ["recovery_key"] = recovery });
            }
            else
            {
                output.Line("Recovery key (shown only now; store it somewhere safe, away from this computer):");
                output.Line("");
                output.Line("    " + recovery);
                output.Line("");
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Rotate(CliContext context)
    {
        var command = new Command("rotate", "Start a new data key for new writes, then re-encrypt old objects with it (resumable; reads keep working)");
        var resume = new Option<bool>("--resume") { Description = "Do not start a new key; finish re-encrypting objects still on older keys" };
        command.Options.Add(resume);
        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            await using var open = await OpenAsync(context, parse, ct);
            var (folder, keys) = (open.Folder, open.Keys);
            var password = context.Password(parse);
            using (keys.Unlock(password))
            {
                // The password is checked before anything changes.
            }

            if (!parse.GetValue(resume))
            {
                await keys.AddEpochAsync(password, cancellationToken: ct);
            }

            // The store over the session's database, with the ring that holds the new epoch (the session was opened
            // before it existed, and holds the folder alone, so it cannot be opened a second time).
            using var ring = keys.Unlock(password);
            var store = new FileStore(open.Session.Database, folder.Path, ring);
            var count = await output.WithProgressAsync("Re-encrypting", null, progress => store.ReencryptAsync(progress, ct));
            output.Report(new JsonObject { ["epoch"] = ring.Current.Epoch, ["reencrypted"] = count }, $"New writes use key epoch {ring.Current.Epoch}; re-encrypted {count} object(s). If this was interrupted, run 'mdmai key rotate --resume'.");

            return ExitCodes.Ok;
        }));
        return command;
    }
}
