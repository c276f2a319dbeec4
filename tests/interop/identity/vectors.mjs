// Independent implementations of what Wetware.Identity computes, for its interop tests.
// Reads one JSON request on stdin, writes one JSON answer on stdout:
//   request:  { secp256k1: [{ secret, domain, payloadType, payload, signature }],   (hex; signature = ours)
//               ed25519:   [{ seed, domain, payloadType, payload }] }
//   answer:   { secp256k1: [{ peerId, cid, publicKeyProtobuf, evmAddress, envelope, nobleSignature,
//                             libp2pSignature, oursValidNoble, oursValidLibp2p }],
//               ed25519:   [{ peerId, publicKeyProtobuf, nobleSignature, libp2pSignature }] }
// Peer IDs come from @libp2p/crypto + @libp2p/peer-id, EVM addresses from @noble/curves + @noble/hashes
// (EIP-55 done here), envelopes and envelope signatures from @libp2p/peer-record's RecordEnvelope.
import './polyfill.mjs'
import { privateKeyFromRaw, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { RecordEnvelope } from '@libp2p/peer-record'
import { secp256k1 } from '@noble/curves/secp256k1'
import { ed25519 } from '@noble/curves/ed25519'
import { keccak_256 } from '@noble/hashes/sha3'
import { sha256 } from '@noble/hashes/sha2'
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils'

const request = JSON.parse(await readStdin())

function eip55 (addressBytes) {
  const lower = bytesToHex(addressBytes)
  const hash = bytesToHex(keccak_256(utf8ToBytes(lower)))
  let out = '0x'
  for (let i = 0; i < lower.length; i++) {
    out += parseInt(hash[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i]
  }
  return out
}

// A Record whose marshal() is our payload, so RecordEnvelope builds libp2p's signature payload around it.
function record (domain, payloadType, payload) {
  return { domain, codec: utf8ToBytes(payloadType), marshal: () => payload }
}

// The envelope bytes as RecordEnvelope signs them: captured by a key whose sign() records its input.
async function envelopeBytes (domain, payloadType, payload) {
  let captured
  const recorder = { sign: (data) => { captured = data.slice(); return new Uint8Array(64) }, publicKey: null }
  await RecordEnvelope.seal(record(domain, payloadType, payload), recorder)
  return captured
}

const secpAnswers = []
for (const item of request.secp256k1 ?? []) {
  const secret = hexToBytes(item.secret)
  const key = privateKeyFromRaw(secret)
  if (key.type !== 'secp256k1') throw new Error(`expected a secp256k1 key, got ${key.type}`)
  const peerId = peerIdFromPrivateKey(key)
  const uncompressed = secp256k1.getPublicKey(secret, false)
  const evmAddress = eip55(keccak_256(uncompressed.subarray(1)).subarray(12))

  const payload = hexToBytes(item.payload)
  const envelope = await envelopeBytes(item.domain, item.payloadType, payload)
  // noble: ECDSA over SHA-256(envelope), RFC 6979, low s, compact r || s.
  const nobleSignature = secp256k1.sign(sha256(envelope), secret, { lowS: true }).toCompactRawBytes()
  // libp2p: RecordEnvelope.seal signs with the key (DER over SHA-256); converted to compact for comparison.
  const sealed = await RecordEnvelope.seal(record(item.domain, item.payloadType, payload), key)
  const libp2pSignature = secp256k1.Signature.fromDER(sealed.signature).toCompactRawBytes()

  // Our signature, checked by noble (compact, low s required) and by libp2p (DER, as a libp2p peer sends it).
  const ours = hexToBytes(item.signature)
  const oursValidNoble = secp256k1.verify(ours, sha256(envelope), secp256k1.getPublicKey(secret, true), { lowS: true, format: 'compact' })
  const oursDer = secp256k1.Signature.fromCompact(ours).toDERRawBytes()
  const oursEnvelope = new RecordEnvelope({ publicKey: key.publicKey, payloadType: utf8ToBytes(item.payloadType), payload, signature: oursDer })
  const oursValidLibp2p = await oursEnvelope.validate(item.domain)

  secpAnswers.push({
    peerId: peerId.toString(),
    cid: peerId.toCID().toString(),
    publicKeyProtobuf: bytesToHex(publicKeyToProtobuf(key.publicKey)),
    evmAddress,
    envelope: bytesToHex(envelope),
    nobleSignature: bytesToHex(nobleSignature),
    libp2pSignature: bytesToHex(libp2pSignature),
    oursValidNoble,
    oursValidLibp2p
  })
}

const edAnswers = []
for (const item of request.ed25519 ?? []) {
  const seed = hexToBytes(item.seed)
  const publicKey = ed25519.getPublicKey(seed)
  // libp2p's raw Ed25519 private key is seed || public key.
  const key = privateKeyFromRaw(new Uint8Array([...seed, ...publicKey]))
  if (key.type !== 'Ed25519') throw new Error(`expected an Ed25519 key, got ${key.type}`)
  const payload = hexToBytes(item.payload)
  const envelope = await envelopeBytes(item.domain, item.payloadType, payload)
  const sealed = await RecordEnvelope.seal(record(item.domain, item.payloadType, payload), key)
  edAnswers.push({
    peerId: peerIdFromPrivateKey(key).toString(),
    publicKeyProtobuf: bytesToHex(publicKeyToProtobuf(key.publicKey)),
    nobleSignature: bytesToHex(ed25519.sign(envelope, seed)),
    libp2pSignature: bytesToHex(sealed.signature)
  })
}

process.stdout.write(JSON.stringify({ secp256k1: secpAnswers, ed25519: edAnswers }) + '\n')

async function readStdin () {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}
