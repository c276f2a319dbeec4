// Cap'n Proto messages for guests: zero-copy readers over framed messages and a builder that grows
// one segment. Portable C11, no allocation when reading; every access is bounds-checked, so a hostile
// message gives zero values and an error flag, never undefined behaviour (encoding spec:
// https://capnproto.org/encoding.html).
#ifndef WW_CAPNP_H
#define WW_CAPNP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- reading ----------------------------------------------------------------------------

enum cp_error {
  CP_OK = 0,
  CP_ERR_FORMAT = 1,     // a malformed pointer, segment table or list
  CP_ERR_BOUNDS = 2,     // a pointer outside its segment
  CP_ERR_TRAVERSAL = 3,  // more words followed than the traversal limit allows
  CP_ERR_NESTING = 4,    // pointers nested deeper than the nesting limit
  CP_ERR_SEGMENTS = 5,   // more segments than the caller's table holds
};

typedef struct cp_segment {
  const uint8_t *data;  // 8-byte aligned by the caller is not required (reads are byte-wise)
  uint32_t words;
} cp_segment;

typedef struct cp_message {
  const cp_segment *segs;
  uint32_t nsegs;
  int64_t traversal_left;  // words; each pointer followed is charged its target's size
  int nesting_limit;
  int error;               // the first cp_error met, sticky
} cp_message;

typedef struct cp_struct {
  cp_message *msg;  // NULL: the default (empty) struct
  uint32_t seg;
  uint32_t data;    // word offset of the data section in seg
  uint32_t ptrs;    // word offset of the pointer section in seg
  uint16_t data_words, ptr_count;
  int depth;
} cp_struct;

enum cp_elem {
  CP_VOID = 0, CP_BIT = 1, CP_BYTE = 2, CP_TWO = 3, CP_FOUR = 4, CP_EIGHT = 5, CP_POINTER = 6, CP_COMPOSITE = 7,
};

typedef struct cp_list {
  cp_message *msg;  // NULL: the empty list
  uint32_t seg;
  uint32_t off;     // word offset of the first element
  uint32_t count;
  uint8_t elem;     // enum cp_elem (CP_COMPOSITE for lists of structs)
  uint16_t data_words, ptr_count;  // per element, for CP_COMPOSITE
  int depth;
} cp_list;

typedef struct cp_text {
  const char *str;  // NUL-terminated in the message; "" when null
  uint32_t len;     // without the NUL
} cp_text;

typedef struct cp_data {
  const uint8_t *ptr;
  uint32_t len;
} cp_data;

// Parses the standard framing (segment table, then segments) at the front of buf. Returns the
// message's total length in bytes, 0 if buf does not hold all of it yet, or -1 if the header is
// malformed or names more than max_segs segments. segs must hold max_segs entries.
long cp_frame_parse(const uint8_t *buf, size_t len, cp_segment *segs, uint32_t max_segs, uint32_t *nsegs);

// A message over parsed segments, with the default limits (8 Mi words traversal, nesting 64).
void cp_message_init(cp_message *m, const cp_segment *segs, uint32_t nsegs);

cp_struct cp_root(cp_message *m);

// Data section fields (by byte offset; bits by bit offset). Past the data section: 0 (or false).
uint8_t cp_get_u8(cp_struct s, uint32_t byte_off);
uint16_t cp_get_u16(cp_struct s, uint32_t byte_off);
uint32_t cp_get_u32(cp_struct s, uint32_t byte_off);
uint64_t cp_get_u64(cp_struct s, uint32_t byte_off);
int cp_get_bool(cp_struct s, uint32_t bit_off);
float cp_get_f32(cp_struct s, uint32_t byte_off);
double cp_get_f64(cp_struct s, uint32_t byte_off);

// Pointer section fields. A null or absent pointer gives the empty struct/list/text/data.
cp_struct cp_get_struct(cp_struct s, uint16_t ptr);
cp_list cp_get_list(cp_struct s, uint16_t ptr);
cp_text cp_get_text(cp_struct s, uint16_t ptr);
cp_data cp_get_data(cp_struct s, uint16_t ptr);
// A capability pointer: 1 and its index in the cap table, or 0 for null (or not a capability).
int cp_get_cap(cp_struct s, uint16_t ptr, uint32_t *index);
int cp_is_null(cp_struct s, uint16_t ptr);

