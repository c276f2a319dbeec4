using System.Globalization;
using System.Text;

namespace Wetware.Capnp.Generator.C;

/// <summary>
/// Turns a CodeGeneratorRequest into C for the guest SDK's runtime (guest/sdk/include/cp.h): per
/// requested file a header of typed, bounds-checked readers and builders (static inline accessors
/// over <c>cp_struct</c>/<c>cp_struct_b</c>) and a source file with the schema's pointer defaults
/// and non-scalar constants.
/// </summary>
/// <remarks>
/// Names are the file's prefix (its base name: <c>system.capnp</c> gives <c>system</c>) and the
/// type's path joined with <c>_</c> (<c>system_Executor_echo_Params</c>). Cap'n Proto names never
/// contain <c>_</c>, so the accessor forms (<c>T_get_x</c>, <c>T_set_x</c>, <c>T_init_x</c>,
/// <c>T_has_x</c>, <c>T_which</c>, <c>T_which_x</c>) cannot collide with each other or with
/// types; constants that would collide with a generated function get a <c>_</c> suffix.
/// </remarks>
internal sealed class CGenerator
{
    private readonly Dictionary<ulong, NodeReader> _nodes = [];
    private readonly Dictionary<ulong, string> _name = [];
    private readonly Dictionary<ulong, ulong> _fileOf = [];
    private readonly Dictionary<ulong, List<ulong>> _children = [];
    private readonly HashSet<string> _taken = [];

    public CGenerator(RequestReader request)
    {
        foreach (NodeReader n in request.Nodes)
        {
            _nodes[n.Id] = n;
        }
        // Types first in every file, so that constants never take a type's name.
        List<NodeReader> files = [.. _nodes.Values.Where(n => n.Kind == NodeKind.File).OrderBy(n => n.DisplayName, StringComparer.Ordinal)];
        foreach (NodeReader f in files)
        {
            AssignTypeNames(f, f.Id, FilePrefix(f));
        }
        foreach (NodeReader f in files)
        {
            AssignConstNames(f, FilePrefix(f));
        }
    }

    /// <summary>The C prefix of a file: its base name without <c>.capnp</c>, as a C identifier.</summary>
    public static string FilePrefix(NodeReader file)
    {
        string name = Path.GetFileName(file.DisplayName);
        if (name.EndsWith(".capnp", StringComparison.Ordinal))
        {
            name = name[..^6];
        }
        var sb = new StringBuilder();
        foreach (char c in name)
        {
            sb.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
        }
        string s = sb.ToString();
        return s.Length == 0 || char.IsAsciiDigit(s[0]) ? "_" + s : s;
    }

    private string Take(string name)
    {
        while (!_taken.Add(name))
        {
            name += "_";
        }
        return name;
    }

    private void AssignTypeNames(NodeReader scope, ulong file, string prefix)
    {
        var children = new List<ulong>();
        _children[scope.Id] = children;
        void Add(ulong id, string name)
        {
            if (!_nodes.TryGetValue(id, out NodeReader n) || n.Kind is NodeKind.Annotation or NodeKind.Const or NodeKind.File || _name.ContainsKey(id))
            {
                return;
            }
            _name[id] = Take(prefix + "_" + name);
            _fileOf[id] = file;
            children.Add(id);
        }
        foreach (NestedNodeReader nn in scope.NestedNodes)
        {
            Add(nn.Id, nn.Name);
        }
        if (scope.Kind == NodeKind.Struct)
        {
            foreach (FieldReader f in scope.Fields)
            {
                if (f.IsGroup)
                {
                    Add(f.GroupTypeId, Naming.Pascal(f.Name));
                }
            }
            // The struct's own functions, so that a constant in its scope does not take their names.
            foreach (string fn in new[] { "read", "root", "init", "which" })
            {
                _taken.Add(prefix + "_" + fn);
            }
        }
        if (scope.Kind == NodeKind.Interface)
        {
            foreach (MethodReader m in scope.Methods)
            {
                _taken.Add(prefix + "_" + m.Name);
                foreach (ulong id in new[] { m.ParamStructType, m.ResultStructType })
                {
                    if (_nodes.TryGetValue(id, out NodeReader p) && p.ShortName.Contains('$')
                        && p.DisplayName.StartsWith(scope.DisplayName + ".", StringComparison.Ordinal))
                    {
                        Add(id, p.ShortName[(p.ShortName.LastIndexOf('.') + 1)..].Replace('$', '_'));
                    }
                }
            }
        }
        foreach (ulong id in children)
        {
            NodeReader n = _nodes[id];
            if (n.Kind is NodeKind.Struct or NodeKind.Interface)
            {
                AssignTypeNames(n, file, _name[id]);
            }
        }
    }

