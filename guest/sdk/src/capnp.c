// Cap'n Proto messages for guests (see capnp.h). Pointer layouts follow the encoding spec's
// "Pointers" section: struct (A=0), list (A=1), far (A=2), other/capability (A=3).
#include "capnp.h"

#include <stdlib.h>
#include <string.h>

// ---- helpers ----------------------------------------------------------------------------

static uint64_t rd64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static void wr64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void fail(cp_message *m, int e) {
  if (m && m->error == CP_OK) m->error = e;
}

static int32_t offset_of(uint64_t w) { return (int32_t)((uint32_t)w) >> 2; }

static const uint8_t *word(const cp_message *m, uint32_t seg, uint32_t w) { return m->segs[seg].data + (size_t)w * 8; }

// ---- framing ----------------------------------------------------------------------------

long cp_frame_parse(const uint8_t *buf, size_t len, cp_segment *segs, uint32_t max_segs, uint32_t *nsegs) {
  if (len < 4) return 0;
  uint32_t count = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16 | (uint32_t)buf[3] << 24;
  if (count >= max_segs) return -1;  // count is the number of segments minus one
  count += 1;
  size_t header = (4 + 4 * (size_t)count + 7) & ~(size_t)7;
  if (len < header) return 0;
  size_t total = header;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *p = buf + 4 + 4 * i;
    uint32_t words = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (words > (1u << 29)) return -1;  // over 4 GiB: never a message of ours
    segs[i].words = words;
    total += (size_t)words * 8;
  }
  if (total > (size_t)0x7fffffff) return -1;
  if (len < total) return 0;
  size_t at = header;
  for (uint32_t i = 0; i < count; i++) {
    segs[i].data = buf + at;
    at += (size_t)segs[i].words * 8;
  }
  *nsegs = count;
  return (long)total;
}

void cp_message_init(cp_message *m, const cp_segment *segs, uint32_t nsegs) {
  m->segs = segs;
  m->nsegs = nsegs;
  m->traversal_left = 8 * 1024 * 1024;
  m->nesting_limit = 64;
  m->error = CP_OK;
}

// ---- pointer resolution -----------------------------------------------------------------

// Follows the pointer at (seg, at), through far pointers, to its target. On success returns 1 with
// the pointer word that describes the target in *ptr, the target's segment in *tseg and its first
// word in *toff. A null pointer returns 0 with *ptr == 0; an invalid one returns 0 and flags m.
static int follow(cp_message *m, uint32_t seg, uint32_t at, uint64_t *ptr, uint32_t *tseg, int64_t *toff) {
  uint64_t w = rd64(word(m, seg, at));
  *ptr = w;
  if (w == 0) return 0;
  if ((w & 3) == 2) {
    uint32_t lseg = (uint32_t)(w >> 32);
    uint32_t pad = (uint32_t)(w >> 3) & 0x1fffffff;
    int dbl = (int)((w >> 2) & 1);
    if (lseg >= m->nsegs || (uint64_t)pad + (dbl ? 2 : 1) > m->segs[lseg].words) {
      fail(m, CP_ERR_BOUNDS);
      return 0;
    }
    uint64_t land = rd64(word(m, lseg, pad));
    if (!dbl) {
      if ((land & 3) == 2) {
        fail(m, CP_ERR_FORMAT);  // a single-far landing pad must not be far again
        return 0;
      }
      *ptr = land;
      *tseg = lseg;
      *toff = (int64_t)pad + 1 + offset_of(land);
      return 1;
    }
    // Double far: the pad is a far pointer to the content's start, then a tag (offset 0).
    if ((land & 7) != 2) {
      fail(m, CP_ERR_FORMAT);
      return 0;
    }
    uint32_t cseg = (uint32_t)(land >> 32);
    if (cseg >= m->nsegs) {
      fail(m, CP_ERR_BOUNDS);
      return 0;
    }
    *ptr = rd64(word(m, lseg, pad + 1));
    *tseg = cseg;
    *toff = (int64_t)((uint32_t)(land >> 3) & 0x1fffffff);
    return 1;
  }
  *tseg = seg;
  *toff = (int64_t)at + 1 + offset_of(w);
  return 1;
}

static int charge(cp_message *m, int64_t words) {
  m->traversal_left -= words < 1 ? 1 : words;
  if (m->traversal_left < 0) {
    fail(m, CP_ERR_TRAVERSAL);
    return 0;
  }
  return 1;
}

