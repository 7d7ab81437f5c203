using System.Collections.Immutable;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Mdmai.DataManager.Tests.Architecture;

/// <summary>
/// Which of an assembly's own types each of its types uses, read from the compiled metadata and IL rather than from
/// source text: base types, interfaces, fields, signatures, locals and every type, method and field token in a method
/// body. Nested and compiler-generated types (lambdas' closures, async state machines) count for the top-level type
/// that declares them, so a use inside a lambda is the enclosing type's use.
/// </summary>
internal static class TypeReferences
{
    /// <summary>One use: a top-level type of the assembly naming another (both by namespace and name).</summary>
    public sealed record Use(string FromNamespace, string FromType, string ToNamespace, string ToType)
    {
        public override string ToString() => $"{FromNamespace}.{FromType} -> {ToNamespace}.{ToType}";
    }

    /// <summary>Every use between distinct top-level types of the assembly at <paramref name="path"/>.</summary>
    public static IReadOnlyList<Use> Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var scan = new Scan(pe, md);
        var uses = new HashSet<Use>();
        foreach (var handle in md.TypeDefinitions)
        {
            var from = scan.TopLevel(handle);
            foreach (var to in scan.UsedBy(handle))
            {
                var target = scan.TopLevel(to);
                if (target != from)
                {
                    uses.Add(new Use(scan.Namespace(from), scan.Name(from), scan.Namespace(target), scan.Name(target)));
                }
            }
        }

