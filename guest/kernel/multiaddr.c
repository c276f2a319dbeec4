// Multiaddrs (github.com/multiformats/multiaddr): binary (uvarint code, then the value) <-> text, for
// the protocols a libp2p node shows. Peer IDs in /p2p/ are base58btc.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base58.h"
#include "kernel.h"

typedef struct proto {
  const char *name;
  uint32_t code;
  int size; // bytes of the value: 0 none, >0 fixed, -1 length-prefixed
} proto;

static const proto protos[] = {
    {"ip4", 4, 4},      {"tcp", 6, 2},        {"udp", 273, 2},      {"ip6", 41, 16},    {"dns", 53, -1},
    {"dns4", 54, -1},   {"dns6", 55, -1},     {"dnsaddr", 56, -1},  {"p2p", 421, -1},   {"quic", 460, 0},
    {"quic-v1", 461, 0}, {"ws", 477, 0},      {"wss", 478, 0},      {"tls", 448, 0},    {"p2p-circuit", 290, 0},
    {"webtransport", 465, 0}, {"noise", 454, 0}, {"http", 480, 0},
};

static const proto *by_code(uint64_t code) {
  for (size_t i = 0; i < sizeof protos / sizeof *protos; i++) {
    if (protos[i].code == code) return &protos[i];
  }
  return NULL;
}

static const proto *by_name(const char *name, size_t n) {
  for (size_t i = 0; i < sizeof protos / sizeof *protos; i++) {
    if (strlen(protos[i].name) == n && !memcmp(protos[i].name, name, n)) return &protos[i];
  }
  return NULL;
}

static bool uvarint(const uint8_t *b, size_t n, size_t *pos, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 63; shift += 7) {
    if (*pos >= n) return false;
    uint8_t c = b[(*pos)++];
    v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

static void put_uvarint(strbuf *b, uint64_t v) {
  do {
    char c = (char)(v & 0x7f);
    v >>= 7;
    if (v) c = (char)(c | 0x80);
    sb_put(b, &c, 1);
  } while (v);
}

static void ip6_text(const uint8_t *a, strbuf *out) {
  uint16_t w[8];
  for (int i = 0; i < 8; i++) w[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
  int best = -1, best_len = 1; // the longest run of zero words (at least 2) becomes "::"
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && w[j] == 0) j++;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j > i ? j : i + 1;
  }
  for (int i = 0; i < 8; i++) {
    if (i == best) {
      sb_puts(out, "::");
      i += best_len - 1;
      continue;
    }
    if (i > 0 && i != best + best_len) sb_put(out, ":", 1);
    sb_printf(out, "%x", w[i]);
  }
}

bool ma_to_text(const uint8_t *b, size_t n, strbuf *out) {
  size_t pos = 0;
  while (pos < n) {
    uint64_t code, len;
    if (!uvarint(b, n, &pos, &code)) {
      k_fail("a malformed multiaddr");
      return false;
    }
    const proto *p = by_code(code);
    if (!p) {
      k_fail("a multiaddr with an unknown protocol (code %llu)", (unsigned long long)code);
      return false;
    }
    if (p->size >= 0) {
      len = (uint64_t)p->size;
    } else if (!uvarint(b, n, &pos, &len)) {
      k_fail("a malformed multiaddr");
      return false;
    }
    if (len > n - pos) {
      k_fail("a malformed multiaddr (truncated)");
      return false;
    }
    const uint8_t *v = b + pos;
    sb_put(out, "/", 1);
    sb_puts(out, p->name);
    if (p->code == 4) {
      sb_printf(out, "/%u.%u.%u.%u", v[0], v[1], v[2], v[3]);
    } else if (p->code == 6 || p->code == 273) {
      sb_printf(out, "/%u", (unsigned)(v[0] << 8 | v[1]));
    } else if (p->code == 41) {
      sb_put(out, "/", 1);
      ip6_text(v, out);
    } else if (p->code == 421) {
      char text[256];
      if (!b58_encode(v, (size_t)len, text, sizeof text)) {
        k_fail("a multiaddr's Peer ID is too long");
        return false;
      }
      sb_put(out, "/", 1);
      sb_puts(out, text);
    } else if (p->size < 0) {
      sb_put(out, "/", 1);
      sb_put(out, (const char *)v, (size_t)len);
    }
    pos += (size_t)len;
  }
  return true;
}