    private void AssignConstNames(NodeReader scope, string prefix)
    {
        foreach (NestedNodeReader nn in scope.NestedNodes)
        {
            if (!_nodes.TryGetValue(nn.Id, out NodeReader n))
            {
                continue;
            }
            if (n.Kind == NodeKind.Const)
            {
                _name[n.Id] = Take(prefix + "_" + nn.Name);
            }
            else if (n.Kind is NodeKind.Struct or NodeKind.Interface && _name.TryGetValue(n.Id, out string? inner))
            {
                AssignConstNames(n, inner);
            }
        }
        if (scope.Kind == NodeKind.Struct)
        {
            foreach (FieldReader f in scope.Fields)
            {
                if (f.IsGroup && _nodes.TryGetValue(f.GroupTypeId, out NodeReader g))
                {
                    AssignConstNames(g, _name[g.Id]);
                }
            }
        }
    }

    /// <summary>The header and source for one requested file.</summary>
    public (string Header, string Source) Generate(ulong fileId)
    {
        NodeReader file = _nodes[fileId];
        string prefix = FilePrefix(file);
        var types = new List<NodeReader>();
        Collect(fileId, types);
        List<NodeReader> structs = [.. types.Where(n => n.Kind == NodeKind.Struct)];

        var h = new CodeWriter();
        var c = new CodeWriter();
        string guard = "CAPNPC_C_" + Guard(file.DisplayName) + "_H";
        h.Line($"/* Generated by capnpc-c from {file.DisplayName}. Do not edit. */");
        h.Line($"#ifndef {guard}");
        h.Line($"#define {guard}");
        h.Line();
        h.Line("#include <math.h>");
        h.Line("#include \"cp.h\"");
        foreach (string include in Imports(fileId, types))
        {
            h.Line($"#include \"{include}.h\"");
        }
        h.Line();
        h.Line("#ifdef __cplusplus");
        h.Line("extern \"C\" {");
        h.Line("#endif");
        h.Line();
        c.Line($"/* Generated by capnpc-c from {file.DisplayName}. Do not edit. */");
        c.Line($"#include \"{Path.GetFileName(file.DisplayName)}.h\"");
        c.Line();

        foreach (NodeReader s in structs)
        {
            string t = _name[s.Id];
            h.Line($"typedef struct {t} {{ cp_struct s; }} {t};");
            h.Line($"typedef struct {t}_builder {{ cp_struct_b s; }} {t}_builder;");
        }
        if (structs.Count > 0)
        {
            h.Line();
        }
        foreach (NodeReader e in types.Where(n => n.Kind == NodeKind.Enum))
        {
            EmitEnum(h, e);
        }
        foreach (NodeReader i in types.Where(n => n.Kind == NodeKind.Interface))
        {
            EmitInterface(h, i);
        }
        EmitConstants(h, c, fileId, prefix);
        foreach (NodeReader s in types.Where(n => n.Kind == NodeKind.Interface || n.Kind == NodeKind.Struct))
        {
            EmitConstants(h, c, s.Id, _name[s.Id]);
        }
        foreach (NodeReader s in structs)
        {
            EmitStruct(h, c, s);
        }

        h.Line("#ifdef __cplusplus");
        h.Line("}");
        h.Line("#endif");
        h.Line("#endif");
        return (h.ToString(), c.ToString());
    }

    private static string Guard(string path)
    {
        var sb = new StringBuilder();
        foreach (char ch in path)
        {
            sb.Append(char.IsAsciiLetterOrDigit(ch) ? char.ToUpperInvariant(ch) : '_');
        }
        return sb.ToString();
    }