static int in_segment(cp_message *m, uint32_t seg, int64_t off, int64_t words) {
  if (off < 0 || words < 0 || off + words > (int64_t)m->segs[seg].words) {
    fail(m, CP_ERR_BOUNDS);
    return 0;
  }
  return 1;
}

static const cp_struct empty_struct;
static const cp_list empty_list;

static cp_struct read_struct_at(cp_message *m, uint32_t seg, uint32_t at, int depth) {
  cp_struct s = empty_struct;
  if (m == NULL || m->error) return s;
  if (depth > m->nesting_limit) {
    fail(m, CP_ERR_NESTING);
    return s;
  }
  uint64_t p;
  uint32_t tseg = 0;
  int64_t toff = 0;
  if (!follow(m, seg, at, &p, &tseg, &toff)) return s;
  if ((p & 3) != 0) {
    fail(m, CP_ERR_FORMAT);
    return s;
  }
  uint16_t dw = (uint16_t)(p >> 32), pc = (uint16_t)(p >> 48);
  if (!in_segment(m, tseg, toff, (int64_t)dw + pc) || !charge(m, (int64_t)dw + pc)) return s;
  s.msg = m;
  s.seg = tseg;
  s.data = (uint32_t)toff;
  s.ptrs = (uint32_t)toff + dw;
  s.data_words = dw;
  s.ptr_count = pc;
  s.depth = depth;
  return s;
}

static const uint8_t elem_bits[8] = {0, 1, 8, 16, 32, 64, 64, 0};

static cp_list read_list_at(cp_message *m, uint32_t seg, uint32_t at, int depth) {
  cp_list l = empty_list;
  if (m == NULL || m->error) return l;
  if (depth > m->nesting_limit) {
    fail(m, CP_ERR_NESTING);
    return l;
  }
  uint64_t p;
  uint32_t tseg = 0;
  int64_t toff = 0;
  if (!follow(m, seg, at, &p, &tseg, &toff)) return l;
  if ((p & 3) != 1) {
    fail(m, CP_ERR_FORMAT);
    return l;
  }
  uint8_t elem = (uint8_t)((p >> 32) & 7);
  uint32_t count = (uint32_t)(p >> 35);
  l.msg = m;
  l.seg = tseg;
  l.elem = elem;
  l.depth = depth;
  if (elem == CP_COMPOSITE) {
    // count is the words of the content; a tag word (struct-like) comes first.
    if (!in_segment(m, tseg, toff, (int64_t)count + 1)) return empty_list;
    uint64_t tag = rd64(word(m, tseg, (uint32_t)toff));
    if ((tag & 3) != 0) {
      fail(m, CP_ERR_FORMAT);
      return empty_list;
    }
    uint32_t n = (uint32_t)(tag >> 2) & 0x3fffffff;
    uint16_t dw = (uint16_t)(tag >> 32), pc = (uint16_t)(tag >> 48);
    if ((uint64_t)n * ((uint64_t)dw + pc) > count) {
      fail(m, CP_ERR_FORMAT);
      return empty_list;
    }
    // Elements of zero size still cost a word each (the amplification the spec warns of).
    if (!charge(m, (uint64_t)dw + pc == 0 ? n : count)) return empty_list;
    l.off = (uint32_t)toff + 1;
    l.count = n;
    l.data_words = dw;
    l.ptr_count = pc;
    return l;
  }
  int64_t words = ((int64_t)count * elem_bits[elem] + 63) / 64;
  if (!in_segment(m, tseg, toff, words) || !charge(m, elem == CP_VOID ? count : words)) return empty_list;
  l.off = (uint32_t)toff;
  l.count = count;
  return l;
}

cp_struct cp_root(cp_message *m) {
  if (m->nsegs == 0 || m->segs[0].words == 0) {
    fail(m, CP_ERR_FORMAT);
    return empty_struct;
  }
  return read_struct_at(m, 0, 0, 0);
}

// ---- struct fields ----------------------------------------------------------------------

static const uint8_t *data_byte(cp_struct s, uint32_t byte_off, uint32_t size) {
  if (s.msg == NULL || (uint64_t)byte_off + size > (uint64_t)s.data_words * 8) return NULL;
  return word(s.msg, s.seg, s.data) + byte_off;
}

