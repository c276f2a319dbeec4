/* cp.c: Cap'n Proto message readers, builders and framing (see cp.h).
 *
 * Pointer words (encoding spec, "Pointers"): the low two bits are the kind (0 struct, 1 list,
 * 2 far, 3 other: capability); struct and list pointers carry a signed 30-bit word offset from
 * the end of the pointer to the object. Every object a reader follows a pointer to is checked
 * to lie inside its segment before any of its bytes are read.
 */
#include "cp.h"

#include <stdlib.h>

const cp_limits cp_default_limits = {
    .max_message_bytes = 64u << 20,
    .max_segments = 512,
    .traversal_words = 8u << 20,
    .nesting = 64,
};

static inline cp_segment *segs(cp_message *m) { return m->segs_heap ? m->segs_heap : m->seg_inline; }

void cp_message_fail(cp_message *m, const char *reason) {
  if (m && !m->error) m->error = reason;
}

/* ---- message lifetime ------------------------------------------------------------------ */

static void message_zero(cp_message *m) {
  memset(m, 0, sizeof *m);
  m->nesting_limit = cp_default_limits.nesting;
  m->segs_cap = 4;
}

void cp_message_init(cp_message *m, uint32_t first_words) {
  message_zero(m);
  m->building = true;
  m->unlimited = true;
  m->first_words = first_words ? first_words : 128;
  m->max_words = cp_default_limits.max_message_bytes / 8;
  uint8_t *data = calloc(m->first_words, 8);
  if (!data) {
    m->error = "out of memory";
    return;
  }
  m->seg_inline[0] = (cp_segment){data, 1, m->first_words}; /* word 0: the root pointer */
  m->nsegs = 1;
  m->total_words = m->first_words;
}

void cp_message_reset(cp_message *m) {
  if (!m->building) return;
  cp_segment *s = segs(m);
  for (uint32_t i = 1; i < m->nsegs; i++) free(s[i].data);
  cp_segment first = s[0];
  free(m->segs_heap);
  m->segs_heap = NULL;
  m->segs_cap = 4;
  if (first.data) {
    memset(first.data, 0, (size_t)first.words * 8);
    first.words = 1;
    m->nsegs = 1;
  } else {
    m->nsegs = 0;
  }
  m->seg_inline[0] = first;
  m->total_words = first.capacity;
  m->error = first.data ? NULL : "out of memory";
}

void cp_message_free(cp_message *m) {
  if (m->building) {
    cp_segment *s = segs(m);
    for (uint32_t i = 0; i < m->nsegs; i++) free(s[i].data);
  }
  free(m->segs_heap);
  message_zero(m);
}

int cp_frame_check(const uint8_t *buf, size_t len, const cp_limits *limits, size_t *frame_len,
                   const char **reason) {
  *frame_len = 0;
  if (len < 4) return 0;
  uint64_t n = (uint64_t)cp_load32(buf) + 1;
  if (n > limits->max_segments) {
    *reason = "message has more segments than the limit";
    return -1;
  }
  uint64_t header = (4 + 4 * n + 7) & ~(uint64_t)7;
  if (len < header) return 0;
  uint64_t words = 0;
  for (uint64_t i = 0; i < n; i++) words += cp_load32(buf + 4 + 4 * i);
  uint64_t total = header + words * 8;
  if (total > limits->max_message_bytes) {
    *reason = "message is larger than the limit";
    return -1;
  }
  *frame_len = (size_t)total;
  return len >= total ? 1 : 0;
}

int cp_message_read(cp_message *m, const uint8_t *frame, size_t len, const cp_limits *limits) {
  message_zero(m);
  if (!limits) limits = &cp_default_limits;
  size_t total = 0;
  const char *reason = "message is truncated";
  if (cp_frame_check(frame, len, limits, &total, &reason) != 1) {
    m->error = reason;
    return -1;
  }
  uint32_t n = cp_load32(frame) + 1;
  cp_segment *s = m->seg_inline;
  if (n > 4) {
    s = m->segs_heap = malloc(sizeof(cp_segment) * n);
    if (!s) {
      m->error = "out of memory";
      return -1;
    }
    m->segs_cap = n;
  }
  size_t at = (4 + 4 * (size_t)n + 7) & ~(size_t)7;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t words = cp_load32(frame + 4 + 4 * i);
    s[i] = (cp_segment){(uint8_t *)frame + at, words, 0};
    at += (size_t)words * 8;
  }
  m->nsegs = n;
  m->traversal_left = limits->traversal_words;
  m->nesting_limit = limits->nesting;
  return 0;
}

