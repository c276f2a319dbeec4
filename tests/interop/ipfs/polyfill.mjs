// js-ipfs 0.66's libp2p-era dependencies use Promise.withResolvers, which Node 20 lacks (it came in Node 22).
// Loaded into the `jsipfs` command with NODE_OPTIONS=--import=<this file>.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
