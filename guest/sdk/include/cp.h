/* cp.h: Cap'n Proto messages for C guests (encoding only; RPC is in ww_rpc.h).
 *
 * Readers are zero-copy views over a message's segments. Every pointer they follow is
 * bounds-checked against its segment and charged to the message's traversal limit; a
 * malformed pointer reads as null (or the field's default) and records the first error in
 * the message (cp_message_error), so a hostile message never makes a reader touch memory
 * outside its segments. Builders allocate from the message's arena (segments grow, far
 * pointers are written when an object does not fit beside its pointer); a failed
 * allocation records an error and gives a null builder, on which writes do nothing.
 *
 * Generated code (capnpc-c) wraps these in typed accessors: see guest/sdk/README.md.
 * Portable C11; the wire format is little-endian and loads/stores go through memcpy, so
 * segments need no alignment.
 */
#ifndef CP_H
#define CP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The null capability in a capability field or a reader of one. */
#define CP_NULL_CAP UINT32_MAX

/* Element sizes of list pointers (the wire's three bits). */
enum {
  CP_VOID = 0, CP_BIT = 1, CP_BYTE = 2, CP_TWO_BYTES = 3, CP_FOUR_BYTES = 4,
  CP_EIGHT_BYTES = 5, CP_POINTER = 6, CP_COMPOSITE = 7
};

/* Limits applied while reading (shared/spec/README.md, "Limits"). */
typedef struct cp_limits {
  uint64_t max_message_bytes; /* 64 MiB */
  uint32_t max_segments;      /* 512 */
  uint64_t traversal_words;   /* 8 Mi words */
  int nesting;                /* 64 */
} cp_limits;

extern const cp_limits cp_default_limits;

typedef struct cp_segment {
  uint8_t *data;
  uint32_t words;    /* in use (readers: the whole segment) */
  uint32_t capacity; /* allocated words (builders); 0 for memory the message does not own */
} cp_segment;

/* A message: a reader over framed bytes, or a builder with its own arena. Initialize with
 * cp_message_init (building) or cp_message_read (reading); release with cp_message_free. */
typedef struct cp_message {
  cp_segment *segs_heap;      /* NULL while seg_inline holds them all (the struct may be moved) */
  uint32_t nsegs, segs_cap;
  cp_segment seg_inline[4];
  int nesting_limit;
  uint64_t traversal_left;
  bool unlimited;        /* trusted (builders, schema defaults): no traversal accounting */
  bool building;
  const char *error;     /* the first error met, or NULL */
  uint32_t first_words;  /* builders: size of the first segment */
  uint64_t total_words;  /* builders: words allocated so far */
  uint64_t max_words;    /* builders: the size limit */
} cp_message;

/* ---- readers -------------------------------------------------------------------------- */

typedef struct cp_ptr {      /* a pointer word (null: p == NULL or the word is 0) */
  cp_message *msg;
  const uint8_t *p;
  uint32_t seg;
  int nesting;               /* pointers that may still be followed below this one */
} cp_ptr;

typedef struct cp_struct {   /* a struct; a null reader has no data and no pointers */
  cp_message *msg;
  const uint8_t *data;
  const uint8_t *ptrs;
  uint32_t data_bytes;
  uint32_t seg;
  uint16_t ptr_count;
  int nesting;
} cp_struct;

typedef struct cp_list {     /* a list of any element kind */
  cp_message *msg;
  const uint8_t *p;          /* the first element */
  uint32_t count;
  uint32_t step_bits;        /* from one element to the next */
  uint32_t data_bits;        /* data bits per element */
  uint32_t seg;
  uint16_t ptr_count;        /* pointers per element (after its data) */
  uint8_t elem;              /* CP_VOID..CP_COMPOSITE as on the wire */
  int nesting;
} cp_list;

typedef struct cp_text {     /* str is NUL-terminated and never NULL ("" for null) */
  const char *str;
  uint32_t len;
} cp_text;

typedef struct cp_data {
  const uint8_t *ptr;
  uint32_t len;
} cp_data;

/* ---- builders ------------------------------------------------------------------------- */

typedef struct cp_ptr_b {    /* where a pointer is (to be) written */
  cp_message *msg;
  uint8_t *p;
  uint32_t seg;
} cp_ptr_b;

typedef struct cp_struct_b {
  cp_message *msg;
  uint8_t *data;
  uint8_t *ptrs;
  uint32_t data_bytes;
  uint32_t seg;
  uint16_t ptr_count;
} cp_struct_b;

typedef struct cp_list_b {
  cp_message *msg;
  uint8_t *p;
  uint32_t count;
  uint32_t step_bits;
  uint32_t data_bits;
  uint32_t seg;
  uint16_t ptr_count;
  uint8_t elem;
} cp_list_b;