void cp_message_read_flat(cp_message *m, const uint8_t *words, uint32_t nwords) {
  message_zero(m);
  m->seg_inline[0] = (cp_segment){(uint8_t *)words, nwords, 0};
  m->nsegs = 1;
  m->unlimited = true;
}

cp_ptr cp_message_root(cp_message *m) {
  cp_ptr p = {m, NULL, 0, m->nesting_limit};
  if (m->nsegs == 0 || segs(m)[0].words == 0) {
    cp_message_fail(m, "message has no root pointer");
    return p;
  }
  p.p = segs(m)[0].data;
  return p;
}

cp_ptr_b cp_message_root_b(cp_message *m) {
  cp_ptr_b p = {m, NULL, 0};
  if (m->building && m->nsegs > 0) p.p = segs(m)[0].data;
  return p;
}

size_t cp_frame_size(const cp_message *m) {
  const cp_segment *s = m->segs_heap ? m->segs_heap : m->seg_inline;
  size_t total = (4 + 4 * (size_t)m->nsegs + 7) & ~(size_t)7;
  for (uint32_t i = 0; i < m->nsegs; i++) total += (size_t)s[i].words * 8;
  return total;
}

void cp_frame_write(const cp_message *m, uint8_t *out) {
  const cp_segment *s = m->segs_heap ? m->segs_heap : m->seg_inline;
  size_t header = (4 + 4 * (size_t)m->nsegs + 7) & ~(size_t)7;
  memset(out, 0, header);
  cp_store32(out, m->nsegs - 1);
  for (uint32_t i = 0; i < m->nsegs; i++) cp_store32(out + 4 + 4 * i, s[i].words);
  uint8_t *at = out + header;
  for (uint32_t i = 0; i < m->nsegs; i++) {
    memcpy(at, s[i].data, (size_t)s[i].words * 8);
    at += (size_t)s[i].words * 8;
  }
}

/* ---- following pointers (readers) ------------------------------------------------------ */

typedef struct ref {
  uint64_t tag;   /* the pointer describing the object (its offset bits are not used) */
  uint32_t seg;
  int64_t pos;    /* the object's first word in its segment */
} ref;

/* The signed 30-bit offset in bits 2..31 (no signed shifts: portable C). */
static inline int64_t ptr_offset(uint64_t w) {
  int64_t x = (int64_t)(((uint32_t)w) >> 2);
  return x >= (1 << 29) ? x - (1 << 30) : x;
}

/* 0: null, 1: followed, -1: malformed (the message records why). */
static int follow(cp_ptr p, ref *out) {
  if (!p.p) return 0;
  uint64_t w = cp_load64(p.p);
  if (w == 0) return 0;
  cp_message *m = p.msg;
  if (p.nesting <= 0) {
    cp_message_fail(m, "message is nested deeper than the limit");
    return -1;
  }
  cp_segment *s = segs(m);
  if ((w & 3) != 2) {
    out->tag = w;
    out->seg = p.seg;
    out->pos = (int64_t)((p.p - s[p.seg].data) / 8) + 1 + ptr_offset(w);
    return 1;
  }
  /* A far pointer: the landing pad in another segment says where the object is. */
  uint32_t pad_seg = (uint32_t)(w >> 32);
  uint32_t pad_pos = (uint32_t)w >> 3;
  bool two = (w >> 2) & 1;
  if (pad_seg >= m->nsegs || (uint64_t)pad_pos + (two ? 2 : 1) > s[pad_seg].words) {
    cp_message_fail(m, "far pointer points outside the message");
    return -1;
  }
  const uint8_t *pad = s[pad_seg].data + (size_t)pad_pos * 8;
  uint64_t pw = cp_load64(pad);
  if (!two) {
    if ((pw & 3) == 2) {
      cp_message_fail(m, "far pointer's landing pad is another far pointer");
      return -1;
    }
    out->tag = pw;
    out->seg = pad_seg;
    out->pos = (int64_t)pad_pos + 1 + ptr_offset(pw);
    return 1;
  }
  /* Double-far: the pad is a far pointer to the object's start, then the object's tag. */
  if ((pw & 7) != 2 || (uint32_t)(pw >> 32) >= m->nsegs) {
    cp_message_fail(m, "double-far landing pad is malformed");
    return -1;
  }
  out->tag = cp_load64(pad + 8);
  out->seg = (uint32_t)(pw >> 32);
  out->pos = (uint32_t)pw >> 3;
  return 1;
}