    /// <summary>Every type declared in a scope, depth first, in declaration order.</summary>
    private void Collect(ulong scope, List<NodeReader> into)
    {
        foreach (ulong id in _children.GetValueOrDefault(scope) ?? [])
        {
            into.Add(_nodes[id]);
            Collect(id, into);
        }
    }

    /// <summary>The other schema files whose types this file's types use (their headers are included).</summary>
    private List<string> Imports(ulong fileId, List<NodeReader> types)
    {
        var used = new HashSet<ulong>();
        void Use(TypeReader t)
        {
            switch (t.Kind)
            {
                case TypeKind.Struct or TypeKind.Enum or TypeKind.Interface:
                    used.Add(t.TypeId);
                    break;
                case TypeKind.List:
                    Use(t.ElementType);
                    break;
            }
        }
        foreach (NodeReader n in types)
        {
            if (n.Kind == NodeKind.Struct)
            {
                foreach (FieldReader f in n.Fields)
                {
                    if (!f.IsGroup)
                    {
                        Use(f.SlotType);
                    }
                }
            }
        }
        foreach (NestedNodeReader nn in _nodes[fileId].NestedNodes)
        {
            if (_nodes.TryGetValue(nn.Id, out NodeReader k) && k.Kind == NodeKind.Const)
            {
                Use(k.ConstType);
            }
        }
        var files = new SortedSet<string>(StringComparer.Ordinal);
        foreach (ulong id in used)
        {
            if (_fileOf.TryGetValue(id, out ulong f) && f != fileId)
            {
                files.Add(_nodes[f].DisplayName);
            }
        }
        return [.. files];
    }

    // ---- enums and interfaces ---------------------------------------------------------------

    private void EmitEnum(CodeWriter h, NodeReader e)
    {
        string t = _name[e.Id];
        h.Line($"/* enum {e.DisplayName} (0x{e.Id:x16}) */");
        h.Line($"typedef enum {t} {{");
        int i = 0;
        foreach (EnumerantReader en in e.Enumerants)
        {
            h.Line($"  {t}_{en.Name} = {i++},");
        }
        h.Line($"}} {t};");
        h.Line($"#define {t}_TYPE_ID UINT64_C(0x{e.Id:x16})");
        h.Line();
    }

    private void EmitInterface(CodeWriter h, NodeReader i)
    {
        string t = _name[i.Id];
        h.Line($"/* interface {i.DisplayName}: the interface id and method ordinals of a call (rpc.capnp, Call.interfaceId/methodId) */");
        h.Line($"#define {t}_TYPE_ID UINT64_C(0x{i.Id:x16})");
        var methods = new List<MethodReader>();
        foreach (MethodReader m in i.Methods)
        {
            methods.Add(m);
        }
        if (methods.Count > 0)
        {
            h.Line("enum {");
            foreach (MethodReader m in methods)
            {
                h.Line($"  {t}_{m.Name} = {m.CodeOrder}, /* ({StructName(m.ParamStructType)}) -> ({StructName(m.ResultStructType)}) */");
            }
            h.Line("};");
        }
        h.Line();
    }

    private string StructName(ulong id) => _name.TryGetValue(id, out string? n) ? n : $"0x{id:x16}";

    // ---- structs ----------------------------------------------------------------------------