static bool parse_uint(const char *s, size_t n, unsigned long max, unsigned long *out) {
  if (n == 0 || n > 10) return false;
  unsigned long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

static bool parse_ip6(const char *s, size_t n, uint8_t out[16]) {
  uint16_t head[8], tail[8];
  int nh = 0, nt = 0;
  bool gap = false;
  size_t i = 0;
  if (n >= 2 && s[0] == ':' && s[1] == ':') gap = true, i = 2;
  while (i < n) {
    size_t j = i;
    unsigned v = 0;
    while (j < n && j - i < 4 && strchr("0123456789abcdefABCDEF", s[j]) && s[j]) {
      char c = s[j];
      v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
      j++;
    }
    if (j == i) return false;
    if (nh + nt >= 8) return false;
    if (gap) tail[nt++] = (uint16_t)v;
    else head[nh++] = (uint16_t)v;
    if (j == n) break;
    if (s[j] != ':') return false;
    if (j + 1 < n && s[j + 1] == ':') {
      if (gap) return false;
      gap = true;
      j++;
    }
    i = j + 1;
  }
  if (!gap && nh != 8) return false;
  if (gap && nh + nt > 7) return false;
  memset(out, 0, 16);
  for (int k = 0; k < nh; k++) out[2 * k] = (uint8_t)(head[k] >> 8), out[2 * k + 1] = (uint8_t)head[k];
  for (int k = 0; k < nt; k++) {
    int w = 8 - nt + k;
    out[2 * w] = (uint8_t)(tail[k] >> 8), out[2 * w + 1] = (uint8_t)tail[k];
  }
  return true;
}

bool ma_from_text(const char *text, strbuf *bin, strbuf *peer) {
  const char *s = text;
  if (*s != '/') {
    k_fail("not a multiaddr (it starts with '/'): %s", text);
    return false;
  }
  while (*s) {
    s++; // the '/'
    const char *end = strchr(s, '/');
    size_t n = end ? (size_t)(end - s) : strlen(s);
    if (n == 0 && !end) break; // a trailing '/'
    const proto *p = by_name(s, n);
    if (!p) {
      k_fail("a multiaddr with an unknown protocol '%.*s': %s", (int)(n > 40 ? 40 : n), s, text);
      return false;
    }
    s += n;
    const char *v = "";
    size_t vn = 0;
    if (p->size != 0) {
      if (*s != '/') {
        k_fail("/%s needs a value: %s", p->name, text);
        return false;
      }
      v = s + 1;
      const char *vend = strchr(v, '/');
      vn = vend ? (size_t)(vend - v) : strlen(v);
      s = v + vn;
    }
    if (p->code == 421) { // /p2p/<id>: the Peer ID, kept apart from the address
      char id[256];
      uint8_t raw[128];
      long got = -1;
      if (vn < sizeof id) {
        memcpy(id, v, vn);
        id[vn] = 0;
        got = b58_decode(id, raw, sizeof raw);
      }
      if (got <= 0) {
        k_fail("/p2p/ wants a base58btc Peer ID: %s", text);
        return false;
      }
      peer->len = 0;
      sb_put(peer, (const char *)raw, (size_t)got);
      continue;
    }
    put_uvarint(bin, p->code);
    unsigned long x;
    if (p->code == 4) {
      uint8_t a[4];
      size_t i = 0;
      for (int k = 0; k < 4; k++) {
        size_t j = i;
        while (j < vn && v[j] != '.') j++;
        if (!parse_uint(v + i, j - i, 255, &x) || (k < 3 && j >= vn) || (k == 3 && j != vn)) {
          k_fail("/ip4/ wants an address like 1.2.3.4: %s", text);
          return false;
        }
        a[k] = (uint8_t)x;
        i = j + 1;
      }
      sb_put(bin, (const char *)a, 4);
    } else if (p->code == 6 || p->code == 273) {
      if (!parse_uint(v, vn, 65535, &x)) {
        k_fail("/%s/ wants a port number: %s", p->name, text);
        return false;
      }
      char port[2] = {(char)(x >> 8), (char)(x & 0xff)};
      sb_put(bin, port, 2);
    } else if (p->code == 41) {
      uint8_t a[16];
      if (!parse_ip6(v, vn, a)) {
        k_fail("/ip6/ wants an IPv6 address: %s", text);
        return false;
      }
      sb_put(bin, (const char *)a, 16);
    } else if (p->size < 0) {
      put_uvarint(bin, vn);
      sb_put(bin, v, vn);
    }
  }
  if (bin->failed || peer->failed) {
    k_fail("out of memory");
    return false;
  }
  return true;
}