/* The object [pos, pos + words) must lie inside its segment; its words are charged to the
 * traversal limit (at least one word, so zero-sized objects cost too). */
static const uint8_t *object(cp_message *m, const ref *r, uint64_t words, uint64_t charge) {
  cp_segment *s = &segs(m)[r->seg];
  if (r->pos < 0 || (uint64_t)r->pos + words > s->words) {
    cp_message_fail(m, "pointer points outside its segment");
    return NULL;
  }
  if (!m->unlimited) {
    if (charge == 0) charge = 1;
    if (charge > m->traversal_left) {
      m->traversal_left = 0;
      cp_message_fail(m, "message traversal exceeds the limit");
      return NULL;
    }
    m->traversal_left -= charge;
  }
  return s->data + (size_t)r->pos * 8;
}

bool cp_ptr_is_null(cp_ptr p) { return !p.p || cp_load64(p.p) == 0; }

static cp_struct null_struct(void) {
  cp_struct s = {0};
  return s;
}

static cp_struct struct_at(cp_ptr p, const ref *rp) {
  ref r = *rp;
  if ((r.tag & 3) != 0) {
    cp_message_fail(p.msg, "expected a struct pointer");
    return null_struct();
  }
  uint16_t dw = (uint16_t)(r.tag >> 32), pc = (uint16_t)(r.tag >> 48);
  const uint8_t *o = object(p.msg, &r, (uint64_t)dw + pc, (uint64_t)dw + pc);
  if (!o) return null_struct();
  cp_struct s = {p.msg, o, o + (size_t)dw * 8, (uint32_t)dw * 8, r.seg, pc, p.nesting - 1};
  return s;
}

cp_struct cp_ptr_struct(cp_ptr p, const cp_ptr *dflt) {
  ref r;
  int f = follow(p, &r);
  if (f == 0) return dflt ? cp_ptr_struct(*dflt, NULL) : null_struct();
  if (f < 0) return null_struct();
  return struct_at(p, &r);
}

static const uint32_t DATA_BITS[8] = {0, 1, 8, 16, 32, 64, 0, 0};

static cp_list empty_list(int expected) {
  cp_list l = {0};
  l.elem = (uint8_t)expected;
  l.data_bits = expected == CP_COMPOSITE ? 0 : DATA_BITS[expected & 7];
  l.step_bits = l.data_bits;
  return l;
}

