namespace Mdmai.DataManager.IO;

/// <summary>
/// The data folder's lock: an exclusive advisory lock on <c>.mdmai.lock</c>, held by the app (the facade) while it has
/// the folder open and by an in-place restore while it swaps the folder's items; released when its holder ends, however
/// it ends. A second holder gets <see cref="MdmaiErrorCode.Locked"/> naming the process that has it.
/// </summary>
internal static class FolderLock
{
    public const string FileName = ".mdmai.lock";

    public static FileStream Acquire(string folder)
    {
        var path = Path.Combine(folder, FileName);
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            stream.SetLength(0);
            stream.Write(System.Text.Encoding.UTF8.GetBytes($"{Environment.ProcessId} {Environment.MachineName} {DateTimeOffset.UtcNow:O}\n"));
            stream.Flush();
            return stream;
        }
        catch (IOException ex)
        {
            var holder = "";
            try
            {
                // Not through a FileStream by path: .NET takes an advisory lock of its own to open a file, which the
                // holder's exclusive lock refuses. A plain open(2) reads the holder's line.
                using var handle = UnixFileCalls.TryOpenForReading(path);
                if (handle is not null)
                {
                    using var text = new StreamReader(new FileStream(handle, FileAccess.Read));
                    holder = $" (process {text.ReadLine()?.Split(' ')[0]})";
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // who holds it is only for the message
            }

            throw new MdmaiException(MdmaiErrorCode.Locked, $"The data folder '{folder}' is open in another process{holder}. Close it there first; two processes never write to one folder.", ex);
        }
    }
}
