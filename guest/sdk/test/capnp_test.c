// Drives the C message runtime for the tests (tests/Wetware.GuestSdk.Tests), natively or as a guest:
//   read FILE    dumps a framed sdk_test.capnp Shape read from FILE, one "field=value" per line
//   build FILE   builds a Shape with the builder and writes it, framed, to FILE
//   hostile      feeds hand-made broken messages to the reader; prints "ok <case>" per case
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capnp.h"

// Shape (see sdk_test.capnp): 3 data words (flag bit 0, scale @8, id @16), 7 pointers.
enum { NAME, POINTS, TAGS, DATA, NESTED, COUNTS, CAP };

static void dump(cp_struct s, const char *prefix) {
  cp_text name = cp_get_text(s, NAME);
  printf("%sname=%.*s\n", prefix, (int)name.len, name.str);
  printf("%sflag=%d\n", prefix, cp_get_bool(s, 0));
  printf("%sscale=%g\n", prefix, cp_get_f64(s, 8));
  printf("%sid=%llu\n", prefix, (unsigned long long)cp_get_u64(s, 16));
  cp_list points = cp_get_list(s, POINTS);
  for (uint32_t i = 0; i < points.count; i++) {
    cp_struct p = cp_list_struct(points, i);
    cp_text label = cp_get_text(p, 0);
    printf("%spoint[%u]=%d,%d,%.*s\n", prefix, i, (int)cp_get_u32(p, 0), (int)cp_get_u32(p, 4), (int)label.len, label.str);
  }
  cp_list tags = cp_get_list(s, TAGS);
  for (uint32_t i = 0; i < tags.count; i++) {
    cp_text t = cp_list_text(tags, i);
    printf("%stag[%u]=%.*s\n", prefix, i, (int)t.len, t.str);
  }
  cp_data d = cp_get_data(s, DATA);
  printf("%sdata=", prefix);
  for (uint32_t i = 0; i < d.len; i++) printf("%02x", d.ptr[i]);
  printf("\n");
  cp_list counts = cp_get_list(s, COUNTS);
  for (uint32_t i = 0; i < counts.count; i++) printf("%scount[%u]=%u\n", prefix, i, cp_list_u32(counts, i));
  uint32_t cap;
  if (cp_get_cap(s, CAP, &cap)) printf("%scap=%u\n", prefix, cap);
  if (!cp_is_null(s, NESTED)) dump(cp_get_struct(s, NESTED), "nested.");
}

static int cmd_read(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return perror(path), 2;
  static uint8_t buf[1 << 20];
  size_t len = fread(buf, 1, sizeof buf, f);
  fclose(f);
  cp_segment segs[16];
  uint32_t n = 0;
  long total = cp_frame_parse(buf, len, segs, 16, &n);
  if (total <= 0) return fprintf(stderr, "bad frame %ld\n", total), 3;
  cp_message m;
  cp_message_init(&m, segs, n);
  dump(cp_root(&m), "");
  printf("error=%d\n", m.error);
  return 0;
}

static int cmd_build(const char *path) {
  cp_builder b;
  cp_builder_init(&b, 16, 1u << 20, NULL);
  cp_bstruct s = cp_init_root(&b, 3, 7);
  cp_set_text(s, NAME, "built in C", 10);
  cp_set_bool(s, 0, 1);
  cp_set_f64(s, 8, 2.5);
  cp_set_u64(s, 16, 1234567890123ull);
  cp_blist points = cp_init_struct_list(s, POINTS, 2, 1, 1);
  for (uint32_t i = 0; i < 2; i++) {
    cp_bstruct p = cp_blist_struct(points, i);
    cp_set_u32(p, 0, (uint32_t)(i + 1));
    cp_set_u32(p, 4, (uint32_t)-(int32_t)(i + 10));
    cp_set_text(p, 0, i ? "second" : "first", i ? 6 : 5);
  }
  cp_blist tags = cp_init_list(s, TAGS, CP_POINTER, 3);
  cp_blist_set_text(tags, 0, "a", 1);
  cp_blist_set_text(tags, 1, "", 0);
  cp_blist_set_text(tags, 2, "third tag", 9);
  const uint8_t bytes[] = {0, 1, 0xfe, 0xff};
  cp_set_data(s, DATA, bytes, sizeof bytes);
  cp_blist counts = cp_init_list(s, COUNTS, CP_FOUR, 3);
  for (uint32_t i = 0; i < 3; i++) cp_blist_set_u32(counts, i, 100 * (i + 1));
  cp_bstruct nested = cp_init_struct(s, NESTED, 3, 7);
  cp_set_text(nested, NAME, "inner", 5);
  cp_set_u64(nested, 16, 7);
  if (b.error) return fprintf(stderr, "builder error %d\n", b.error), 3;
  uint8_t header[8];
  cp_frame_header(&b, header);
  FILE *f = fopen(path, "wb");
  if (!f) return perror(path), 2;
  fwrite(header, 1, 8, f);
  fwrite(b.buf, 8, b.words, f);
  fclose(f);
  cp_builder_free(&b);
  return 0;
}

