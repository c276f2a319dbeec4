using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Wetware.Identity.Tests;

/// <summary>
/// Random keys checked against independent implementations run by the test itself (tests/interop/identity):
/// Peer IDs from @libp2p/crypto + @libp2p/peer-id, EVM addresses from @noble/curves + @noble/hashes, envelopes and
/// signatures from @libp2p/peer-record's RecordEnvelope and from noble, and Ed25519 signatures made by both.
/// </summary>
public class InteropTests(NodeInterop node) : IClassFixture<NodeInterop>
{
    private const int Secp256k1Keys = 50;
    private const int Ed25519Keys = 20;

    [Fact]
    public void Secp256k1KeysAgreeWithJsLibp2pAndNoble()
    {
        var keys = new List<NodeKey>();
        var cases = new List<(string Domain, string Type, byte[] Payload, byte[] Signature)>();
        var request = new JsonArray();
        try
        {
            for (int i = 0; i < Secp256k1Keys; i++)
            {
                // A zero or out-of-range secret has probability 2^-128: drawing one would be news.
                byte[] secret = RandomNumberGenerator.GetBytes(32);
                NodeKey key = NodeKey.FromSecret(secret);
                keys.Add(key);
                // Half the cases are graft challenges; the rest vary the domain, type and payload lengths.
                (string domain, string type, byte[] payload) = i % 2 == 0
                    ? (GraftChallenge.Domain, GraftChallenge.PayloadType, GraftChallenge.Payload(RandomUInt64(), (ulong)i, keys[0].PeerId))
                    : ($"domain-{i}-" + new string('x', i * 3), $"/type/{i}", RandomNumberGenerator.GetBytes(RandomNumberGenerator.GetInt32(0, 400)));
                byte[] sig = key.Sign(domain, type, payload);
                cases.Add((domain, type, payload, sig));
                request.Add(new JsonObject
                {
                    ["secret"] = Convert.ToHexStringLower(secret),
                    ["domain"] = domain,
                    ["payloadType"] = type,
                    ["payload"] = Convert.ToHexStringLower(payload),
                    ["signature"] = Convert.ToHexStringLower(sig),
                });
            }

            JsonArray answers = node.Vectors(new JsonObject { ["secp256k1"] = request })["secp256k1"]!.AsArray();
            Assert.Equal(Secp256k1Keys, answers.Count);
            for (int i = 0; i < Secp256k1Keys; i++)
            {
                NodeKey key = keys[i];
                JsonNode? js = answers[i];
                (string domain, string type, byte[] payload, byte[] sig) = cases[i];

                Assert.Equal(js.Str("peerId"), key.PeerId.ToString());
                Assert.Equal(js.Str("cid"), key.PeerId.ToCidString());
                Assert.Equal(key.PeerId, PeerId.Parse(js.Str("cid")));
                Assert.Equal(js.Hex("publicKeyProtobuf"), key.PublicKey.Protobuf.ToArray());
                Assert.Equal(js.Str("evmAddress"), key.EvmAddress);
                Assert.Equal(js.Hex("envelope"), SigningEnvelope.Build(domain, type, payload));

                // Ours verifies in noble (compact, low s) and in js-libp2p (as DER, through RecordEnvelope.validate).
                Assert.True(js.Bool("oursValidNoble"), $"noble rejected our signature for key {i}");
                Assert.True(js.Bool("oursValidLibp2p"), $"js-libp2p rejected our signature for key {i}");
                // RFC 6979 makes ECDSA deterministic, so all three signers agree to the byte...
                Assert.Equal(js.Hex("nobleSignature"), sig);
                Assert.Equal(js.Hex("libp2pSignature"), sig);
                // ...and theirs verify with us, from the public key as a peer would send it.
                PublicKey wire = PublicKey.FromProtobuf(js.Hex("publicKeyProtobuf"));
                Assert.True(wire.Verify(domain, type, payload, js.Hex("nobleSignature")));
                Assert.True(wire.Verify(domain, type, payload, js.Hex("libp2pSignature")));
            }
        }
        finally
        {
            keys.ForEach(k => k.Dispose());
        }
    }

    [Fact]
    public void Ed25519KeysAndSignaturesFromJsVerify()
    {
        var request = new JsonArray();
        var cases = new List<(string Domain, string Type, byte[] Payload)>();
        for (int i = 0; i < Ed25519Keys; i++)
        {
            byte[] payload = RandomNumberGenerator.GetBytes(RandomNumberGenerator.GetInt32(0, 300));
            string domain = i % 2 == 0 ? GraftChallenge.Domain : $"ed-domain-{i}";
            string type = i % 2 == 0 ? GraftChallenge.PayloadType : $"/ed/{i}";
            cases.Add((domain, type, payload));
            request.Add(new JsonObject
            {
                ["seed"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
                ["domain"] = domain,
                ["payloadType"] = type,
                ["payload"] = Convert.ToHexStringLower(payload),
            });
        }

        JsonArray answers = node.Vectors(new JsonObject { ["ed25519"] = request })["ed25519"]!.AsArray();
        Assert.Equal(Ed25519Keys, answers.Count);
        for (int i = 0; i < Ed25519Keys; i++)
        {
            JsonNode? js = answers[i];
            (string domain, string type, byte[] payload) = cases[i];
            PublicKey key = PublicKey.FromProtobuf(js.Hex("publicKeyProtobuf"));
            Assert.Equal(KeyType.Ed25519, key.Type);
            Assert.Equal(js.Str("peerId"), key.PeerId.ToString());
            Assert.Equal(key.PeerId, PeerId.Parse(js.Str("peerId")));
            Assert.True(PeerId.Parse(js.Str("peerId")).TryGetPublicKey(out PublicKey? carried));
            Assert.Equal(key, carried);

            byte[] noble = js.Hex("nobleSignature");
            byte[] libp2p = js.Hex("libp2pSignature");
            Assert.True(key.Verify(domain, type, payload, noble), $"noble's Ed25519 signature {i} did not verify");
            Assert.True(key.Verify(domain, type, payload, libp2p), $"js-libp2p's Ed25519 signature {i} did not verify");
            Assert.False(key.Verify(domain + "!", type, payload, noble));
            noble[i % 64] ^= 0x40;
            Assert.False(key.Verify(domain, type, payload, noble));
        }
    }

    private static ulong RandomUInt64() => BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
}