static cp_list list_at(cp_ptr p, const ref *rp, int expected) {
  ref r = *rp;
  cp_message *m = p.msg;
  if ((r.tag & 3) != 1) {
    cp_message_fail(m, "expected a list pointer");
    return empty_list(expected);
  }
  int elem = (int)((r.tag >> 32) & 7);
  uint32_t n = (uint32_t)(r.tag >> 35);
  cp_list l = {m, NULL, 0, 0, 0, r.seg, 0, (uint8_t)elem, p.nesting - 1};
  if (elem == CP_COMPOSITE) {
    /* n is the size in words; a tag word (struct-shaped) gives the element count and size. */
    const uint8_t *o = object(m, &r, (uint64_t)n + 1, 0);
    if (!o) return empty_list(expected);
    uint64_t tag = cp_load64(o);
    if ((tag & 3) != 0) {
      cp_message_fail(m, "list of structs has a malformed tag");
      return empty_list(expected);
    }
    uint32_t count = (uint32_t)tag >> 2;
    uint16_t dw = (uint16_t)(tag >> 32), pc = (uint16_t)(tag >> 48);
    uint64_t per = (uint64_t)dw + pc;
    if (per * count > n) {
      cp_message_fail(m, "list of structs is larger than its pointer says");
      return empty_list(expected);
    }
    /* Zero-sized elements cost a word each, so a small message cannot make a reader loop long. */
    uint64_t charge = per == 0 ? count : (uint64_t)n;
    ref body = r;
    body.pos = r.pos + 1;
    if (!object(m, &body, per * count, charge)) return empty_list(expected);
    l.p = o + 8;
    l.count = count;
    l.step_bits = (uint32_t)(per * 64);
    l.data_bits = (uint32_t)dw * 64;
    l.ptr_count = pc;
    switch (expected) {
      case CP_BIT:
        cp_message_fail(m, "found a list of structs where a list of bools was expected");
        return empty_list(expected);
      case CP_BYTE: case CP_TWO_BYTES: case CP_FOUR_BYTES: case CP_EIGHT_BYTES:
        if (dw == 0) {
          cp_message_fail(m, "found a list of pointer-only structs where a list of numbers was expected");
          return empty_list(expected);
        }
        break;
      case CP_POINTER:
        if (pc == 0) {
          cp_message_fail(m, "found a list of data-only structs where a list of pointers was expected");
          return empty_list(expected);
        }
        break;
      default:
        break;
    }
    return l;
  }
  uint32_t bits = DATA_BITS[elem];
  uint16_t pc = elem == CP_POINTER ? 1 : 0;
  uint64_t step = bits + 64u * pc;
  uint64_t words = (step * n + 63) / 64;
  if (!object(m, &r, words, step == 0 ? n : words)) return empty_list(expected);
  l.p = segs(m)[r.seg].data + (size_t)r.pos * 8;
  l.count = n;
  l.step_bits = (uint32_t)step;
  l.data_bits = bits;
  l.ptr_count = pc;
  bool ok = true;
  switch (expected) {
    case CP_VOID:
      break;
    case CP_BIT:
      ok = elem == CP_BIT;
      break;
    case CP_COMPOSITE:
      /* A list of primitives or pointers read as structs: each element is a struct's first field. */
      ok = elem != CP_BIT;
      break;
    case CP_POINTER:
      ok = elem == CP_POINTER;
      break;
    default:
      ok = elem != CP_BIT && elem != CP_POINTER && bits >= DATA_BITS[expected & 7];
      break;
  }
  if (!ok) {
    cp_message_fail(m, "list's element size does not match the schema");
    return empty_list(expected);
  }
  return l;
}

cp_list cp_ptr_list(cp_ptr p, int expected, const cp_ptr *dflt) {
  ref r;
  int f = follow(p, &r);
  if (f == 0) return dflt ? cp_ptr_list(*dflt, expected, NULL) : empty_list(expected);
  if (f < 0) return empty_list(expected);
  return list_at(p, &r, expected);
}

static const char EMPTY[1] = "";

cp_text cp_ptr_text(cp_ptr p, const cp_ptr *dflt) {
  cp_text t = {EMPTY, 0};
  if (cp_ptr_is_null(p)) return dflt ? cp_ptr_text(*dflt, NULL) : t;
  cp_list l = cp_ptr_list(p, CP_BYTE, NULL);
  if (!l.p) return t;
  if (l.elem != CP_BYTE || l.count == 0 || l.p[l.count - 1] != 0) {
    cp_message_fail(p.msg, "text is not a NUL-terminated list of bytes");
    return t;
  }
  t.str = (const char *)l.p;
  t.len = l.count - 1;
  return t;
}

cp_data cp_ptr_data(cp_ptr p, const cp_ptr *dflt) {
  cp_data d = {(const uint8_t *)EMPTY, 0};
  if (cp_ptr_is_null(p)) return dflt ? cp_ptr_data(*dflt, NULL) : d;
  cp_list l = cp_ptr_list(p, CP_BYTE, NULL);
  if (!l.p) return d;
  if (l.elem != CP_BYTE) {
    cp_message_fail(p.msg, "data is not a list of bytes");
    return d;
  }
  d.ptr = l.p;
  d.len = l.count;
  return d;
}

uint32_t cp_ptr_cap(cp_ptr p) {
  ref r;
  int f = follow(p, &r);
  if (f <= 0) return CP_NULL_CAP;
  if ((r.tag & 3) != 3 || ((uint32_t)r.tag >> 2) != 0) {
    cp_message_fail(p.msg, "expected a capability pointer");
    return CP_NULL_CAP;
  }
  return (uint32_t)(r.tag >> 32);
}