// ---- hostile inputs ---------------------------------------------------------------------

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static int failures;

static void expect(const char *name, int cond) {
  printf("%s %s\n", cond ? "ok" : "FAIL", name);
  if (!cond) failures++;
}

static int cmd_hostile(void) {
  uint8_t w[64];
  cp_segment seg;
  cp_message m;

  // A struct pointer whose target lies past the end of the segment.
  memset(w, 0, sizeof w);
  put64(w, (uint64_t)(100u << 2) | (uint64_t)1 << 32);
  seg.data = w;
  seg.words = 2;
  cp_message_init(&m, &seg, 1);
  cp_struct r = cp_root(&m);
  expect("struct-out-of-bounds", r.msg == NULL && m.error == CP_ERR_BOUNDS && cp_get_u64(r, 0) == 0);

  // A list pointer claiming 2^29-1 eight-byte elements in a 3-word segment.
  memset(w, 0, sizeof w);
  put64(w, (uint64_t)1 << 48);   // root: 0 data words, 1 pointer, right after
  put64(w + 8, 1 | (uint64_t)5 << 32 | (uint64_t)0x1fffffff << 35);
  seg.words = 3;
  cp_message_init(&m, &seg, 1);
  r = cp_root(&m);
  cp_list l = cp_get_list(r, 0);
  expect("list-too-long", l.count == 0 && m.error == CP_ERR_BOUNDS);

  // A far pointer to a segment that does not exist.
  memset(w, 0, sizeof w);
  put64(w, 2 | (uint64_t)9 << 32);
  seg.words = 1;
  cp_message_init(&m, &seg, 1);
  r = cp_root(&m);
  expect("far-to-missing-segment", r.msg == NULL && m.error == CP_ERR_BOUNDS);

  // A valid far pointer into a second segment (what multi-segment messages do).
  uint8_t s0[8], s1[24];
  memset(s1, 0, sizeof s1);
  put64(s0, 2 | (uint64_t)0 << 3 | (uint64_t)1 << 32);            // far to segment 1, pad at word 0
  put64(s1, 0 | (uint64_t)1 << 32);                                // landing pad: struct, 1 data word, right after
  put64(s1 + 8, 0x1122334455667788ull);
  cp_segment two[2] = {{s0, 1}, {s1, 3}};
  cp_message_init(&m, two, 2);
  r = cp_root(&m);
  expect("far-pointer", m.error == CP_OK && cp_get_u64(r, 0) == 0x1122334455667788ull);

  // Text without its NUL.
  memset(w, 0, sizeof w);
  put64(w, (uint64_t)1 << 48);
  put64(w + 8, 1 | (uint64_t)2 << 32 | (uint64_t)3 << 35);
  memcpy(w + 16, "abc", 3);
  seg.words = 3;
  cp_message_init(&m, &seg, 1);
  cp_text t = cp_get_text(cp_root(&m), 0);
  expect("text-without-nul", t.len == 0 && m.error == CP_ERR_FORMAT);

  // A pointer to itself, nested forever: the nesting limit stops it.
  memset(w, 0, sizeof w);
  put64(w, (uint64_t)1 << 48);                                   // root: 1 pointer at word 1
  put64(w + 8, (uint64_t)((uint32_t)-2 << 2) | (uint64_t)1 << 48);  // points back at word 0's target
  seg.words = 2;
  cp_message_init(&m, &seg, 1);
  r = cp_root(&m);
  for (int i = 0; i < 100 && r.msg; i++) r = cp_get_struct(r, 0);
  expect("nesting-limit", m.error == CP_ERR_NESTING || m.error == CP_ERR_TRAVERSAL);

  // A frame whose segment count is over what the caller can hold, and a truncated frame.
  uint8_t frame[16] = {200, 0, 0, 0};
  cp_segment segs[4];
  uint32_t n;
  expect("too-many-segments", cp_frame_parse(frame, sizeof frame, segs, 4, &n) == -1);
  uint8_t partial[12] = {0, 0, 0, 0, 4, 0, 0, 0};
  expect("truncated-frame", cp_frame_parse(partial, sizeof partial, segs, 4, &n) == 0);

  // The builder refuses to pass its bound instead of overflowing.
  cp_builder b;
  cp_builder_init(&b, 8, 64, NULL);
  cp_bstruct s = cp_init_root(&b, 1, 1);
  int ok = cp_set_data(s, 0, w, 1000);
  expect("builder-bound", !ok && b.error == CP_ERR_BOUNDS);
  cp_builder_free(&b);
  return failures ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc > 2 && !strcmp(argv[1], "read")) return cmd_read(argv[2]);
  if (argc > 2 && !strcmp(argv[1], "build")) return cmd_build(argv[2]);
  if (argc > 1 && !strcmp(argv[1], "hostile")) return cmd_hostile();
  fprintf(stderr, "usage: capnp_test read FILE | build FILE | hostile\n");
  return 2;
}