/* Maps a capability index while copying (RPC re-describes capability tables). */
typedef uint32_t (*cp_cap_map)(void *ctx, uint32_t index);

/* ---- messages ------------------------------------------------------------------------- */

/* A builder whose first segment holds first_words words (0: 128); the root pointer is allocated. */
void cp_message_init(cp_message *m, uint32_t first_words);
/* Empties a builder for reuse, keeping its first segment. */
void cp_message_reset(cp_message *m);
void cp_message_free(cp_message *m);
/* A reader over one framed message (standard framing: segment table, then segments). The
 * bytes are not copied and must outlive the reader. Returns 0, or -1 with the reason in
 * cp_message_error. */
int cp_message_read(cp_message *m, const uint8_t *frame, size_t len, const cp_limits *limits);
/* A reader over one unframed segment of trusted words (schema defaults, constants). */
void cp_message_read_flat(cp_message *m, const uint8_t *words, uint32_t nwords);
/* The first error met reading or building this message, or NULL. */
static inline const char *cp_message_error(const cp_message *m) { return m->error; }
void cp_message_fail(cp_message *m, const char *reason);

cp_ptr cp_message_root(cp_message *m);
cp_ptr_b cp_message_root_b(cp_message *m);

/* ---- framing --------------------------------------------------------------------------- */

/* Bytes the framed message takes (segment table included). */
size_t cp_frame_size(const cp_message *m);
/* Writes the framed message to out (cp_frame_size bytes). */
void cp_frame_write(const cp_message *m, uint8_t *out);
/* Looks at the start of a byte stream: 1 and *frame_len when a whole frame is there; 0 when
 * more bytes are needed (*frame_len is the frame's size once the segment table is in, else
 * 0); -1 when the stream is malformed or over the limits (*reason says why). */
int cp_frame_check(const uint8_t *buf, size_t len, const cp_limits *limits, size_t *frame_len,
                   const char **reason);

/* ---- raw loads and stores (little-endian) ---------------------------------------------- */

static inline uint16_t cp_load16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t cp_load32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t cp_load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void cp_store16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void cp_store32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void cp_store64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline float cp_f32(uint32_t bits) { float f; memcpy(&f, &bits, 4); return f; }
static inline double cp_f64(uint64_t bits) { double f; memcpy(&f, &bits, 8); return f; }
static inline uint32_t cp_f32_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
static inline uint64_t cp_f64_bits(double f) { uint64_t b; memcpy(&b, &f, 8); return b; }

/* ---- struct readers: data fields by byte (bool: bit) offset; outside the data section they
 * read as zero (an older writer did not have the field) ----------------------------------- */

static inline uint8_t cp_struct_u8(cp_struct s, uint32_t off) {
  return off + 1 <= s.data_bytes ? s.data[off] : 0;
}
static inline uint16_t cp_struct_u16(cp_struct s, uint32_t off) {
  return off + 2 <= s.data_bytes ? cp_load16(s.data + off) : 0;
}
static inline uint32_t cp_struct_u32(cp_struct s, uint32_t off) {
  return off + 4 <= s.data_bytes ? cp_load32(s.data + off) : 0;
}
static inline uint64_t cp_struct_u64(cp_struct s, uint32_t off) {
  return off + 8 <= s.data_bytes ? cp_load64(s.data + off) : 0;
}
static inline bool cp_struct_bool(cp_struct s, uint32_t bit) {
  return bit / 8 < s.data_bytes ? ((s.data[bit / 8] >> (bit % 8)) & 1) != 0 : false;
}
static inline cp_ptr cp_struct_ptr(cp_struct s, uint16_t i) {
  cp_ptr p = {s.msg, i < s.ptr_count ? s.ptrs + 8u * i : NULL, s.seg, s.nesting};
  return p;
}

/* ---- pointer readers: dflt (may be NULL) is read when the pointer is null ------------------ */

bool cp_ptr_is_null(cp_ptr p);
cp_struct cp_ptr_struct(cp_ptr p, const cp_ptr *dflt);
/* expected: the element size the schema says (CP_COMPOSITE for structs); compatible
 * encodings are accepted as the format's evolution rules allow. */
cp_list cp_ptr_list(cp_ptr p, int expected, const cp_ptr *dflt);
cp_text cp_ptr_text(cp_ptr p, const cp_ptr *dflt);
cp_data cp_ptr_data(cp_ptr p, const cp_ptr *dflt);
/* A capability pointer's index in the message's capability table, or CP_NULL_CAP. */
uint32_t cp_ptr_cap(cp_ptr p);

/* ---- list readers ------------------------------------------------------------------------ */

