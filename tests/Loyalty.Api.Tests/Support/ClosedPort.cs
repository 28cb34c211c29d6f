using System.Net;
using System.Net.Sockets;

namespace Loyalty.Api.Tests.Support;

/// <summary>An address on loopback where nothing listens: a server that is down, as a client sees it.</summary>
public static class ClosedPort
{
    public static string Address()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return $"http://127.0.0.1:{port}";
    }
}
