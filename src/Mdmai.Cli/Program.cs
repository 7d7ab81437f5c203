using System.Text;
using Mdmai.Cli;

NativeMemory.LimitArenas();

// Output that goes to a file or a pipe is buffered and flushed at the end (a report of thousands of lines was a write
// call a line, a fifth of a 3,000-file `dupes`); what must be seen at once is flushed by its command (serve's first line).
var redirected = Console.IsOutputRedirected;
var stdout = redirected ? new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), 1 << 16) : Console.Out;
try
{
    return await MdmaiCli.RunAsync(args, stdout, Console.Error, Environment.GetEnvironmentVariable, interactive: !redirected);
}
finally
{
    stdout.Flush();
}