static inline uint32_t cp_list_len(cp_list l) { return l.count; }
static inline const uint8_t *cp__elem(cp_list l, uint32_t i, uint32_t bytes) {
  if (i >= l.count || bytes * 8 > l.data_bits) return NULL;
  return l.p + (uint64_t)i * l.step_bits / 8;
}
static inline bool cp_list_bool(cp_list l, uint32_t i) {
  if (i >= l.count || l.data_bits == 0) return false;
  uint64_t bit = (uint64_t)i * l.step_bits;
  return ((l.p[bit / 8] >> (bit % 8)) & 1) != 0;
}
static inline uint8_t cp_list_u8(cp_list l, uint32_t i) {
  const uint8_t *e = cp__elem(l, i, 1); return e ? e[0] : 0;
}
static inline uint16_t cp_list_u16(cp_list l, uint32_t i) {
  const uint8_t *e = cp__elem(l, i, 2); return e ? cp_load16(e) : 0;
}
static inline uint32_t cp_list_u32(cp_list l, uint32_t i) {
  const uint8_t *e = cp__elem(l, i, 4); return e ? cp_load32(e) : 0;
}
static inline uint64_t cp_list_u64(cp_list l, uint32_t i) {
  const uint8_t *e = cp__elem(l, i, 8); return e ? cp_load64(e) : 0;
}
static inline int8_t cp_list_i8(cp_list l, uint32_t i) { return (int8_t)cp_list_u8(l, i); }
static inline int16_t cp_list_i16(cp_list l, uint32_t i) { return (int16_t)cp_list_u16(l, i); }
static inline int32_t cp_list_i32(cp_list l, uint32_t i) { return (int32_t)cp_list_u32(l, i); }
static inline int64_t cp_list_i64(cp_list l, uint32_t i) { return (int64_t)cp_list_u64(l, i); }
static inline float cp_list_f32(cp_list l, uint32_t i) { return cp_f32(cp_list_u32(l, i)); }
static inline double cp_list_f64(cp_list l, uint32_t i) { return cp_f64(cp_list_u64(l, i)); }
cp_struct cp_list_struct(cp_list l, uint32_t i);
cp_ptr cp_list_ptr(cp_list l, uint32_t i);
static inline cp_text cp_list_text(cp_list l, uint32_t i) { return cp_ptr_text(cp_list_ptr(l, i), NULL); }
static inline cp_data cp_list_data(cp_list l, uint32_t i) { return cp_ptr_data(cp_list_ptr(l, i), NULL); }
static inline cp_list cp_list_list(cp_list l, uint32_t i, int expected) {
  return cp_ptr_list(cp_list_ptr(l, i), expected, NULL);
}
static inline uint32_t cp_list_cap(cp_list l, uint32_t i) { return cp_ptr_cap(cp_list_ptr(l, i)); }

/* ---- struct builders ------------------------------------------------------------------------ */

static inline void cp_b_u8(cp_struct_b s, uint32_t off, uint8_t v) {
  if (off + 1 <= s.data_bytes) s.data[off] = v;
}
static inline void cp_b_u16(cp_struct_b s, uint32_t off, uint16_t v) {
  if (off + 2 <= s.data_bytes) cp_store16(s.data + off, v);
}
static inline void cp_b_u32(cp_struct_b s, uint32_t off, uint32_t v) {
  if (off + 4 <= s.data_bytes) cp_store32(s.data + off, v);
}
static inline void cp_b_u64(cp_struct_b s, uint32_t off, uint64_t v) {
  if (off + 8 <= s.data_bytes) cp_store64(s.data + off, v);
}
static inline void cp_b_bool(cp_struct_b s, uint32_t bit, bool v) {
  if (bit / 8 < s.data_bytes) {
    uint8_t m = (uint8_t)(1u << (bit % 8));
    s.data[bit / 8] = v ? (uint8_t)(s.data[bit / 8] | m) : (uint8_t)(s.data[bit / 8] & ~m);
  }
}
static inline cp_ptr_b cp_b_ptr(cp_struct_b s, uint16_t i) {
  cp_ptr_b p = {s.msg, i < s.ptr_count ? s.ptrs + 8u * i : NULL, s.seg};
  return p;
}
/* A reader over what has been built (valid until the message is reset or freed). */
cp_struct cp_struct_b_reader(cp_struct_b s);
cp_list cp_list_b_reader(cp_list_b l);

/* ---- pointer builders: each replaces what the pointer held ----------------------------------- */

