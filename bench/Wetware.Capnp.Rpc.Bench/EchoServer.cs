using System.Net;
using System.Net.Sockets;
using Wetware.Capnp.Rpc.Bench.Schema;

namespace Wetware.Capnp.Rpc.Bench;

/// <summary>Our side of rpcbench.capnp: echoes the text back, as bench/cpp-rpc/echo_server.cpp does.</summary>
internal sealed class EchoServer : IRpcServer
{
    public ValueTask DispatchAsync(CallContext context)
    {
        if (context.InterfaceId != EchoBench.TypeId || context.MethodId != EchoBench.Methods.Echo)
        {
            throw new RpcException(RpcErrorType.Unimplemented, $"method {context.InterfaceId:x}.{context.MethodId}");
        }
        Text text = context.Params.GetStruct<EchoBench.EchoParams.Reader>().Text;
        // Copies the UTF-8 bytes as they are (no string in between), as the C++ server does.
        context.Results.InitStruct(EchoBench.EchoResults.DataWords, EchoBench.EchoResults.PointerCount).SetText(0, text);
        return ValueTask.CompletedTask;
    }

    /// <summary>The <c>--serve</c> mode: serves echo on every connection to a loopback port until stdin closes.</summary>
    public static async Task<int> ServeAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using Capability echo = Capability.FromServer(new EchoServer());
        Console.WriteLine($"port {((IPEndPoint)listener.LocalEndPoint!).Port}");
        // The parent holds our stdin: when it goes (or closes it), so do we.
        Task parentGone = Task.Run(() => Console.In.ReadToEnd());
        while (true)
        {
            Task<Socket> accept = listener.AcceptAsync();
            if (await Task.WhenAny(accept, parentGone) == parentGone)
            {
                return 0;
            }
            var connection = new RpcConnection(TcpTransport.FromSocket(await accept), echo);
            connection.Start();
            _ = connection.Completion.ContinueWith(_ => connection.DisposeAsync().AsTask(), TaskScheduler.Default).Unwrap();
        }
    }
}