    private void EmitStruct(CodeWriter h, CodeWriter c, NodeReader s)
    {
        string t = _name[s.Id];
        h.Line($"/* {(s.IsGroup ? "group" : "struct")} {s.DisplayName} (0x{s.Id:x16}) */");
        if (!s.IsGroup)
        {
            h.Line($"#define {t}_TYPE_ID UINT64_C(0x{s.Id:x16})");
            h.Line($"#define {t}_DATA_WORDS {s.DataWordCount}");
            h.Line($"#define {t}_POINTERS {s.PointerCount}");
            h.Line($"static inline {t} {t}_read(cp_ptr p) {{ {t} v = {{cp_ptr_struct(p, NULL)}}; return v; }}");
            h.Line($"static inline {t} {t}_root(cp_message *m) {{ return {t}_read(cp_message_root(m)); }}");
            h.Line($"static inline {t}_builder {t}_init(cp_ptr_b p) {{ {t}_builder v = {{cp_pb_init_struct(p, {s.DataWordCount}, {s.PointerCount})}}; return v; }}");
            h.Line($"static inline {t}_builder {t}_new_root(cp_message *m) {{ return {t}_init(cp_message_root_b(m)); }}");
            h.Line($"static inline {t} {t}_list_get(cp_list l, uint32_t i) {{ {t} v = {{cp_list_struct(l, i)}}; return v; }}");
            h.Line($"static inline {t}_builder {t}_list_at(cp_list_b l, uint32_t i) {{ {t}_builder v = {{cp_lb_struct(l, i)}}; return v; }}");
            h.Line($"static inline cp_list_b {t}_list_init(cp_ptr_b p, uint32_t n) {{ return cp_pb_init_struct_list(p, n, {s.DataWordCount}, {s.PointerCount}); }}");
        }
        h.Line($"static inline {t} {t}_as_reader({t}_builder b) {{ {t} v = {{cp_struct_b_reader(b.s)}}; return v; }}");
        if (s.DiscriminantCount > 0)
        {
            h.Line("enum {");
            foreach (FieldReader f in Fields(s).Where(f => f.DiscriminantValue != FieldReader.NoDiscriminant).OrderBy(f => f.DiscriminantValue))
            {
                h.Line($"  {t}_which_{f.Name} = {f.DiscriminantValue},");
            }
            h.Line("};");
            h.Line($"static inline uint16_t {t}_which({t} r) {{ return cp_struct_u16(r.s, {s.DiscriminantOffset * 2}); }}");
        }
        foreach (FieldReader f in Fields(s).OrderBy(f => f.CodeOrder))
        {
            EmitField(h, c, s, t, f);
        }
        h.Line();
    }

    private static List<FieldReader> Fields(NodeReader s)
    {
        var fields = new List<FieldReader>();
        foreach (FieldReader f in s.Fields)
        {
            fields.Add(f);
        }
        return fields;
    }