// List elements.
cp_struct cp_list_struct(cp_list l, uint32_t i);
uint8_t cp_list_u8(cp_list l, uint32_t i);
uint16_t cp_list_u16(cp_list l, uint32_t i);
uint32_t cp_list_u32(cp_list l, uint32_t i);
uint64_t cp_list_u64(cp_list l, uint32_t i);
int cp_list_bool(cp_list l, uint32_t i);
cp_text cp_list_text(cp_list l, uint32_t i);
cp_data cp_list_data(cp_list l, uint32_t i);
cp_list cp_list_list(cp_list l, uint32_t i);

// ---- building ---------------------------------------------------------------------------

typedef struct cp_builder {
  uint8_t *buf;      // one segment, grown with the allocator (offsets stay valid)
  uint32_t words;    // words in use
  uint32_t cap;      // words allocated
  uint32_t max_words;
  int error;         // CP_ERR_BOUNDS once the segment would pass max_words, sticky
  void *(*realloc_fn)(void *, size_t);
} cp_builder;

typedef struct cp_bstruct {
  cp_builder *b;     // NULL after an error: setters do nothing
  uint32_t data, ptrs;
  uint16_t data_words, ptr_count;
} cp_bstruct;

typedef struct cp_blist {
  cp_builder *b;
  uint32_t off;
  uint32_t count;
  uint8_t elem;
  uint16_t data_words, ptr_count;
} cp_blist;

// max_words bounds the message (e.g. 8 Mi words = 64 MiB); realloc_fn NULL uses realloc.
void cp_builder_init(cp_builder *b, uint32_t first_words, uint32_t max_words, void *(*realloc_fn)(void *, size_t));
void cp_builder_free(cp_builder *b);
void cp_builder_reset(cp_builder *b);  // keeps the buffer, forgets the message

cp_bstruct cp_init_root(cp_builder *b, uint16_t data_words, uint16_t ptr_count);
void cp_set_u8(cp_bstruct s, uint32_t byte_off, uint8_t v);
void cp_set_u16(cp_bstruct s, uint32_t byte_off, uint16_t v);
void cp_set_u32(cp_bstruct s, uint32_t byte_off, uint32_t v);
void cp_set_u64(cp_bstruct s, uint32_t byte_off, uint64_t v);
void cp_set_bool(cp_bstruct s, uint32_t bit_off, int v);
void cp_set_f32(cp_bstruct s, uint32_t byte_off, float v);
void cp_set_f64(cp_bstruct s, uint32_t byte_off, double v);
cp_bstruct cp_init_struct(cp_bstruct s, uint16_t ptr, uint16_t data_words, uint16_t ptr_count);
cp_blist cp_init_list(cp_bstruct s, uint16_t ptr, uint8_t elem, uint32_t count);
cp_blist cp_init_struct_list(cp_bstruct s, uint16_t ptr, uint32_t count, uint16_t data_words, uint16_t ptr_count);
int cp_set_text(cp_bstruct s, uint16_t ptr, const char *str, size_t len);
int cp_set_data(cp_bstruct s, uint16_t ptr, const void *bytes, size_t len);
void cp_set_cap(cp_bstruct s, uint16_t ptr, uint32_t index);
cp_bstruct cp_blist_struct(cp_blist l, uint32_t i);
void cp_blist_set_u8(cp_blist l, uint32_t i, uint8_t v);
void cp_blist_set_u32(cp_blist l, uint32_t i, uint32_t v);
void cp_blist_set_u64(cp_blist l, uint32_t i, uint64_t v);
int cp_blist_set_text(cp_blist l, uint32_t i, const char *str, size_t len);

// The builder's message as a reader (for reading back what was built).
void cp_builder_segment(const cp_builder *b, cp_segment *seg);
// Bytes of the framed message: 8 (the one-segment table) + words * 8.
size_t cp_frame_size(const cp_builder *b);
// Writes the segment table of the one-segment message into header[8]; the body is b->buf, b->words * 8 bytes.
void cp_frame_header(const cp_builder *b, uint8_t header[8]);

#ifdef __cplusplus
}
#endif
#endif