uint8_t cp_get_u8(cp_struct s, uint32_t o) {
  const uint8_t *p = data_byte(s, o, 1);
  return p ? p[0] : 0;
}

uint16_t cp_get_u16(cp_struct s, uint32_t o) {
  const uint8_t *p = data_byte(s, o, 2);
  return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t cp_get_u32(cp_struct s, uint32_t o) {
  const uint8_t *p = data_byte(s, o, 4);
  return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
}

uint64_t cp_get_u64(cp_struct s, uint32_t o) {
  const uint8_t *p = data_byte(s, o, 8);
  return p ? rd64(p) : 0;
}

int cp_get_bool(cp_struct s, uint32_t bit) {
  const uint8_t *p = data_byte(s, bit / 8, 1);
  return p ? (p[0] >> (bit % 8)) & 1 : 0;
}

float cp_get_f32(cp_struct s, uint32_t o) {
  uint32_t u = cp_get_u32(s, o);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

double cp_get_f64(cp_struct s, uint32_t o) {
  uint64_t u = cp_get_u64(s, o);
  double d;
  memcpy(&d, &u, 8);
  return d;
}

static int has_ptr(cp_struct s, uint16_t ptr) { return s.msg != NULL && ptr < s.ptr_count && !s.msg->error; }

cp_struct cp_get_struct(cp_struct s, uint16_t ptr) {
  return has_ptr(s, ptr) ? read_struct_at(s.msg, s.seg, s.ptrs + ptr, s.depth + 1) : empty_struct;
}

cp_list cp_get_list(cp_struct s, uint16_t ptr) {
  return has_ptr(s, ptr) ? read_list_at(s.msg, s.seg, s.ptrs + ptr, s.depth + 1) : empty_list;
}

static cp_text text_of(cp_list l) {
  cp_text t = {"", 0};
  if (l.msg == NULL || l.count == 0) return t;
  if (l.elem != CP_BYTE) {
    fail(l.msg, CP_ERR_FORMAT);
    return t;
  }
  const char *p = (const char *)word(l.msg, l.seg, l.off);
  if (p[l.count - 1] != 0) {
    fail(l.msg, CP_ERR_FORMAT);  // text ends with NUL
    return t;
  }
  t.str = p;
  t.len = l.count - 1;
  return t;
}

static cp_data data_of(cp_list l) {
  cp_data d = {NULL, 0};
  if (l.msg == NULL || l.count == 0) return d;
  if (l.elem != CP_BYTE) {
    fail(l.msg, CP_ERR_FORMAT);
    return d;
  }
  d.ptr = word(l.msg, l.seg, l.off);
  d.len = l.count;
  return d;
}

cp_text cp_get_text(cp_struct s, uint16_t ptr) { return text_of(cp_get_list(s, ptr)); }

cp_data cp_get_data(cp_struct s, uint16_t ptr) { return data_of(cp_get_list(s, ptr)); }

int cp_get_cap(cp_struct s, uint16_t ptr, uint32_t *index) {
  if (!has_ptr(s, ptr)) return 0;
  uint64_t w = rd64(word(s.msg, s.seg, s.ptrs + ptr));
  if (w == 0) return 0;
  if ((w & 0xffffffffu) != 3) {
    fail(s.msg, CP_ERR_FORMAT);  // not a capability pointer
    return 0;
  }
  *index = (uint32_t)(w >> 32);
  return 1;
}

int cp_is_null(cp_struct s, uint16_t ptr) {
  return !has_ptr(s, ptr) || rd64(word(s.msg, s.seg, s.ptrs + ptr)) == 0;
}

// ---- list elements ----------------------------------------------------------------------

cp_struct cp_list_struct(cp_list l, uint32_t i) {
  cp_struct s = empty_struct;
  if (l.msg == NULL || i >= l.count || l.elem != CP_COMPOSITE || l.msg->error) return s;
  uint32_t size = (uint32_t)l.data_words + l.ptr_count;
  s.msg = l.msg;
  s.seg = l.seg;
  s.data = l.off + i * size;
  s.ptrs = s.data + l.data_words;
  s.data_words = l.data_words;
  s.ptr_count = l.ptr_count;
  s.depth = l.depth;
  return s;
}

static const uint8_t *elem_at(cp_list l, uint32_t i, uint32_t bytes) {
  if (l.msg == NULL || i >= l.count || l.msg->error) return NULL;
  if (l.elem == CP_COMPOSITE) {
    // A list of structs read as primitives: each element's first data word (list upgrade).
    if (l.data_words == 0) return NULL;
    return word(l.msg, l.seg, l.off + i * ((uint32_t)l.data_words + l.ptr_count));
  }
  if ((uint32_t)elem_bits[l.elem] != bytes * 8) return NULL;
  return word(l.msg, l.seg, l.off) + (size_t)i * bytes;
}

uint8_t cp_list_u8(cp_list l, uint32_t i) {
  const uint8_t *p = elem_at(l, i, 1);
  return p ? p[0] : 0;
}

uint16_t cp_list_u16(cp_list l, uint32_t i) {
  const uint8_t *p = elem_at(l, i, 2);
  return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t cp_list_u32(cp_list l, uint32_t i) {
  const uint8_t *p = elem_at(l, i, 4);
  return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
}

uint64_t cp_list_u64(cp_list l, uint32_t i) {
  const uint8_t *p = elem_at(l, i, 8);
  return p ? rd64(p) : 0;
}

int cp_list_bool(cp_list l, uint32_t i) {
  if (l.msg == NULL || i >= l.count || l.elem != CP_BIT || l.msg->error) return 0;
  return (word(l.msg, l.seg, l.off)[i / 8] >> (i % 8)) & 1;
}

static int list_ptr(cp_list l, uint32_t i, uint32_t *at) {
  if (l.msg == NULL || i >= l.count || l.msg->error) return 0;
  if (l.elem == CP_POINTER) {
    *at = l.off + i;
    return 1;
  }
  if (l.elem == CP_COMPOSITE && l.ptr_count > 0) {
    *at = l.off + i * ((uint32_t)l.data_words + l.ptr_count) + l.data_words;
    return 1;
  }
  return 0;
}

cp_list cp_list_list(cp_list l, uint32_t i) {
  uint32_t at;
  return list_ptr(l, i, &at) ? read_list_at(l.msg, l.seg, at, l.depth + 1) : empty_list;
}

cp_text cp_list_text(cp_list l, uint32_t i) { return text_of(cp_list_list(l, i)); }

cp_data cp_list_data(cp_list l, uint32_t i) { return data_of(cp_list_list(l, i)); }

// ---- building ---------------------------------------------------------------------------

void cp_builder_init(cp_builder *b, uint32_t first_words, uint32_t max_words, void *(*realloc_fn)(void *, size_t)) {
  memset(b, 0, sizeof *b);
  b->realloc_fn = realloc_fn ? realloc_fn : realloc;
  b->max_words = max_words;
  b->cap = first_words < 8 ? 8 : first_words;
  b->buf = b->realloc_fn(NULL, (size_t)b->cap * 8);
  if (b->buf == NULL) {
    b->cap = 0;
    b->error = CP_ERR_BOUNDS;
  }
}

void cp_builder_free(cp_builder *b) {
  if (b->buf) b->realloc_fn(b->buf, 0);
  b->buf = NULL;
  b->cap = b->words = 0;
}

void cp_builder_reset(cp_builder *b) {
  b->words = 0;
  b->error = CP_OK;
}

// Reserves n zeroed words; returns their offset, or UINT32_MAX (and flags the builder).
static uint32_t alloc_words(cp_builder *b, uint64_t n) {
  if (b->error) return UINT32_MAX;
  uint64_t need = (uint64_t)b->words + n;
  if (need > b->max_words) {
    b->error = CP_ERR_BOUNDS;
    return UINT32_MAX;
  }
  if (need > b->cap) {
    uint64_t cap = (uint64_t)b->cap * 2;
    if (cap < need) cap = need;
    if (cap > b->max_words) cap = b->max_words;
    uint8_t *grown = b->realloc_fn(b->buf, (size_t)cap * 8);
    if (grown == NULL) {
      b->error = CP_ERR_BOUNDS;
      return UINT32_MAX;
    }
    b->buf = grown;
    b->cap = (uint32_t)cap;
  }
  uint32_t at = b->words;
  memset(b->buf + (size_t)at * 8, 0, (size_t)n * 8);
  b->words = (uint32_t)need;
  return at;
}

static const cp_bstruct no_bstruct;
static const cp_blist no_blist;

static void put_struct_ptr(cp_builder *b, uint32_t at, uint32_t target, uint16_t dw, uint16_t pc) {
  int32_t off = (int32_t)target - (int32_t)at - 1;
  wr64(b->buf + (size_t)at * 8, ((uint64_t)((uint32_t)off << 2)) | (uint64_t)dw << 32 | (uint64_t)pc << 48);
}

static void put_list_ptr(cp_builder *b, uint32_t at, uint32_t target, uint8_t elem, uint32_t count) {
  int32_t off = (int32_t)target - (int32_t)at - 1;
  wr64(b->buf + (size_t)at * 8, ((uint64_t)((uint32_t)off << 2) | 1) | (uint64_t)elem << 32 | (uint64_t)count << 35);
}

cp_bstruct cp_init_root(cp_builder *b, uint16_t dw, uint16_t pc) {
  cp_builder_reset(b);
  uint32_t root = alloc_words(b, 1);
  uint32_t t = alloc_words(b, (uint64_t)dw + pc);
  if (root == UINT32_MAX || t == UINT32_MAX) return no_bstruct;
  put_struct_ptr(b, root, t, dw, pc);
  cp_bstruct s = {b, t, t + dw, dw, pc};
  return s;
}

static uint8_t *bdata(cp_bstruct s, uint32_t byte_off, uint32_t size) {
  if (s.b == NULL || s.b->error || (uint64_t)byte_off + size > (uint64_t)s.data_words * 8) return NULL;
  return s.b->buf + (size_t)s.data * 8 + byte_off;
}

void cp_set_u8(cp_bstruct s, uint32_t o, uint8_t v) {
  uint8_t *p = bdata(s, o, 1);
  if (p) p[0] = v;
}

void cp_set_u16(cp_bstruct s, uint32_t o, uint16_t v) {
  uint8_t *p = bdata(s, o, 2);
  if (p) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
  }
}

void cp_set_u32(cp_bstruct s, uint32_t o, uint32_t v) {
  uint8_t *p = bdata(s, o, 4);
  if (p)
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void cp_set_u64(cp_bstruct s, uint32_t o, uint64_t v) {
  uint8_t *p = bdata(s, o, 8);
  if (p) wr64(p, v);
}

void cp_set_bool(cp_bstruct s, uint32_t bit, int v) {
  uint8_t *p = bdata(s, bit / 8, 1);
  if (p) p[0] = (uint8_t)(v ? p[0] | (1u << (bit % 8)) : p[0] & ~(1u << (bit % 8)));
}

void cp_set_f32(cp_bstruct s, uint32_t o, float v) {
  uint32_t u;
  memcpy(&u, &v, 4);
  cp_set_u32(s, o, u);
}

void cp_set_f64(cp_bstruct s, uint32_t o, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  cp_set_u64(s, o, u);
}

static int bptr(cp_bstruct s, uint16_t ptr) { return s.b != NULL && !s.b->error && ptr < s.ptr_count; }

cp_bstruct cp_init_struct(cp_bstruct s, uint16_t ptr, uint16_t dw, uint16_t pc) {
  if (!bptr(s, ptr)) return no_bstruct;
  uint32_t t = alloc_words(s.b, (uint64_t)dw + pc);
  if (t == UINT32_MAX) return no_bstruct;
  put_struct_ptr(s.b, s.ptrs + ptr, t, dw, pc);
  cp_bstruct r = {s.b, t, t + dw, dw, pc};
  return r;
}

cp_blist cp_init_list(cp_bstruct s, uint16_t ptr, uint8_t elem, uint32_t count) {
  if (!bptr(s, ptr) || elem == CP_COMPOSITE || elem > CP_COMPOSITE || count >= (1u << 29)) return no_blist;
  uint64_t words = ((uint64_t)count * elem_bits[elem] + 63) / 64;
  uint32_t t = alloc_words(s.b, words);
  if (t == UINT32_MAX) return no_blist;
  put_list_ptr(s.b, s.ptrs + ptr, t, elem, count);
  cp_blist l = {s.b, t, count, elem, 0, 0};
  return l;
}

cp_blist cp_init_struct_list(cp_bstruct s, uint16_t ptr, uint32_t count, uint16_t dw, uint16_t pc) {
  if (!bptr(s, ptr) || count >= (1u << 29)) return no_blist;
  uint64_t words = (uint64_t)count * ((uint64_t)dw + pc);
  if (words >= (1u << 29)) {
    s.b->error = CP_ERR_BOUNDS;
    return no_blist;
  }
  uint32_t t = alloc_words(s.b, words + 1);
  if (t == UINT32_MAX) return no_blist;
  put_list_ptr(s.b, s.ptrs + ptr, t, CP_COMPOSITE, (uint32_t)words);
  // The tag: a struct-like word whose offset field is the element count.
  wr64(s.b->buf + (size_t)t * 8, ((uint64_t)count << 2) | (uint64_t)dw << 32 | (uint64_t)pc << 48);
  cp_blist l = {s.b, t + 1, count, CP_COMPOSITE, dw, pc};
  return l;
}

static int put_bytes(cp_builder *b, uint32_t at, const void *bytes, size_t len, int nul) {
  if (b == NULL || b->error || len >= (1u << 29) - 1) return 0;
  uint32_t count = (uint32_t)len + (nul ? 1 : 0);
  uint32_t t = alloc_words(b, ((uint64_t)count + 7) / 8);
  if (t == UINT32_MAX) return 0;
  if (len) memcpy(b->buf + (size_t)t * 8, bytes, len);
  put_list_ptr(b, at, t, CP_BYTE, count);
  return 1;
}

int cp_set_text(cp_bstruct s, uint16_t ptr, const char *str, size_t len) {
  return bptr(s, ptr) && put_bytes(s.b, s.ptrs + ptr, str, len, 1);
}

int cp_set_data(cp_bstruct s, uint16_t ptr, const void *bytes, size_t len) {
  return bptr(s, ptr) && put_bytes(s.b, s.ptrs + ptr, bytes, len, 0);
}

void cp_set_cap(cp_bstruct s, uint16_t ptr, uint32_t index) {
  if (bptr(s, ptr)) wr64(s.b->buf + (size_t)(s.ptrs + ptr) * 8, 3 | (uint64_t)index << 32);
}

cp_bstruct cp_blist_struct(cp_blist l, uint32_t i) {
  if (l.b == NULL || l.b->error || l.elem != CP_COMPOSITE || i >= l.count) return no_bstruct;
  uint32_t at = l.off + i * ((uint32_t)l.data_words + l.ptr_count);
  cp_bstruct s = {l.b, at, at + l.data_words, l.data_words, l.ptr_count};
  return s;
}

static uint8_t *belem(cp_blist l, uint32_t i, uint32_t bytes) {
  if (l.b == NULL || l.b->error || i >= l.count || (uint32_t)elem_bits[l.elem] != bytes * 8 || l.elem == CP_POINTER) return NULL;
  return l.b->buf + (size_t)l.off * 8 + (size_t)i * bytes;
}

void cp_blist_set_u8(cp_blist l, uint32_t i, uint8_t v) {
  uint8_t *p = belem(l, i, 1);
  if (p) p[0] = v;
}

void cp_blist_set_u32(cp_blist l, uint32_t i, uint32_t v) {
  uint8_t *p = belem(l, i, 4);
  if (p)
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> (8 * k));
}

void cp_blist_set_u64(cp_blist l, uint32_t i, uint64_t v) {
  uint8_t *p = belem(l, i, 8);
  if (p) wr64(p, v);
}

int cp_blist_set_text(cp_blist l, uint32_t i, const char *str, size_t len) {
  if (l.b == NULL || l.b->error || l.elem != CP_POINTER || i >= l.count) return 0;
  return put_bytes(l.b, l.off + i, str, len, 1);
}

void cp_builder_segment(const cp_builder *b, cp_segment *seg) {
  seg->data = b->buf;
  seg->words = b->words;
}

size_t cp_frame_size(const cp_builder *b) { return 8 + (size_t)b->words * 8; }

void cp_frame_header(const cp_builder *b, uint8_t header[8]) {
  memset(header, 0, 4);  // one segment: count - 1 = 0
  header[4] = (uint8_t)b->words;
  header[5] = (uint8_t)(b->words >> 8);
  header[6] = (uint8_t)(b->words >> 16);
  header[7] = (uint8_t)(b->words >> 24);
}
