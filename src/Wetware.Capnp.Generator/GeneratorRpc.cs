namespace Wetware.Capnp.Generator;

/// <summary>
/// RPC code (with <see cref="GeneratorOptions.Rpc"/>): for each interface a <c>Client</c> (a typed
/// proxy: <c>NewFoo()</c> to build a request, <c>FooAsync(...)</c> to send one) and a <c>Server</c>
/// base to implement; for each struct a <c>Pipeline</c> that reaches the capabilities of results
/// that have not arrived yet.
/// </summary>
internal sealed partial class Generator
{
    private const string Rpc = "global::Wetware.Capnp.Rpc.";

    /// <summary>The name of a generated nested type (<c>Client</c>, <c>Server</c>, <c>Pipeline</c>) in a type's class; a type already named so gets an underscore.</summary>
    private string NestedName(ulong id, string name) => _simpleName[id].TrimStart('@') == name ? name + "_" : name;

    private string ClientOf(ulong interfaceId) => _fullName[interfaceId] + "." + NestedName(interfaceId, "Client");

    private string ServerOf(ulong interfaceId) => _fullName[interfaceId] + "." + NestedName(interfaceId, "Server");

    private string PipelineOf(ulong structId) => _fullName[structId] + "." + NestedName(structId, "Pipeline");

    private sealed record RpcMethod(ulong InterfaceId, MethodReader Method, string Schema);

    /// <summary>An interface's methods and those of its superclasses (each interface once), own first.</summary>
    private List<RpcMethod> MethodsOf(NodeReader n)
    {
        var seen = new HashSet<ulong>();
        var methods = new List<RpcMethod>();
        void Walk(NodeReader i)
        {
            if (!seen.Add(i.Id))
            {
                return;
            }
            foreach (MethodReader m in i.Methods)
            {
                methods.Add(new RpcMethod(i.Id, m, $"{i.ShortName}.{m.Name}"));
            }
            foreach (SuperclassReader s in i.Superclasses)
            {
                if (_nodes.TryGetValue(s.Id, out NodeReader super))
                {
                    Walk(super);
                }
            }
        }
        Walk(n);
        return methods;
    }

    private void EmitClient(CodeWriter w, NodeReader n)
    {
        string client = NestedName(n.Id, "Client");
        string server = NestedName(n.Id, "Server");
        w.Line($"/// <summary>A proxy for {n.ShortName}: <c>NewX()</c> builds a request, <c>XAsync(...)</c> sends one; await the call for its response or use its <c>Pipeline</c>.</summary>");
        w.Open($"public sealed partial class {client} : {Rpc}CapabilityClient, {Rpc}ICapabilityClient<{client}>");
        w.Line($"public {client}({Rpc}Capability capability) : base(capability) {{ }}");
        w.Line();
        w.Line($"static {client} {Rpc}ICapabilityClient<{client}>.FromCapability({Rpc}Capability capability) => new(capability);");
        w.Line();
        w.Line($"/// <summary>A client for a server in this process.</summary>");
        w.Line($"public static {client} FromServer({server} server) => new({Rpc}Capability.FromServer(server));");
        w.Line();
        var taken = new HashSet<string> { client, "Capability", "Dispose", "FromServer", "FromCapability", "Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone", "ReferenceEquals", "Finalize" };
        foreach (RpcMethod rm in MethodsOf(n))
        {
            MethodReader m = rm.Method;
            string name = Naming.Pascal(m.Name);
            string results = _fullName[m.ResultStructType];
            string call = $"{Rpc}RpcCall<{results}.Reader, {PipelineOf(m.ResultStructType)}>";
            string request = $"{Rpc}RpcRequest<{_fullName[m.ParamStructType]}.Builder, {results}.Reader, {PipelineOf(m.ResultStructType)}>";
            string newName = Naming.Unique("New" + name, taken);
            string asyncName = Naming.Unique(name + "Async", taken);
            w.Line($"/// <summary>A request for {rm.Schema}: fill its Params, then Send.</summary>");
            w.Line($"public {request} {newName}() => new(Capability.NewRequest(0x{rm.InterfaceId:x}UL, {m.CodeOrder}));");
            w.Line();
            List<(string Type, string Name, string Assign)>? args = ConvenienceArgs(_nodes[m.ParamStructType]);
            if (args is null)
            {
                continue;
            }
            string list = string.Join("", args.Select(a => $"{a.Type} {a.Name}, "));
            w.Line($"/// <summary>Calls {rm.Schema}.</summary>");
            w.Open($"public {call} {asyncName}({list}global::System.Threading.CancellationToken cancellationToken = default)");
            w.Line($"{request} __r = {newName}();");
            if (args.Count > 0)
            {
                w.Line($"{_fullName[m.ParamStructType]}.Builder __p = __r.Params;");
            }
            foreach (var a in args)
            {
                w.Line(a.Assign);
            }
            w.Line("return __r.Send(cancellationToken);");
            w.Close();
            w.Line();
        }
        w.Close();
        w.Line();
    }

