using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Mdmai.Dashboard;
using Mdmai.DataManager;
using Mdmai.DataManager.Configuration;

namespace Mdmai.Cli.Commands;

/// <summary><c>mdmai serve [--port N] [--open] [--bind ADDRESS --allow-remote]</c>: the web dashboard over the data folder (docs/dashboard.md).</summary>
internal static class ServeCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("serve", "Serve the web dashboard on 127.0.0.1 and print its sign-in URL; runs until Ctrl+C (the app's background work runs meanwhile)");
        var port = new Option<int>("--port") { Description = "Port to listen on (default 0: a free one)", DefaultValueFactory = _ => 0 };
        var open = new Option<bool>("--open") { Description = "Open the sign-in URL in the default browser" };
        var bind = new Option<string?>("--bind") { Description = "Address to listen on (default 127.0.0.1); anything else needs --allow-remote" };
        var allowRemote = new Option<bool>("--allow-remote") { Description = "Allow an address other computers can reach: DANGEROUS, anyone on that network who learns the token gets all your data, over plain HTTP" };
        foreach (var option in new Option[] { port, open, bind, allowRemote })
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, ct) => context.RunAsync(parse, async output =>
        {
            var address = IPAddress.Loopback;
            if (parse.GetValue(bind) is { Length: > 0 } text && !IPAddress.TryParse(text, out address!))
            {
                throw new MdmaiException(MdmaiErrorCode.InvalidArgument, $"'{text}' is not an IP address.");
            }

            var path = context.DataPath(parse);
            if (CliContext.UsesDefaultFolder(parse) && !DataFolder.Exists(path))
            {
                await DataFolder.InitAsync(path, cancellationToken: ct);
            }

            var folder = await DataFolder.OpenAsync(path, ct);
            var password = folder.Config.EncryptionEnabled ? context.Password(parse) : null;
            await using var manager = await MdmaiDataManager.OpenAsync(new DataManagerOptions { DataFolder = path, CreateIfMissing = false }, password, ct);
            manager.BackgroundFailed += (_, ex) => output.Warn($"background work failed: {ex.Message}");
            await using var server = await DashboardServer.StartAsync(manager, new DashboardOptions
            {
                Address = address,
                Port = parse.GetValue(port),
                AllowRemote = parse.GetValue(allowRemote),
                Password = password,
                Environment = context.Environment,
            }, ct);
            if (!IPAddress.IsLoopback(address))
            {
                output.Warn($"listening on {address}, which other computers can reach: keep the token secret; the traffic is not encrypted.");
            }

            if (output.Json)
            {
                output.WriteJsonLine(new JsonObject { ["url"] = server.SignInUrl.ToString(), ["token"] = server.Token, ["address"] = server.Url.ToString(), ["data_dir"] = path });
            }
            else
            {
                output.Line($"MDMAI dashboard for {path}");
                output.Line($"Open {server.SignInUrl} to sign in (the link holds this launch's token: keep it to yourself). Ctrl+C stops it.");
            }

            output.Flush();
            if (parse.GetValue(open))
            {
                TryOpenBrowser(server.SignInUrl);
            }

            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                // Ctrl+C: stop serving, then close the folder (the shutdown backup, if configured, runs then)
            }

            return ExitCodes.Ok;
        }));
        return command;
    }

    private static void TryOpenBrowser(Uri url)
    {
        try
        {
            var opener = OperatingSystem.IsWindows() ? "explorer" : OperatingSystem.IsMacOS() ? "open" : "xdg-open";
            using var _ = Process.Start(new ProcessStartInfo(opener, url.ToString()) { UseShellExecute = false });
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            // no browser here: the URL is printed
        }
    }
}