        return [.. uses.OrderBy(u => u.ToString(), StringComparer.Ordinal)];
    }

    private sealed class Scan(PEReader pe, MetadataReader md)
    {
        private static readonly Dictionary<ushort, OperandType> Operands = typeof(OpCodes)
            .GetFields()
            .Select(f => (OpCode)f.GetValue(null)!)
            .ToDictionary(op => (ushort)op.Value, op => op.OperandType);

        private readonly SignatureTypes types = new();

        public TypeDefinitionHandle TopLevel(TypeDefinitionHandle handle)
        {
            while (md.GetTypeDefinition(handle).GetDeclaringType() is { IsNil: false } outer)
            {
                handle = outer;
            }

            return handle;
        }

        public string Namespace(TypeDefinitionHandle handle) => md.GetString(md.GetTypeDefinition(handle).Namespace);

        public string Name(TypeDefinitionHandle handle) => md.GetString(md.GetTypeDefinition(handle).Name);

        public List<TypeDefinitionHandle> UsedBy(TypeDefinitionHandle handle)
        {
            var type = md.GetTypeDefinition(handle);
            var found = new List<TypeDefinitionHandle>();
            found.AddRange(Resolve(type.BaseType));
            foreach (var implementation in type.GetInterfaceImplementations())
            {
                found.AddRange(Resolve(md.GetInterfaceImplementation(implementation).Interface));
            }

            foreach (var parameter in type.GetGenericParameters())
            {
                foreach (var constraint in md.GetGenericParameter(parameter).GetConstraints())
                {
                    found.AddRange(Resolve(md.GetGenericParameterConstraint(constraint).Type));
                }
            }

            foreach (var field in type.GetFields())
            {
                found.AddRange(md.GetFieldDefinition(field).DecodeSignature(types, null));
            }

            foreach (var method in type.GetMethods())
            {
                var definition = md.GetMethodDefinition(method);
                var signature = definition.DecodeSignature(types, null);
                found.AddRange(signature.ReturnType);
                foreach (var parameter in signature.ParameterTypes)
                {
                    found.AddRange(parameter);
                }

                if (definition.RelativeVirtualAddress != 0)
                {
                    found.AddRange(InBody(pe.GetMethodBody(definition.RelativeVirtualAddress)));
                }
            }

            return found;
        }

        private List<TypeDefinitionHandle> InBody(MethodBodyBlock body)
        {
            var found = new List<TypeDefinitionHandle>();
            if (!body.LocalSignature.IsNil)
            {
                foreach (var local in md.GetStandaloneSignature(body.LocalSignature).DecodeLocalSignature(types, null))
                {
                    found.AddRange(local);
                }
            }

            var il = body.GetILReader();
            while (il.RemainingBytes > 0)
            {
                ushort code = il.ReadByte();
                if (code == 0xFE)
                {
                    code = (ushort)(0xFE00 | il.ReadByte());
                }

                switch (Operands[code])
                {
                    case OperandType.InlineNone:
                        break;
                    case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                        il.Offset += 1;
                        break;
                    case OperandType.InlineVar:
                        il.Offset += 2;
                        break;
                    case OperandType.InlineI8 or OperandType.InlineR:
                        il.Offset += 8;
                        break;
                    case OperandType.InlineSwitch:
                        var targets = il.ReadInt32();
                        il.Offset += 4 * targets;
                        break;
                    case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                        found.AddRange(Resolve(MetadataTokens.EntityHandle(il.ReadInt32())));
                        break;
                    default: // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR: four bytes naming nothing of ours
                        il.Offset += 4;
                        break;
                }
            }

            return found;
        }

        private ImmutableArray<TypeDefinitionHandle> Resolve(EntityHandle handle)
        {
            if (handle.IsNil)
            {
                return [];
            }

            switch (handle.Kind)
            {
                case HandleKind.TypeDefinition:
                    return [(TypeDefinitionHandle)handle];
                case HandleKind.TypeSpecification:
                    return md.GetTypeSpecification((TypeSpecificationHandle)handle).DecodeSignature(types, null);
                case HandleKind.MethodDefinition:
                    return [md.GetMethodDefinition((MethodDefinitionHandle)handle).GetDeclaringType()];
                case HandleKind.FieldDefinition:
                    return [md.GetFieldDefinition((FieldDefinitionHandle)handle).GetDeclaringType()];
                case HandleKind.MemberReference:
                    return Resolve(md.GetMemberReference((MemberReferenceHandle)handle).Parent);
                case HandleKind.MethodSpecification:
                    var specification = md.GetMethodSpecification((MethodSpecificationHandle)handle);
                    return [.. Resolve(specification.Method), .. specification.DecodeSignature(types, null).SelectMany(t => t)];
                default: // type references (other assemblies), module references
                    return [];
            }
        }
    }

    /// <summary>Decodes a signature into the assembly's own type definitions it names.</summary>
    private sealed class SignatureTypes : ISignatureTypeProvider<ImmutableArray<TypeDefinitionHandle>, object?>
    {
        public ImmutableArray<TypeDefinitionHandle> GetArrayType(ImmutableArray<TypeDefinitionHandle> elementType, ArrayShape shape) => elementType;

        public ImmutableArray<TypeDefinitionHandle> GetByReferenceType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

        public ImmutableArray<TypeDefinitionHandle> GetFunctionPointerType(MethodSignature<ImmutableArray<TypeDefinitionHandle>> signature) =>
            [.. signature.ReturnType, .. signature.ParameterTypes.SelectMany(p => p)];

        public ImmutableArray<TypeDefinitionHandle> GetGenericInstantiation(ImmutableArray<TypeDefinitionHandle> genericType, ImmutableArray<ImmutableArray<TypeDefinitionHandle>> typeArguments) =>
            [.. genericType, .. typeArguments.SelectMany(a => a)];

        public ImmutableArray<TypeDefinitionHandle> GetGenericMethodParameter(object? genericContext, int index) => [];

        public ImmutableArray<TypeDefinitionHandle> GetGenericTypeParameter(object? genericContext, int index) => [];

        public ImmutableArray<TypeDefinitionHandle> GetModifiedType(ImmutableArray<TypeDefinitionHandle> modifier, ImmutableArray<TypeDefinitionHandle> unmodifiedType, bool isRequired) => unmodifiedType;

        public ImmutableArray<TypeDefinitionHandle> GetPinnedType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

        public ImmutableArray<TypeDefinitionHandle> GetPointerType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

        public ImmutableArray<TypeDefinitionHandle> GetPrimitiveType(PrimitiveTypeCode typeCode) => [];

        public ImmutableArray<TypeDefinitionHandle> GetSZArrayType(ImmutableArray<TypeDefinitionHandle> elementType) => elementType;

        public ImmutableArray<TypeDefinitionHandle> GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => [handle];

        public ImmutableArray<TypeDefinitionHandle> GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => [];

        public ImmutableArray<TypeDefinitionHandle> GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) =>
            reader.GetTypeSpecification(handle).DecodeSignature(this, genericContext);
    }
}