cp_struct cp_list_struct(cp_list l, uint32_t i) {
  if (i >= l.count || l.elem == CP_BIT) return null_struct();
  const uint8_t *e = l.p + (uint64_t)i * l.step_bits / 8;
  cp_struct s = {l.msg, e, e + l.data_bits / 8, l.data_bits / 8, l.seg, l.ptr_count, l.nesting};
  return s;
}

cp_ptr cp_list_ptr(cp_list l, uint32_t i) {
  cp_ptr p = {l.msg, NULL, l.seg, l.nesting};
  if (i < l.count && l.ptr_count > 0) p.p = l.p + (uint64_t)i * l.step_bits / 8 + l.data_bits / 8;
  return p;
}

/* ---- building --------------------------------------------------------------------------- */

/* Room for words in segment seg, or NULL. */
static uint8_t *alloc_in(cp_message *m, uint32_t seg, uint64_t words) {
  cp_segment *s = &segs(m)[seg];
  if ((uint64_t)s->words + words > s->capacity) return NULL;
  uint8_t *at = s->data + (size_t)s->words * 8;
  s->words += (uint32_t)words;
  return at;
}

/* Room for words in the last segment, or in a new one. */
static uint8_t *alloc_any(cp_message *m, uint64_t words, uint32_t *seg) {
  if (m->nsegs > 0) {
    uint8_t *at = alloc_in(m, m->nsegs - 1, words);
    if (at) {
      *seg = m->nsegs - 1;
      return at;
    }
  }
  if (m->total_words + words > m->max_words) {
    cp_message_fail(m, "message is larger than the limit");
    return NULL;
  }
  /* The new segment doubles the message (up to 8 MiB a segment), or fits the object. */
  uint64_t size = m->total_words;
  if (size > (1u << 20)) size = 1u << 20;
  if (size < words) size = words;
  if (m->total_words + size > m->max_words) size = words;
  if (m->nsegs == m->segs_cap) {
    uint32_t cap = m->segs_cap * 2;
    cp_segment *bigger = malloc(sizeof(cp_segment) * cap);
    if (!bigger) {
      cp_message_fail(m, "out of memory");
      return NULL;
    }
    memcpy(bigger, segs(m), sizeof(cp_segment) * m->nsegs);
    free(m->segs_heap);
    m->segs_heap = bigger;
    m->segs_cap = cap;
  }
  uint8_t *data = calloc((size_t)size, 8);
  if (!data) {
    cp_message_fail(m, "out of memory");
    return NULL;
  }
  segs(m)[m->nsegs] = (cp_segment){data, (uint32_t)words, (uint32_t)size};
  *seg = m->nsegs++;
  m->total_words += size;
  return data;
}

/* Allocates an object of words for pointer p and writes p (tag: the pointer's kind and size
 * bits; the offset is filled in here). Near when the object fits in p's segment; otherwise
 * the object goes elsewhere with a landing pad just before it (a single far pointer). */
static uint8_t *place(cp_ptr_b p, uint64_t words, uint64_t tag, uint32_t *seg) {
  cp_message *m = p.msg;
  if (!m || !p.p || m->error) return NULL;
  uint8_t *at = alloc_in(m, p.seg, words);
  if (at) {
    int64_t off = (int64_t)((at - p.p) / 8) - 1;
    cp_store64(p.p, (tag & ~(uint64_t)0xFFFFFFFC) | (uint64_t)(((uint32_t)off << 2) & 0xFFFFFFFCu));
    *seg = p.seg;
    return at;
  }
  uint32_t pad_seg;
  uint8_t *pad = alloc_any(m, words + 1, &pad_seg);
  if (!pad) return NULL;
  cp_store64(pad, tag & ~(uint64_t)0xFFFFFFFC); /* offset 0: the object follows its pad */
  uint64_t pad_pos = (uint64_t)(pad - segs(m)[pad_seg].data) / 8;
  cp_store64(p.p, 2 | (pad_pos << 3) | ((uint64_t)pad_seg << 32));
  *seg = pad_seg;
  return pad + 8;
}

static cp_struct_b null_struct_b(void) {
  cp_struct_b s = {0};
  return s;
}

