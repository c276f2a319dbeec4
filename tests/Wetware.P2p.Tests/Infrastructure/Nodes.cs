using Org.BouncyCastle.Crypto.Generators;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;
using Org.BouncyCastle.Security;
using Wetware.Identity;
using Wetware.P2p.Noise;

namespace Wetware.P2p.Tests;

/// <summary>Nodes for tests: a fresh secp256k1 key (or an Ed25519 identity), listening on loopback.</summary>
internal static class Nodes
{
    public static async Task<(P2pNode Node, Multiaddr Address)> ListeningAsync(P2pNodeOptions? options = null, ListLogger? logger = null, string listen = "/ip4/127.0.0.1/tcp/0")
    {
        P2pNode node = New(options, logger);
        Multiaddr bound = await node.ListenAsync(Multiaddr.Parse(listen));
        return (node, bound.WithPeerId(node.PeerId));
    }

    public static P2pNode New(P2pNodeOptions? options = null, ListLogger? logger = null)
    {
        using NodeKey key = NodeKey.Generate();
        return new P2pNode(NoiseIdentity.From(key), options, logger);
    }

    /// <summary>A node with an Ed25519 identity (BouncyCastle signs the Noise payload).</summary>
    public static P2pNode Ed25519(P2pNodeOptions? options = null, ListLogger? logger = null) =>
        new(Ed25519Identity(), options, logger);

    public static NoiseIdentity Ed25519Identity()
    {
        var generator = new Ed25519KeyPairGenerator();
        generator.Init(new Ed25519KeyGenerationParameters(new SecureRandom()));
        var pair = generator.GenerateKeyPair();
        var priv = (Ed25519PrivateKeyParameters)pair.Private;
        PublicKey pub = PublicKey.FromEd25519(((Ed25519PublicKeyParameters)pair.Public).GetEncoded());
        return NoiseIdentity.Create(pub, data =>
        {
            var signer = new Ed25519Signer();
            signer.Init(true, priv);
            signer.BlockUpdate(data, 0, data.Length);
            return signer.GenerateSignature();
        });
    }

    /// <summary>The node's counts once they stayed the same for 100 ms (tasks that are about to end have ended).</summary>
    public static async Task<P2pCounts> SettledCountsAsync(P2pNode node)
    {
        P2pCounts last = node.Counts;
        for (int same = 0; same < 5;)
        {
            await Task.Delay(20);
            P2pCounts now = node.Counts;
            same = now == last ? same + 1 : 0;
            last = now;
        }
        return last;
    }

    /// <summary>Waits until <paramref name="condition"/> holds, polling.</summary>
    public static async Task EventuallyAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for {what}");
            }
            await Task.Delay(10);
        }
    }
}
