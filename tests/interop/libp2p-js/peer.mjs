// A js-libp2p v2 peer for Wetware.P2p.Tests: TCP, Noise, Yamux, identify, ping and the echo protocol
// /ww-test/echo/1.0.0 (and /ww-test/sink/1.0.0 for bench/p2p.sh). It prints one JSON line when it listens ({"event":"ready",...}), then answers JSON-line
// commands on stdin ({"id":1,"cmd":"ping","addr":"/ip4/..."}) with {"id":1,"ok":true,...} or {"id":1,"ok":false,"error":"..."}.
// Run with: node --import ./polyfill.mjs peer.mjs --key secp256k1|ed25519
import { createInterface } from 'node:readline'
import { randomBytes } from 'node:crypto'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, identifyPush } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { byteStream } from 'it-byte-stream'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'

const ECHO = '/ww-test/echo/1.0.0'
// The one-way benchmark protocol: the dialer sends bytes and closes its side; the listener counts them and answers
// with the count as 8 bytes little-endian.
const SINK = '/ww-test/sink/1.0.0'
const args = process.argv.slice(2)
const keyType = args[args.indexOf('--key') + 1] === 'ed25519' ? 'Ed25519' : 'secp256k1'

const node = await createLibp2p({
  privateKey: await generateKeyPair(keyType),
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip6/::1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), identifyPush: identifyPush(), ping: ping() },
  connectionManager: { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 100 }
})

const streamLimits = { maxInboundStreams: 512, maxOutboundStreams: 512 }
await node.handle(ECHO, async ({ stream }) => {
  try {
    await stream.sink(stream.source)
  } catch (err) {
    stream.abort(err)
  }
}, streamLimits)

await node.handle(SINK, async ({ stream }) => {
  try {
    let count = 0
    for await (const list of stream.source) count += list.byteLength
    const answer = Buffer.alloc(8)
    answer.writeBigUInt64LE(BigInt(count))
    await stream.sink([answer])
  } catch (err) {
    stream.abort(err)
  }
}, streamLimits)

const events = []
node.addEventListener('peer:identify', (evt) => events.push({ event: 'identify', peer: evt.detail.peerId.toString() }))

function target (cmd) {
  return cmd.addr != null ? multiaddr(cmd.addr) : peerIdFromString(cmd.peer)
}

async function echo (cmd, data) {
  const size = cmd.bytes
  const stream = await node.dialProtocol(target(cmd), ECHO)
  const chunk = 64 * 1024
  const sending = stream.sink((async function * () {
    for (let i = 0; i < size; i += chunk) yield data.subarray(i, Math.min(size, i + chunk))
  })())
  let received = 0
  for await (const list of stream.source) {
    const buf = list.subarray()
    if (received + buf.length > size || Buffer.compare(buf, data.subarray(received, received + buf.length)) !== 0) {
      throw new Error(`echo differs near byte ${received}`)
    }
    received += buf.length
  }
  await sending
  if (received !== size) throw new Error(`echo returned ${received} of ${size} bytes`)
  await stream.close()
  return received
}

// Sends cmd.bytes on a sink stream in 64 KiB chunks and waits for the peer's count of them.
async function send (cmd) {
  const size = cmd.bytes
  const chunk = randomBytes(64 * 1024)
  const stream = await node.dialProtocol(target(cmd), SINK)
  const started = performance.now()
  const sending = stream.sink((async function * () {
    for (let i = 0; i < size; i += chunk.length) yield chunk.subarray(0, Math.min(chunk.length, size - i))
  })())
  const answer = []
  for await (const list of stream.source) answer.push(list.subarray())
  await sending
  const ms = performance.now() - started
  const count = Buffer.concat(answer)
  if (count.length !== 8 || count.readBigUInt64LE(0) !== BigInt(size)) throw new Error(`the sink counted ${count.length === 8 ? count.readBigUInt64LE(0) : 'no answer'} of ${size} bytes`)
  await stream.close()
  return ms
}

