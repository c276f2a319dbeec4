// base58btc (the Bitcoin alphabet), as Peer IDs are shown. Header-only: the kernel and /bin/ww-info use it.
#ifndef WW_BASE58_H
#define WW_BASE58_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const char b58_alphabet[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

// Encodes n bytes (n <= 128) into out (NUL-terminated); false if out is too small.
static inline int b58_encode(const uint8_t *in, size_t n, char *out, size_t cap) {
  uint8_t digits[256]; // base 58 digits, least significant first; 128 bytes need at most 175
  size_t nd = 0, zeros = 0;
  if (n > 128) return 0;
  while (zeros < n && in[zeros] == 0) zeros++;
  for (size_t i = zeros; i < n; i++) {
    unsigned carry = in[i];
    for (size_t j = 0; j < nd; j++) {
      carry += (unsigned)digits[j] << 8;
      digits[j] = (uint8_t)(carry % 58);
      carry /= 58;
    }
    while (carry) {
      digits[nd++] = (uint8_t)(carry % 58);
      carry /= 58;
    }
  }
  if (zeros + nd + 1 > cap) return 0;
  size_t k = 0;
  for (size_t i = 0; i < zeros; i++) out[k++] = '1';
  while (nd > 0) out[k++] = b58_alphabet[digits[--nd]];
  out[k] = 0;
  return 1;
}

// Decodes text into out; returns the length, or -1 if it is not base58btc or out is too small.
static inline long b58_decode(const char *text, uint8_t *out, size_t cap) {
  uint8_t bytes[256]; // base 256, least significant first
  size_t nb = 0, zeros = 0, len = strlen(text);
  if (len > 300) return -1;
  while (zeros < len && text[zeros] == '1') zeros++;
  for (size_t i = zeros; i < len; i++) {
    const char *p = strchr(b58_alphabet, text[i]);
    if (!p || !text[i]) return -1;
    unsigned carry = (unsigned)(p - b58_alphabet);
    for (size_t j = 0; j < nb; j++) {
      carry += (unsigned)bytes[j] * 58;
      bytes[j] = (uint8_t)(carry & 0xff);
      carry >>= 8;
    }
    while (carry) {
      if (nb >= sizeof bytes) return -1;
      bytes[nb++] = (uint8_t)(carry & 0xff);
      carry >>= 8;
    }
  }
  if (zeros + nb > cap) return -1;
  size_t k = 0;
  for (size_t i = 0; i < zeros; i++) out[k++] = 0;
  while (nb > 0) out[k++] = bytes[--nb];
  return (long)k;
}

#endif