    /// <summary>
    /// The arguments of a params struct's convenience call: one per field, when every field is a
    /// primitive, enum, text, data or capability outside unions and groups; otherwise null (use NewX()).
    /// </summary>
    private List<(string Type, string Name, string Assign)>? ConvenienceArgs(NodeReader p)
    {
        if (p.DiscriminantCount > 0)
        {
            return null;
        }
        var args = new List<(string, string, string)>();
        var taken = new HashSet<string> { "cancellationToken" };
        foreach (FieldPlan plan in PlansOf(p))
        {
            FieldReader f = plan.Field;
            if (f.IsGroup)
            {
                return null;
            }
            TypeReader t = f.SlotType;
            string bare = plan.Name.TrimStart('@');
            string arg = Naming.Unique(Naming.Escape(char.ToLowerInvariant(bare[0]) + bare[1..]), taken);
            if (t.IsCapability)
            {
                string type = t.Kind == TypeKind.Interface ? ClientOf(t.TypeId) : Rpc + "Capability";
                args.Add((type + "?", arg, $"__p.{plan.Name} = {arg} is null ? null : __r.AddCapability({arg});"));
                continue;
            }
            switch (t.Kind)
            {
                case TypeKind.Void:
                    continue;
                case TypeKind.Text:
                    args.Add(("string?", arg, $"__p.Set{bare}({arg});"));
                    continue;
                case TypeKind.Data:
                    args.Add(("global::System.ReadOnlySpan<byte>", arg, $"__p.Set{bare}({arg});"));
                    continue;
                case TypeKind.Struct or TypeKind.List or TypeKind.AnyPointer:
                    return null;
                default:
                    args.Add((ReaderType(t), arg, $"__p.{plan.Name} = {arg};"));
                    continue;
            }
        }
        return args;
    }