const handlers = {
  async dial (cmd) {
    const c = await node.dial(target(cmd))
    return { peer: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString() }
  },
  async ping (cmd) {
    return { rtt: await node.services.ping.ping(target(cmd)) }
  },
  async identify (cmd) {
    const c = await node.dial(target(cmd))
    const r = await node.services.identify.identify(c)
    return {
      peer: r.peerId.toString(),
      agentVersion: r.agentVersion,
      protocolVersion: r.protocolVersion,
      protocols: r.protocols,
      listenAddrs: r.listenAddrs.map(a => a.toString()),
      observedAddr: r.observedAddr?.toString(),
      publicKeyType: r.publicKey == null ? null : (await import('@libp2p/crypto/keys')).publicKeyFromProtobuf(r.publicKey).type
    }
  },
  async peerStore (cmd) {
    const p = await node.peerStore.get(peerIdFromString(cmd.peer))
    const meta = {}
    for (const [k, v] of p.metadata) meta[k] = new TextDecoder().decode(v)
    return { protocols: p.protocols, addresses: p.addresses.map(a => a.multiaddr.toString()), metadata: meta }
  },
  async echo (cmd) {
    const streams = cmd.streams ?? 1
    // The data is made before the clock starts: only moving it is timed.
    const data = randomBytes(cmd.bytes)
    const started = performance.now()
    const sizes = await Promise.all(Array.from({ length: streams }, () => echo(cmd, data)))
    return { bytes: sizes.reduce((a, b) => a + b, 0), ms: performance.now() - started }
  },
  async send (cmd) {
    return { bytes: cmd.bytes, ms: await send(cmd) }
  },
  // Benchmark helpers (bench/p2p.sh): timings taken here with performance.now(), so the JSON-line channel adds nothing.
  async pings (cmd) {
    const t = target(cmd)
    await node.dial(t)
    const rtts = []
    for (let i = 0; i < (cmd.count ?? 1000); i++) {
      const started = performance.now()
      try {
        await node.services.ping.ping(t)
      } catch (err) {
        // js-libp2p counts the previous ping stream as open for a moment after its close resolved: retry, untimed.
        if (err.name !== 'TooManyOutboundProtocolStreamsError') throw err
        await new Promise(resolve => setTimeout(resolve, 1))
        i--
        continue
      }
      rtts.push(performance.now() - started)
    }
    return { ms: rtts }
  },
  // The ping protocol repeated on one stream (as the libp2p ping spec has it): 32 random bytes out, the same back.
  async streamPings (cmd) {
    let stream
    while (stream == null) {
      try {
        stream = await node.dialProtocol(target(cmd), '/ipfs/ping/1.0.0')
      } catch (err) {
        // As in pings: the previous ping stream may still count against js-libp2p's limit of one.
        if (err.name !== 'TooManyOutboundProtocolStreamsError') throw err
        await new Promise(resolve => setTimeout(resolve, 1))
      }
    }
    const bytes = byteStream(stream)
    const rtts = []
    for (let i = 0; i < (cmd.count ?? 1000) + 100; i++) {
      const data = randomBytes(32)
      const started = performance.now()
      await bytes.write(data)
      const echoed = await bytes.read({ bytes: 32 })
      const elapsed = performance.now() - started
      if (Buffer.compare(Buffer.from(echoed.subarray()), data) !== 0) throw new Error('ping: other bytes came back')
      if (i >= 100) rtts.push(elapsed)
    }
    await stream.close()
    return { ms: rtts }
  },
  async dials (cmd) {
    const t = multiaddr(cmd.addr)
    const times = []
    for (let i = 0; i < (cmd.count ?? 100); i++) {
      const started = performance.now()
      await node.dial(t)
      times.push(performance.now() - started)
      await node.hangUp(t)
    }
    return { ms: times }
  },
  async connections () {
    return {
      connections: node.getConnections().map(c => ({
        peer: c.remotePeer.toString(), remoteAddr: c.remoteAddr.toString(), direction: c.direction, status: c.status,
        multiplexer: c.multiplexer, encryption: c.encryption
      }))
    }
  },
  async hangup (cmd) {
    await node.hangUp(target(cmd))
    return {}
  },
  async events () {
    return { events }
  },
  async stop () {
    await node.stop()
    setTimeout(() => process.exit(0), 10)
    return {}
  }
}

console.log(JSON.stringify({
  event: 'ready',
  peerId: node.peerId.toString(),
  keyType,
  addrs: node.getMultiaddrs().map(a => a.toString())
}))

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue
  const cmd = JSON.parse(line)
  const handler = handlers[cmd.cmd]
  ;(async () => {
    try {
      if (handler == null) throw new Error(`unknown command ${cmd.cmd}`)
      const result = await handler(cmd)
      console.log(JSON.stringify({ id: cmd.id, ok: true, ...result }))
    } catch (err) {
      console.log(JSON.stringify({ id: cmd.id, ok: false, error: `${err.name}: ${err.message}` }))
    }
  })()
}
await node.stop()
process.exit(0)
