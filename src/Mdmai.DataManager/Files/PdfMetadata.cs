using System.Text.Json.Nodes;
using UglyToad.PdfPig;

namespace Mdmai.DataManager.Files;

/// <summary>
/// Page count and title of a PDF, read with PdfPig from a seekable source. PdfPig reads only the trailer,
/// cross-reference table, catalog and page tree — a small part of a large rulebook — through the stream
/// without loading the file.
/// </summary>
internal static class PdfMetadata
{
    public static void Read(Stream source, JsonObject metadata)
    {
        try
        {
            using var document = PdfDocument.Open(source, new ParsingOptions { UseLenientParsing = true, SkipMissingFonts = true });
            metadata["page_count"] = document.NumberOfPages;
            if (document.Information.Title is { Length: > 0 } title)
            {
                metadata["title"] = title;
            }
        }
#pragma warning disable CA1031 // metadata is optional: a PDF PdfPig cannot parse is still stored, just without it
        catch (Exception)
#pragma warning restore CA1031
        {
            metadata["pdf_unreadable"] = true;
        }
    }
}
