using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace Mdmai.DataManager.Files;

/// <summary>MIME type by magic bytes, and image dimensions, from the first bytes of a file (the import's sample).</summary>
internal static class ContentSniffer
{
    public static string MimeType(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("%PDF-"u8)) return "application/pdf";
        if (head.StartsWith((ReadOnlySpan<byte>)[(byte)0x89, (byte)'P', (byte)'N', (byte)'G', (byte)0x0D, (byte)0x0A, (byte)0x1A, (byte)0x0A])) return "image/png";
        if (head.StartsWith((ReadOnlySpan<byte>)[(byte)0xFF, (byte)0xD8, (byte)0xFF])) return "image/jpeg";
        if (head.StartsWith("GIF87a"u8) || head.StartsWith("GIF89a"u8)) return "image/gif";
        if (head.Length >= 12 && head.StartsWith("RIFF"u8) && head[8..12].SequenceEqual("WEBP"u8)) return "image/webp";
        if (head.Length >= 12 && head.StartsWith("RIFF"u8) && head[8..12].SequenceEqual("WAVE"u8)) return "audio/wav";
        if (head.StartsWith("OggS"u8)) return "audio/ogg";
        if (head.StartsWith("fLaC"u8)) return "audio/flac";
        if (head.StartsWith("ID3"u8) || head.StartsWith((ReadOnlySpan<byte>)[(byte)0xFF, (byte)0xFB])) return "audio/mpeg";
        if (head.Length >= 12 && head[4..8].SequenceEqual("ftyp"u8)) return "video/mp4";
        if (head.StartsWith((ReadOnlySpan<byte>)[(byte)0x1A, (byte)0x45, (byte)0xDF, (byte)0xA3])) return "video/webm";
        if (head.StartsWith("PK\u0003\u0004"u8)) return "application/zip";
        if (head.StartsWith((ReadOnlySpan<byte>)[(byte)0x28, (byte)0xB5, (byte)0x2F, (byte)0xFD])) return "application/zstd";
        if (head.StartsWith((ReadOnlySpan<byte>)[(byte)0x1F, (byte)0x8B])) return "application/gzip";
        if (head.IsEmpty) return "application/octet-stream";
        return LooksLikeText(head) ? "text/plain" : "application/octet-stream";
    }

    private static bool LooksLikeText(ReadOnlySpan<byte> head)
    {
        if (head.Contains((byte)0))
        {
            return false;
        }

        // A sample may end inside a multi-byte character: judge all but the last three bytes.
        var body = head.Length > 3 ? head[..^3] : head;
        try
        {
            _ = new UTF8Encoding(false, throwOnInvalidBytes: true).GetCharCount(body);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>Width and height of PNG, GIF, WebP and JPEG images when the sample holds them.</summary>
    public static JsonObject Metadata(string mime, ReadOnlySpan<byte> head)
    {
        var metadata = new JsonObject();
        if (Dimensions(mime, head) is var (width, height))
        {
            metadata["width"] = width;
            metadata["height"] = height;
        }

        return metadata;
    }

    private static (int Width, int Height)? Dimensions(string mime, ReadOnlySpan<byte> head)
    {
        switch (mime)
        {
            case "image/png" when head.Length >= 24:
                return (BinaryPrimitives.ReadInt32BigEndian(head[16..20]), BinaryPrimitives.ReadInt32BigEndian(head[20..24]));
            case "image/gif" when head.Length >= 10:
                return (BinaryPrimitives.ReadUInt16LittleEndian(head[6..8]), BinaryPrimitives.ReadUInt16LittleEndian(head[8..10]));
            case "image/webp" when head.Length >= 30:
                var chunk = head[12..16];
                if (chunk.SequenceEqual("VP8X"u8))
                {
                    return (1 + (head[24] | (head[25] << 8) | (head[26] << 16)), 1 + (head[27] | (head[28] << 8) | (head[29] << 16)));
                }

                if (chunk.SequenceEqual("VP8L"u8) && head[20] == 0x2F)
                {
                    var bits = BinaryPrimitives.ReadUInt32LittleEndian(head[21..25]);
                    return ((int)(bits & 0x3FFF) + 1, (int)((bits >> 14) & 0x3FFF) + 1);
                }

                if (chunk.SequenceEqual("VP8 "u8))
                {
                    return (BinaryPrimitives.ReadUInt16LittleEndian(head[26..28]) & 0x3FFF, BinaryPrimitives.ReadUInt16LittleEndian(head[28..30]) & 0x3FFF);
                }

                return null;
            case "image/jpeg":
                return JpegDimensions(head);
            default:
                return null;
        }
    }

    private static (int, int)? JpegDimensions(ReadOnlySpan<byte> data)
    {
        var i = 2;
        while (i + 9 < data.Length)
        {
            if (data[i] != 0xFF)
            {
                return null;
            }

            var marker = data[i + 1];
            if (marker is 0xD8 or 0x01 or (>= 0xD0 and <= 0xD7))
            {
                i += 2;
                continue;
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(data[(i + 2)..(i + 4)]);
            // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                return (BinaryPrimitives.ReadUInt16BigEndian(data[(i + 7)..(i + 9)]), BinaryPrimitives.ReadUInt16BigEndian(data[(i + 5)..(i + 7)]));
            }

            i += 2 + length;
        }

        return null;
    }

    /// <summary>The category a file gets when the caller names none.</summary>
    public static FileCategory DefaultCategory(string mime) => mime switch
    {
        "application/pdf" or "text/plain" => FileCategory.Document,
        _ when mime.StartsWith("audio/", StringComparison.Ordinal) => FileCategory.Audio,
        _ when mime.StartsWith("video/", StringComparison.Ordinal) => FileCategory.Video,
        _ => FileCategory.Other,
    };
}
