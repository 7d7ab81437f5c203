namespace Mdmai.DataManager.Backup.Internal;

/// <summary>What the backup's pipelines (archiver, restorer) share about the failures of their stages.</summary>
internal static class Pipeline
{
    /// <summary>The failure that ended a pipeline: the first of its tasks' failures that is not a consequence of another.</summary>
    internal static Exception? FirstFailure(IEnumerable<Task> tasks) =>
        tasks.Where(t => t.IsFaulted).SelectMany(t => t.Exception!.InnerExceptions).FirstOrDefault(e => !IsConsequence(e));

    /// <summary>
    /// Not a failure of its own: a cancellation, or a channel found closed — what the other stages see once the failing
    /// one has cancelled the run and its channels were closed.
    /// </summary>
    internal static bool IsConsequence(Exception e) => e is OperationCanceledException or System.Threading.Channels.ChannelClosedException;
}