cp_struct_b cp_pb_init_struct(cp_ptr_b p, uint16_t dw, uint16_t pc) {
  if (!p.p || !p.msg) return null_struct_b();
  if (dw == 0 && pc == 0) {
    /* A zero-sized struct points just before itself (offset -1) so that it is not null. */
    cp_store64(p.p, 0xFFFFFFFCu);
    cp_struct_b s = {p.msg, p.p + 8, p.p + 8, 0, p.seg, 0};
    return s;
  }
  uint32_t seg;
  uint8_t *o = place(p, (uint64_t)dw + pc, ((uint64_t)dw << 32) | ((uint64_t)pc << 48), &seg);
  if (!o) return null_struct_b();
  cp_struct_b s = {p.msg, o, o + (size_t)dw * 8, (uint32_t)dw * 8, seg, pc};
  return s;
}

static cp_list_b null_list_b(void) {
  cp_list_b l = {0};
  return l;
}

cp_list_b cp_pb_init_list(cp_ptr_b p, int elem, uint32_t count) {
  if (elem == CP_COMPOSITE) return cp_pb_init_struct_list(p, count, 0, 0);
  if (!p.p || !p.msg || elem < 0 || elem > CP_POINTER || count >= (1u << 29)) return null_list_b();
  uint32_t bits = DATA_BITS[elem];
  uint16_t pc = elem == CP_POINTER ? 1 : 0;
  uint64_t step = bits + 64u * pc;
  uint64_t words = (step * count + 63) / 64;
  uint32_t seg;
  uint8_t *o = place(p, words, 1 | ((uint64_t)elem << 32) | ((uint64_t)count << 35), &seg);
  if (!o) return null_list_b();
  cp_list_b l = {p.msg, o, count, (uint32_t)step, bits, seg, pc, (uint8_t)elem};
  return l;
}

cp_list_b cp_pb_init_struct_list(cp_ptr_b p, uint32_t count, uint16_t dw, uint16_t pc) {
  if (!p.p || !p.msg || count >= (1u << 29)) return null_list_b();
  uint64_t per = (uint64_t)dw + pc;
  uint64_t words = per * count;
  if (words >= (1u << 29)) {
    cp_message_fail(p.msg, "list is larger than a list pointer can describe");
    return null_list_b();
  }
  uint32_t seg;
  uint8_t *o = place(p, words + 1, 1 | ((uint64_t)CP_COMPOSITE << 32) | (words << 35), &seg);
  if (!o) return null_list_b();
  cp_store64(o, ((uint64_t)count << 2) | ((uint64_t)dw << 32) | ((uint64_t)pc << 48));
  cp_list_b l = {p.msg, o + 8, count, (uint32_t)(per * 64), (uint32_t)dw * 64, seg, pc, CP_COMPOSITE};
  return l;
}

uint8_t *cp_pb_init_data(cp_ptr_b p, size_t len) {
  if (len >= (1u << 29)) {
    cp_message_fail(p.msg, "data is larger than a list pointer can describe");
    return NULL;
  }
  cp_list_b l = cp_pb_init_list(p, CP_BYTE, (uint32_t)len);
  return l.p;
}

int cp_pb_set_data(cp_ptr_b p, const void *bytes, size_t len) {
  uint8_t *at = cp_pb_init_data(p, len);
  if (!at) return -1;
  if (len) memcpy(at, bytes, len);
  return 0;
}

int cp_pb_set_text(cp_ptr_b p, const char *s, size_t len) {
  uint8_t *at = cp_pb_init_data(p, len + 1);
  if (!at) return -1;
  if (len) memcpy(at, s, len);
  at[len] = 0;
  return 0;
}

void cp_pb_set_cap(cp_ptr_b p, uint32_t index) {
  if (!p.p) return;
  cp_store64(p.p, index == CP_NULL_CAP ? 0 : (3 | ((uint64_t)index << 32)));
}

void cp_pb_clear(cp_ptr_b p) {
  if (p.p) cp_store64(p.p, 0);
}

cp_struct_b cp_lb_struct(cp_list_b l, uint32_t i) {
  if (i >= l.count || l.elem == CP_BIT) return null_struct_b();
  uint8_t *e = l.p + (uint64_t)i * l.step_bits / 8;
  cp_struct_b s = {l.msg, e, e + l.data_bits / 8, l.data_bits / 8, l.seg, l.ptr_count};
  return s;
}

cp_ptr_b cp_lb_ptr(cp_list_b l, uint32_t i) {
  cp_ptr_b p = {l.msg, NULL, l.seg};
  if (i < l.count && l.ptr_count > 0) p.p = l.p + (uint64_t)i * l.step_bits / 8 + l.data_bits / 8;
  return p;
}