    private void EmitField(CodeWriter h, CodeWriter c, NodeReader s, string t, FieldReader f)
    {
        string x = f.Name;
        string disc = f.DiscriminantValue != FieldReader.NoDiscriminant
            ? $"cp_b_u16(b.s, {s.DiscriminantOffset * 2}, {f.DiscriminantValue}); "
            : "";
        string get = $"static inline";
        if (f.IsGroup)
        {
            string g = _name[f.GroupTypeId];
            h.Line($"{get} {g} {t}_get_{x}({t} r) {{ {g} v = {{r.s}}; return v; }}");
            var clear = new StringBuilder();
            if (disc.Length > 0)
            {
                foreach (string stmt in ClearGroup(_nodes[f.GroupTypeId]))
                {
                    clear.Append(stmt).Append(' ');
                }
            }
            h.Line($"{get} {g}_builder {t}_init_{x}({t}_builder b) {{ {disc}{clear}{g}_builder v = {{b.s}}; return v; }}");
            return;
        }
        TypeReader type = f.SlotType;
        int off = f.SlotOffset;
        ulong d = f.DefaultValue.Bits;
        string ptr = $"cp_struct_ptr(r.s, {off})";
        string bptr = $"cp_b_ptr(b.s, {off})";
        string dflt = PointerDefault(h, c, t, f);
        switch (type.IsCapability ? TypeKind.Interface : type.Kind)
        {
            case TypeKind.Void:
                if (disc.Length > 0)
                {
                    h.Line($"{get} void {t}_set_{x}({t}_builder b) {{ {disc}}}");
                }
                return;
            case TypeKind.Bool:
                h.Line($"{get} bool {t}_get_{x}({t} r) {{ return {(d != 0 ? "!" : "")}cp_struct_bool(r.s, {off}); }}");
                h.Line($"{get} void {t}_set_{x}({t}_builder b, bool v) {{ {disc}cp_b_bool(b.s, {off}, {(d != 0 ? "!v" : "v")}); }}");
                return;
            case TypeKind.Float32:
                h.Line($"{get} float {t}_get_{x}({t} r) {{ return cp_f32(cp_struct_u32(r.s, {off * 4}){Xor(d, 32)}); }}");
                h.Line($"{get} void {t}_set_{x}({t}_builder b, float v) {{ {disc}cp_b_u32(b.s, {off * 4}, cp_f32_bits(v){Xor(d, 32)}); }}");
                return;
            case TypeKind.Float64:
                h.Line($"{get} double {t}_get_{x}({t} r) {{ return cp_f64(cp_struct_u64(r.s, {off * 8}){Xor(d, 64)}); }}");
                h.Line($"{get} void {t}_set_{x}({t}_builder b, double v) {{ {disc}cp_b_u64(b.s, {off * 8}, cp_f64_bits(v){Xor(d, 64)}); }}");
                return;
            case TypeKind.Text:
                EmitHas(h, t, x, ptr);
                h.Line($"{get} cp_text {t}_get_{x}({t} r) {{ return cp_ptr_text({ptr}, {dflt}); }}");
                h.Line($"{get} int {t}_set_{x}_len({t}_builder b, const char *v, size_t n) {{ {disc}return cp_pb_set_text({bptr}, v, n); }}");
                h.Line($"{get} int {t}_set_{x}({t}_builder b, const char *v) {{ {disc}if (!v) {{ cp_pb_clear({bptr}); return 0; }} return cp_pb_set_text({bptr}, v, strlen(v)); }}");
                return;
            case TypeKind.Data:
                EmitHas(h, t, x, ptr);
                h.Line($"{get} cp_data {t}_get_{x}({t} r) {{ return cp_ptr_data({ptr}, {dflt}); }}");
                h.Line($"{get} int {t}_set_{x}({t}_builder b, const void *v, size_t n) {{ {disc}return cp_pb_set_data({bptr}, v, n); }}");
                h.Line($"{get} uint8_t *{t}_init_{x}({t}_builder b, size_t n) {{ {disc}return cp_pb_init_data({bptr}, n); }}");
                return;
            case TypeKind.Struct:
                {
                    string st = _name[type.TypeId];
                    NodeReader sn = _nodes[type.TypeId];
                    EmitHas(h, t, x, ptr);
                    h.Line($"{get} {st} {t}_get_{x}({t} r) {{ {st} v = {{cp_ptr_struct({ptr}, {dflt})}}; return v; }}");
                    h.Line($"{get} {st}_builder {t}_init_{x}({t}_builder b) {{ {disc}{st}_builder v = {{cp_pb_init_struct({bptr}, {sn.DataWordCount}, {sn.PointerCount})}}; return v; }}");
                    h.Line($"{get} int {t}_set_{x}({t}_builder b, {st} v) {{ {disc}return cp_pb_set_struct({bptr}, v.s, NULL, NULL); }}");
                    return;
                }
            case TypeKind.List:
                {
                    EmitHas(h, t, x, ptr);
                    h.Line($"{get} cp_list {t}_get_{x}({t} r) {{ return cp_ptr_list({ptr}, {ElementSize(type.ElementType)}, {dflt}); }}");
                    h.Line($"{get} cp_list_b {t}_init_{x}({t}_builder b, uint32_t n) {{ {disc}return {InitList(type.ElementType, bptr)}; }}");
                    h.Line($"{get} int {t}_set_{x}({t}_builder b, cp_list v) {{ {disc}return cp_pb_set_list({bptr}, v, NULL, NULL); }}");
                    return;
                }
            case TypeKind.Interface:
                EmitHas(h, t, x, ptr);
                h.Line($"{get} uint32_t {t}_get_{x}({t} r) {{ return cp_ptr_cap({ptr}); }}");
                h.Line($"{get} void {t}_set_{x}({t}_builder b, uint32_t cap) {{ {disc}cp_pb_set_cap({bptr}, cap); }}");
                return;
            case TypeKind.AnyPointer:
                EmitHas(h, t, x, ptr);
                h.Line($"{get} cp_ptr {t}_get_{x}({t} r) {{ return {ptr}; }}");
                h.Line($"{get} cp_ptr_b {t}_init_{x}({t}_builder b) {{ {disc}cp_ptr_b p = {bptr}; cp_pb_clear(p); return p; }}");
                return;
            case TypeKind.Enum:
                {
                    string et = _name[type.TypeId];
                    h.Line($"{get} {et} {t}_get_{x}({t} r) {{ return ({et})(uint16_t)(cp_struct_u16(r.s, {off * 2}){Xor(d, 16)}); }}");
                    h.Line($"{get} void {t}_set_{x}({t}_builder b, {et} v) {{ {disc}cp_b_u16(b.s, {off * 2}, (uint16_t)((uint16_t)v{Xor(d, 16)})); }}");
                    return;
                }
            default:
                {
                    (string ct, string raw, int bits) = Integer(type.Kind);
                    int size = bits / 8;
                    h.Line($"{get} {ct} {t}_get_{x}({t} r) {{ return ({ct})({raw})(cp_struct_u{bits}(r.s, {off * size}){Xor(d, bits)}); }}");
                    h.Line($"{get} void {t}_set_{x}({t}_builder b, {ct} v) {{ {disc}cp_b_u{bits}(b.s, {off * size}, ({raw})(({raw})v{Xor(d, bits)})); }}");
                    return;
                }
        }
    }

