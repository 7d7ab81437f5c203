using System.Text.Json;
using System.Text.Json.Nodes;
using Mdmai.DataManager.Storage;
using Mdmai.DataManager.Storage.Entities;

namespace Mdmai.DataManager.Tests;

public sealed class EntityJsonTests
{
    private static Npc SampleNpc()
    {
        var npc = Samples.Npc(Guid.Parse("0195a3c4-7b2e-7c3d-8e4f-5a6b7c8d9e0f"));
        npc.Id = Guid.Parse("0195A3C4-0000-7000-8000-00000000ABCD");
        npc.CreatedAt = new DateTimeOffset(2026, 11, 25, 19, 8, 0, TimeSpan.FromHours(2)).AddMilliseconds(123);
        npc.UpdatedAt = npc.CreatedAt;
        return npc;
    }

    public static TheoryData<Type> PublicEnums() => [.. typeof(EntityJson).Assembly.GetExportedTypes().Where(t => t.IsEnum)];

    [Theory]
    [MemberData(nameof(PublicEnums))]
    public void Every_public_enum_of_the_library_is_written_as_its_text(Type enumType)
    {
        // The converters are listed by hand (native AOT cannot make one per type at run time): a new enum must join the list.
        Assert.Contains(DataManagerJson.EnumConverters(), c => c.Type == enumType);
        var options = new JsonSerializerOptions(DataManagerJson.Options) { TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver() };
        foreach (var value in Enum.GetValues(enumType))
        {
            Assert.Equal($"\"{EnumText.ToText(enumType, value)}\"", JsonSerializer.Serialize(value, enumType, options));
        }
    }

    [Fact]
    public void Serialize_writes_snake_case_fields_enum_texts_lowercase_ids_and_the_one_timestamp_format()
    {
        var json = JsonSerializer.Serialize(SampleNpc(), EntityJson.Options);
        var node = JsonNode.Parse(json)!.AsObject();

        Assert.Equal("quest_giver", (string?)node["role"]);
        Assert.Equal("major", (string?)node["importance"]);
        Assert.Equal("0195a3c4-0000-7000-8000-00000000abcd", (string?)node["id"]);
        Assert.Equal("0195a3c4-7b2e-7c3d-8e4f-5a6b7c8d9e0f", (string?)node["campaign_id"]);
        Assert.Equal("2026-11-25T17:08:00.123Z", (string?)node["created_at"]);
        Assert.True((bool)node["is_alive"]!);
        Assert.Equal("mentor", (string?)node["relationships"]!["ezmerelda"]);
        Assert.DoesNotContain("Role", json, StringComparison.Ordinal);
    }

    [Fact]
    public void Deserialize_reads_back_what_serialize_wrote()
    {
        var npc = SampleNpc();
        var back = EntityJson.Deserialize<Npc>(JsonSerializer.Serialize(npc, EntityJson.Indented));
        Samples.AssertSameFields(npc, back);
    }

    [Fact]
    public void An_unknown_enum_text_is_InvalidEnumValue_naming_the_field()
    {
        var error = Assert.Throws<MdmaiException>(() => EntityJson.Deserialize<Npc>("""{"name":"Strahd","role":"villain"}"""));
        Assert.Equal(MdmaiErrorCode.InvalidEnumValue, error.Code);
        Assert.Contains("role", error.Message, StringComparison.Ordinal);
        Assert.Contains("villain", error.Message, StringComparison.Ordinal);
        Assert.Contains("quest_giver", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_enum_given_by_member_name_is_refused()
    {
        var error = Assert.Throws<MdmaiException>(() => EntityJson.Deserialize<Item>("""{"name":"Gem","rarity":"VeryRare"}"""));
        Assert.Equal(MdmaiErrorCode.InvalidEnumValue, error.Code);
        Assert.Contains("rarity", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"name":"Strahd","nickname":"the count"}""", "nickname")]
    [InlineData("""{"name":"Strahd","is_alive":"maybe"}""", "is_alive")]
    [InlineData("""{"name":"Strahd","created_at":"yesterday"}""", "created_at")]
    [InlineData("""{"name":"Strahd","role":3}""", "role")]
    public void A_wrong_field_is_MalformedJson_naming_it(string json, string field)
    {
        var error = Assert.Throws<MdmaiException>(() => EntityJson.Deserialize<Npc>(json));
        Assert.Equal(MdmaiErrorCode.MalformedJson, error.Code);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"name\": ")]
    [InlineData("not json")]
    [InlineData("null")]
    public void Text_that_is_not_an_object_is_MalformedJson(string json)
    {
        Assert.Equal(MdmaiErrorCode.MalformedJson, Assert.Throws<MdmaiException>(() => EntityJson.Deserialize<Campaign>(json)).Code);
    }

    [Fact]
    public void Timestamps_format_in_utc_with_milliseconds_and_parse_leniently()
    {
        var moment = new DateTimeOffset(2026, 11, 25, 20, 8, 0, TimeSpan.FromHours(1)).AddTicks(1_239_999);
        Assert.Equal("2026-11-25T19:08:00.123Z", Timestamps.Format(moment));
        Assert.Equal(Timestamps.Truncate(moment), Timestamps.Parse("2026-11-25T19:08:00.123Z"));
        Assert.Equal(Timestamps.Truncate(moment), Timestamps.Parse("2026-11-25T20:08:00.1239999+01:00"));
        Assert.Equal(MdmaiErrorCode.InvalidArgument, Assert.Throws<MdmaiException>(() => Timestamps.Parse("next tuesday")).Code);
    }

    [Theory]
    [InlineData("0001-01-01T00:00:00.000Z")]
    [InlineData("2024-02-29T23:59:59.999Z")]
    [InlineData("9999-12-31T23:59:59.999Z")]
    [InlineData("2026-11-25T19:08:00.007Z")]
    public void The_canonical_fast_path_agrees_with_the_general_parser(string text)
    {
        var general = DateTimeOffset.ParseExact(text, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal);
        Assert.Equal(general, Timestamps.Parse(text));
        Assert.Equal(TimeSpan.Zero, Timestamps.Parse(text).Offset);
        Assert.Equal(text, Timestamps.Format(Timestamps.Parse(text)));
    }

    [Theory]
    [InlineData("2023-02-29T00:00:00.000Z")] // not a leap year
    [InlineData("2026-13-01T00:00:00.000Z")]
    [InlineData("2026-11-31T00:00:00.000Z")]
    [InlineData("2026-11-25T24:00:00.000Z")]
    [InlineData("2026-11-25T19:60:00.000Z")]
    [InlineData("2026-11-25T19:08:0x.000Z")]
    [InlineData("0000-01-01T00:00:00.000Z")]
    public void A_canonical_looking_but_impossible_moment_is_refused(string text)
    {
        Assert.Equal(MdmaiErrorCode.InvalidArgument, Assert.Throws<MdmaiException>(() => Timestamps.Parse(text)).Code);
    }
}