cp_struct cp_struct_b_reader(cp_struct_b s) {
  cp_struct r = {s.msg, s.data, s.ptrs, s.data_bytes, s.seg, s.ptr_count,
                 s.msg ? s.msg->nesting_limit : 0};
  return r;
}

cp_list cp_list_b_reader(cp_list_b l) {
  cp_list r = {l.msg, l.p, l.count, l.step_bits, l.data_bits, l.seg, l.ptr_count, l.elem,
               l.msg ? l.msg->nesting_limit : 0};
  return r;
}

cp_ptr cp_ptr_b_reader(cp_ptr_b p) {
  cp_ptr r = {p.msg, p.p, p.seg, p.msg ? p.msg->nesting_limit : 0};
  return r;
}

/* ---- deep copies ------------------------------------------------------------------------ */

int cp_pb_set_struct(cp_ptr_b dst, cp_struct src, cp_cap_map map, void *ctx) {
  uint16_t dw = (uint16_t)((src.data_bytes + 7) / 8);
  cp_struct_b d = cp_pb_init_struct(dst, dw, src.ptr_count);
  if (!d.msg || (d.data_bytes == 0 && dw > 0)) return -1;
  if (src.data_bytes) memcpy(d.data, src.data, src.data_bytes);
  for (uint16_t i = 0; i < src.ptr_count; i++) {
    if (cp_pb_copy(cp_b_ptr(d, i), cp_struct_ptr(src, i), map, ctx) != 0) return -1;
  }
  return 0;
}

int cp_pb_set_list(cp_ptr_b dst, cp_list src, cp_cap_map map, void *ctx) {
  if (src.elem == CP_COMPOSITE) {
    uint16_t dw = (uint16_t)(src.data_bits / 64);
    cp_list_b d = cp_pb_init_struct_list(dst, src.count, dw, src.ptr_count);
    if (!d.msg) return -1;
    for (uint32_t i = 0; i < src.count; i++) {
      cp_struct s = cp_list_struct(src, i);
      cp_struct_b e = cp_lb_struct(d, i);
      if (s.data_bytes) memcpy(e.data, s.data, s.data_bytes);
      for (uint16_t j = 0; j < s.ptr_count; j++) {
        if (cp_pb_copy(cp_b_ptr(e, j), cp_struct_ptr(s, j), map, ctx) != 0) return -1;
      }
    }
    return 0;
  }
  cp_list_b d = cp_pb_init_list(dst, src.elem, src.count);
  if (!d.msg) return -1;
  if (src.elem == CP_POINTER) {
    for (uint32_t i = 0; i < src.count; i++) {
      if (cp_pb_copy(cp_lb_ptr(d, i), cp_list_ptr(src, i), map, ctx) != 0) return -1;
    }
  } else if (src.elem != CP_VOID && src.count > 0) {
    memcpy(d.p, src.p, (size_t)(((uint64_t)src.count * src.step_bits + 7) / 8));
  }
  return 0;
}

int cp_pb_copy(cp_ptr_b dst, cp_ptr src, cp_cap_map map, void *ctx) {
  ref r;
  int f = follow(src, &r);
  if (f < 0) return -1;
  if (f == 0) {
    cp_pb_clear(dst);
    return 0;
  }
  switch (r.tag & 3) {
    case 0: {
      cp_struct s = struct_at(src, &r);
      if (!s.msg) return -1;
      return cp_pb_set_struct(dst, s, map, ctx);
    }
    case 1: {
      cp_list l = list_at(src, &r, CP_VOID);
      if (!l.msg) return -1;
      return cp_pb_set_list(dst, l, map, ctx);
    }
    default: {
      if (((uint32_t)r.tag >> 2) != 0) {
        cp_message_fail(src.msg, "unknown kind of pointer");
        return -1;
      }
      uint32_t cap = (uint32_t)(r.tag >> 32);
      cp_pb_set_cap(dst, map ? map(ctx, cap) : cap);
      return 0;
    }
  }
}

const cp_ptr *cp_static_root(cp_static *s, const uint8_t *words, uint32_t nwords) {
  if (!s->ready) {
    cp_message_read_flat(&s->msg, words, nwords);
    s->root = cp_message_root(&s->msg);
    s->ready = true;
  }
  return &s->root;
}