    private static void EmitHas(CodeWriter h, string t, string x, string ptr) =>
        h.Line($"static inline bool {t}_has_{x}({t} r) {{ return !cp_ptr_is_null({ptr}); }}");

    private static string Xor(ulong d, int bits) => d == 0 ? "" : bits switch
    {
        8 => $" ^ 0x{d & 0xff:x}u",
        16 => $" ^ 0x{d & 0xffff:x}u",
        32 => $" ^ UINT32_C(0x{d & 0xffffffff:x})",
        _ => $" ^ UINT64_C(0x{d:x})",
    };

    private static (string C, string Raw, int Bits) Integer(TypeKind k) => k switch
    {
        TypeKind.Int8 => ("int8_t", "uint8_t", 8),
        TypeKind.UInt8 => ("uint8_t", "uint8_t", 8),
        TypeKind.Int16 => ("int16_t", "uint16_t", 16),
        TypeKind.UInt16 => ("uint16_t", "uint16_t", 16),
        TypeKind.Int32 => ("int32_t", "uint32_t", 32),
        TypeKind.UInt32 => ("uint32_t", "uint32_t", 32),
        TypeKind.Int64 => ("int64_t", "uint64_t", 64),
        TypeKind.UInt64 => ("uint64_t", "uint64_t", 64),
        _ => throw new InvalidOperationException($"not an integer type: {k}"),
    };

    /// <summary>The cp.h element size a list of this element type is read with.</summary>
    private static string ElementSize(TypeReader e) => e.Kind switch
    {
        TypeKind.Void => "CP_VOID",
        TypeKind.Bool => "CP_BIT",
        TypeKind.Int8 or TypeKind.UInt8 => "CP_BYTE",
        TypeKind.Int16 or TypeKind.UInt16 or TypeKind.Enum => "CP_TWO_BYTES",
        TypeKind.Int32 or TypeKind.UInt32 or TypeKind.Float32 => "CP_FOUR_BYTES",
        TypeKind.Int64 or TypeKind.UInt64 or TypeKind.Float64 => "CP_EIGHT_BYTES",
        TypeKind.Struct => "CP_COMPOSITE",
        _ => "CP_POINTER",
    };

    private string InitList(TypeReader e, string bptr)
    {
        if (e.Kind == TypeKind.Struct)
        {
            NodeReader sn = _nodes[e.TypeId];
            return $"cp_pb_init_struct_list({bptr}, n, {sn.DataWordCount}, {sn.PointerCount})";
        }
        return $"cp_pb_init_list({bptr}, {ElementSize(e)}, n)";
    }