cp_struct_b cp_pb_init_struct(cp_ptr_b p, uint16_t data_words, uint16_t ptr_count);
/* A list of elem (not CP_COMPOSITE) of count elements. */
cp_list_b cp_pb_init_list(cp_ptr_b p, int elem, uint32_t count);
cp_list_b cp_pb_init_struct_list(cp_ptr_b p, uint32_t count, uint16_t data_words, uint16_t ptr_count);
/* Text of len bytes (the NUL is added). Returns 0, or -1 when the message is out of room. */
int cp_pb_set_text(cp_ptr_b p, const char *s, size_t len);
int cp_pb_set_data(cp_ptr_b p, const void *bytes, size_t len);
/* Room for len bytes of data, to fill in place (NULL when out of room). */
uint8_t *cp_pb_init_data(cp_ptr_b p, size_t len);
void cp_pb_set_cap(cp_ptr_b p, uint32_t index);
void cp_pb_clear(cp_ptr_b p);
/* Deep copies (capability indexes through map, when given). Return 0, or -1 when the source
 * is malformed (its message records why) or the destination is out of room. */
int cp_pb_copy(cp_ptr_b dst, cp_ptr src, cp_cap_map map, void *ctx);
int cp_pb_set_struct(cp_ptr_b dst, cp_struct src, cp_cap_map map, void *ctx);
int cp_pb_set_list(cp_ptr_b dst, cp_list src, cp_cap_map map, void *ctx);
/* A reader over a builder's pointer. */
cp_ptr cp_ptr_b_reader(cp_ptr_b p);

/* ---- list builders ---------------------------------------------------------------------------- */

static inline uint8_t *cp__belem(cp_list_b l, uint32_t i, uint32_t bytes) {
  if (i >= l.count || bytes * 8 > l.data_bits) return NULL;
  return l.p + (uint64_t)i * l.step_bits / 8;
}
static inline void cp_lb_bool(cp_list_b l, uint32_t i, bool v) {
  if (i >= l.count || l.data_bits == 0) return;
  uint64_t bit = (uint64_t)i * l.step_bits;
  uint8_t m = (uint8_t)(1u << (bit % 8));
  l.p[bit / 8] = v ? (uint8_t)(l.p[bit / 8] | m) : (uint8_t)(l.p[bit / 8] & ~m);
}
static inline void cp_lb_u8(cp_list_b l, uint32_t i, uint8_t v) {
  uint8_t *e = cp__belem(l, i, 1); if (e) e[0] = v;
}
static inline void cp_lb_u16(cp_list_b l, uint32_t i, uint16_t v) {
  uint8_t *e = cp__belem(l, i, 2); if (e) cp_store16(e, v);
}
static inline void cp_lb_u32(cp_list_b l, uint32_t i, uint32_t v) {
  uint8_t *e = cp__belem(l, i, 4); if (e) cp_store32(e, v);
}
static inline void cp_lb_u64(cp_list_b l, uint32_t i, uint64_t v) {
  uint8_t *e = cp__belem(l, i, 8); if (e) cp_store64(e, v);
}
static inline void cp_lb_i8(cp_list_b l, uint32_t i, int8_t v) { cp_lb_u8(l, i, (uint8_t)v); }
static inline void cp_lb_i16(cp_list_b l, uint32_t i, int16_t v) { cp_lb_u16(l, i, (uint16_t)v); }
static inline void cp_lb_i32(cp_list_b l, uint32_t i, int32_t v) { cp_lb_u32(l, i, (uint32_t)v); }
static inline void cp_lb_i64(cp_list_b l, uint32_t i, int64_t v) { cp_lb_u64(l, i, (uint64_t)v); }
static inline void cp_lb_f32(cp_list_b l, uint32_t i, float v) { cp_lb_u32(l, i, cp_f32_bits(v)); }
static inline void cp_lb_f64(cp_list_b l, uint32_t i, double v) { cp_lb_u64(l, i, cp_f64_bits(v)); }
cp_struct_b cp_lb_struct(cp_list_b l, uint32_t i);
cp_ptr_b cp_lb_ptr(cp_list_b l, uint32_t i);
static inline int cp_lb_text(cp_list_b l, uint32_t i, const char *s, size_t len) {
  return cp_pb_set_text(cp_lb_ptr(l, i), s, len);
}
static inline int cp_lb_data(cp_list_b l, uint32_t i, const void *p, size_t len) {
  return cp_pb_set_data(cp_lb_ptr(l, i), p, len);
}
static inline void cp_lb_cap(cp_list_b l, uint32_t i, uint32_t index) { cp_pb_set_cap(cp_lb_ptr(l, i), index); }

/* ---- schema defaults and constants (generated code) -------------------------------------------- */

/* A trusted one-segment message over static words, for a pointer default. */
typedef struct cp_static {
  cp_message msg;
  cp_ptr root;
  bool ready;
} cp_static;
const cp_ptr *cp_static_root(cp_static *s, const uint8_t *words, uint32_t nwords);

#ifdef __cplusplus
}
#endif
#endif