    private void EmitServer(CodeWriter w, NodeReader n)
    {
        string server = NestedName(n.Id, "Server");
        List<RpcMethod> methods = MethodsOf(n);
        w.Line($"/// <summary>The base of a {n.ShortName} implementation: override the methods it serves (the others answer <c>unimplemented</c>).</summary>");
        w.Open($"public abstract partial class {server} : {Rpc}IRpcServer");
        var taken = new HashSet<string> { server, "Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone", "ReferenceEquals", "Finalize" };
        var names = new List<string>();
        foreach (RpcMethod rm in methods)
        {
            MethodReader m = rm.Method;
            string name = Naming.Unique(Naming.Pascal(m.Name) + "Async", taken);
            names.Add(name);
            w.Line($"/// <summary>Serves {rm.Schema}: read <paramref name=\"params\"/>, write <paramref name=\"results\"/>; throw an RpcException to fail the call.</summary>");
            w.Line($"public virtual global::System.Threading.Tasks.ValueTask {name}({_fullName[m.ParamStructType]}.Reader @params, {_fullName[m.ResultStructType]}.Builder results, {Rpc}CallContext context) =>");
            w.Line($"    {Rpc}RpcServers.Unimplemented(context, \"{rm.Schema}\");");
            w.Line();
        }
        w.Open($"global::System.Threading.Tasks.ValueTask {Rpc}IRpcServer.DispatchAsync({Rpc}CallContext context)");
        if (methods.Count > 0)
        {
            w.Open("switch (context.InterfaceId)");
        }
        foreach (IGrouping<ulong, (RpcMethod M, string Name)> group in methods.Zip(names).GroupBy(x => x.First.InterfaceId, x => (x.First, x.Second)))
        {
            w.Line($"case 0x{group.Key:x}UL:");
            w.Open("switch (context.MethodId)");
            foreach (var (rm, name) in group)
            {
                MethodReader m = rm.Method;
                w.Line($"case {m.CodeOrder}:");
                w.Line($"    return {name}(context.Params.GetStruct<{_fullName[m.ParamStructType]}.Reader>(), context.Results.InitStruct<{_fullName[m.ResultStructType]}.Builder>(), context);");
            }
            w.Close();
            w.Line("break;");
        }
        if (methods.Count > 0)
        {
            w.Close();
        }
        w.Line($"return {Rpc}RpcServers.Unimplemented(context, \"this method of {n.ShortName}\");");
        w.Close();
        w.Close();
        w.Line();
    }

    private void EmitPipeline(CodeWriter w, NodeReader n, List<FieldPlan> plans)
    {
        string pipeline = NestedName(n.Id, "Pipeline");
        w.Line("/// <summary>The capabilities of this struct in results that have not arrived yet: calls on them are pipelined.</summary>");
        w.Open($"public readonly struct {pipeline} : {Rpc}IPipelineView<{pipeline}>");
        w.Line($"private readonly {Rpc}RpcPromise _promise;");
        w.Line("private readonly ushort[] _path;");
        w.Line();
        w.Line($"public {pipeline}({Rpc}RpcPromise promise, ushort[] path)");
        w.Line("{");
        w.Line("    _promise = promise;");
        w.Line("    _path = path;");
        w.Line("}");
        w.Line();
        w.Line($"static {pipeline} {Rpc}IPipelineView<{pipeline}>.Create({Rpc}RpcPromise promise, ushort[] path) => new(promise, path);");
        w.Line();
        var taken = new HashSet<string> { pipeline, "Equals", "GetHashCode", "ToString", "GetType", "MemberwiseClone", "ReferenceEquals" };
        foreach (FieldPlan p in plans)
        {
            FieldReader f = p.Field;
            if (f.IsGroup)
            {
                w.Line($"public {PipelineOf(f.GroupTypeId)} {Naming.Unique(p.Name, taken)} => new(_promise, _path);");
                w.Line();
                continue;
            }
            TypeReader t = f.SlotType;
            string bare = p.Name.TrimStart('@');
            if (t.IsCapability)
            {
                string name = Naming.Unique("Get" + bare, taken);
                if (t.Kind == TypeKind.Interface)
                {
                    w.Line($"/// <summary>The capability in field {f.Name}, pipelined (dispose it).</summary>");
                    w.Line($"public {ClientOf(t.TypeId)} {name}() => {Rpc}Pipelines.Client<{ClientOf(t.TypeId)}>(_promise, _path, {f.SlotOffset});");
                }
                else
                {
                    w.Line($"/// <summary>The capability in field {f.Name}, pipelined (dispose it).</summary>");
                    w.Line($"public {Rpc}Capability {name}() => _promise.GetPipelinedCapability({Rpc}Pipelines.Append(_path, {f.SlotOffset}));");
                }
                w.Line();
            }
            else if (t.Kind == TypeKind.Struct)
            {
                w.Line($"public {PipelineOf(t.TypeId)} {Naming.Unique(p.Name, taken)} => new(_promise, {Rpc}Pipelines.Append(_path, {f.SlotOffset}));");
                w.Line();
            }
        }
        w.Close();
        w.Line();
    }
}