    /// <summary>Statements that reset every field of a group (for switching a union to it).</summary>
    private IEnumerable<string> ClearGroup(NodeReader g)
    {
        if (g.DiscriminantCount > 0)
        {
            yield return $"cp_b_u16(b.s, {g.DiscriminantOffset * 2}, 0);";
        }
        foreach (FieldReader f in g.Fields)
        {
            if (f.IsGroup)
            {
                foreach (string s in ClearGroup(_nodes[f.GroupTypeId]))
                {
                    yield return s;
                }
                continue;
            }
            int off = f.SlotOffset;
            switch (f.SlotType.Kind)
            {
                case TypeKind.Void:
                    break;
                case TypeKind.Bool:
                    yield return $"cp_b_bool(b.s, {off}, false);";
                    break;
                case TypeKind.Int8 or TypeKind.UInt8:
                    yield return $"cp_b_u8(b.s, {off}, 0);";
                    break;
                case TypeKind.Int16 or TypeKind.UInt16 or TypeKind.Enum:
                    yield return $"cp_b_u16(b.s, {off * 2}, 0);";
                    break;
                case TypeKind.Int32 or TypeKind.UInt32 or TypeKind.Float32:
                    yield return $"cp_b_u32(b.s, {off * 4}, 0);";
                    break;
                case TypeKind.Int64 or TypeKind.UInt64 or TypeKind.Float64:
                    yield return $"cp_b_u64(b.s, {off * 8}, 0);";
                    break;
                default:
                    yield return $"cp_pb_clear(cp_b_ptr(b.s, {off}));";
                    break;
            }
        }
    }

    /// <summary>
    /// A pointer field's schema default as a trusted one-segment message in the source file (and an
    /// extern declaration in the header), or "NULL" when the default is null.
    /// </summary>
    private static string PointerDefault(CodeWriter h, CodeWriter c, string t, FieldReader f)
    {
        TypeKind k = f.SlotType.Kind;
        if (f.IsGroup || f.SlotType.IsCapability || k is not (TypeKind.Text or TypeKind.Data or TypeKind.Struct or TypeKind.List)
            || f.DefaultValue.Pointer.IsNull)
        {
            return "NULL";
        }
        byte[] words = Segment(f.DefaultValue.Pointer);
        string w = $"{t}__default_{f.Name}_words", s = $"{t}__default_{f.Name}";
        h.Line($"extern const uint8_t {w}[{words.Length}];");
        h.Line($"extern cp_static {s};");
        c.Line($"const uint8_t {w}[{words.Length}] = {{{Bytes(words)}}};");
        c.Line($"cp_static {s};");
        return $"cp_static_root(&{s}, {w}, {words.Length / 8})";
    }

    /// <summary>A pointer value laid out as one segment, root pointer first.</summary>
    private static byte[] Segment(AnyPointerReader value)
    {
        long words = value.TargetSizeInWords() + 1;
        using var mb = new MessageBuilder((int)Math.Max(words, 1));
        mb.Root.Set(value);
        if (mb.SegmentCount != 1)
        {
            throw new InvalidOperationException("a default value did not fit one segment");
        }
        return mb.GetSegment(0).ToArray();
    }

    private static string Bytes(byte[] bytes)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < bytes.Length; i++)
        {
            if (i % 16 == 0)
            {
                sb.Append("\n  ");
            }
            sb.Append("0x").Append(bytes[i].ToString("x2", CultureInfo.InvariantCulture)).Append(',');
        }
        return sb.Append('\n').ToString();
    }

    // ---- constants ---------------------------------------------------------------------------

    private void EmitConstants(CodeWriter h, CodeWriter c, ulong scopeId, string prefix)
    {
        _ = prefix;
        foreach (NestedNodeReader nn in _nodes[scopeId].NestedNodes)
        {
            if (!_nodes.TryGetValue(nn.Id, out NodeReader k) || k.Kind != NodeKind.Const)
            {
                continue;
            }
            string name = _name[k.Id];
            TypeReader t = k.ConstType;
            ValueReader v = k.ConstValue;
            switch (t.IsCapability ? TypeKind.Interface : t.Kind)
            {
                case TypeKind.Void or TypeKind.Interface:
                    continue;
                case TypeKind.Text:
                    h.Line($"#define {name} {CString(v.Pointer.GetText().Utf8)}");
                    break;
                case TypeKind.Data:
                    EmitPointerConst(h, c, name, "cp_data", v, "return cp_ptr_data(*root, NULL);");
                    break;
                case TypeKind.Struct:
                    {
                        string st = _name[t.TypeId];
                        EmitPointerConst(h, c, name, st, v, $"{st} s = {{cp_ptr_struct(*root, NULL)}}; return s;");
                        break;
                    }
                case TypeKind.List:
                    EmitPointerConst(h, c, name, "cp_list", v, $"return cp_ptr_list(*root, {ElementSize(t.ElementType)}, NULL);");
                    break;
                case TypeKind.AnyPointer:
                    EmitPointerConst(h, c, name, "cp_ptr", v, "return *root;");
                    break;
                default:
                    h.Line($"#define {name} {Literal(t, v.Bits)}");
                    break;
            }
        }
    }

    private static void EmitPointerConst(CodeWriter h, CodeWriter c, string name, string type, ValueReader v, string body)
    {
        byte[] words = Segment(v.Pointer);
        h.Line($"{type} {name}(void);");
        c.Line($"static const uint8_t {name}__words[{words.Length}] = {{{Bytes(words)}}};");
        c.Line($"{type} {name}(void) {{");
        c.Line($"  static cp_static value;");
        c.Line($"  const cp_ptr *root = cp_static_root(&value, {name}__words, {words.Length / 8});");
        c.Line($"  {body}");
        c.Line("}");
        c.Line();
    }

    private string Literal(TypeReader t, ulong bits)
    {
        CultureInfo inv = CultureInfo.InvariantCulture;
        switch (t.Kind)
        {
            case TypeKind.Bool:
                return bits != 0 ? "true" : "false";
            case TypeKind.Int8:
                return $"((int8_t){((sbyte)bits).ToString(inv)})";
            case TypeKind.Int16:
                return $"((int16_t){((short)bits).ToString(inv)})";
            case TypeKind.Int32:
                return (int)bits == int.MinValue ? "INT32_MIN" : $"INT32_C({((int)bits).ToString(inv)})";
            case TypeKind.Int64:
                return (long)bits == long.MinValue ? "INT64_MIN" : $"INT64_C({((long)bits).ToString(inv)})";
            case TypeKind.UInt8:
                return $"((uint8_t){((byte)bits).ToString(inv)}u)";
            case TypeKind.UInt16:
                return $"((uint16_t){((ushort)bits).ToString(inv)}u)";
            case TypeKind.UInt32:
                return $"UINT32_C({((uint)bits).ToString(inv)})";
            case TypeKind.UInt64:
                return $"UINT64_C({bits.ToString(inv)})";
            case TypeKind.Float32:
                {
                    float f = BitConverter.UInt32BitsToSingle((uint)bits);
                    return float.IsNaN(f) ? "((float)NAN)" : float.IsInfinity(f) ? (f > 0 ? "((float)INFINITY)" : "(-(float)INFINITY)")
                        : $"({f.ToString("R", inv)}f)";
                }
            case TypeKind.Float64:
                {
                    double f = BitConverter.UInt64BitsToDouble(bits);
                    string r = f.ToString("R", inv);
                    return double.IsNaN(f) ? "((double)NAN)" : double.IsInfinity(f) ? (f > 0 ? "((double)INFINITY)" : "(-(double)INFINITY)")
                        : $"({(r.Contains('.') || r.Contains('E') ? r : r + ".0")})";
                }
            case TypeKind.Enum:
                {
                    NodeReader e = _nodes[t.TypeId];
                    int i = 0;
                    foreach (EnumerantReader en in e.Enumerants)
                    {
                        if ((ulong)i++ == bits)
                        {
                            return $"{_name[t.TypeId]}_{en.Name}";
                        }
                    }
                    return $"(({_name[t.TypeId]}){bits})";
                }
            default:
                throw new InvalidOperationException($"not a primitive constant: {t.Kind}");
        }
    }

    /// <summary>A C string literal of UTF-8 bytes (octal escapes for anything not printable ASCII).</summary>
    private static string CString(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder("\"");
        foreach (byte b in bytes)
        {
            sb.Append(b switch
            {
                (byte)'"' => "\\\"",
                (byte)'\\' => "\\\\",
                (byte)'?' => "\\?",
                >= 0x20 and < 0x7f => ((char)b).ToString(),
                _ => "\\" + Convert.ToString(b, 8).PadLeft(3, '0'),
            });
        }
        return sb.Append('"').ToString();
    }
}
