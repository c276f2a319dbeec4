// The generated C readers and builders (capnpc-c, tests/schemas/test.capnp) against messages the
// official tool made. Reads one framed message from stdin and:
//   codec copy ROOT      rebuilds it field by field with the typed accessors (pointers only where
//                        present) and writes the copy to stdout, for `capnp convert binary:text`;
//   codec deep ROOT      copies it with the runtime's deep copy into a builder with 1-word first
//                        segment (so that far pointers are written) and writes that;
//   codec defaults       prints the schema defaults read from a Defaults message as name=value lines;
//   codec constants      prints the file's constants;
//   codec fuzz ROOT N SEED  mutates the message N times and reads every mutant through `copy`:
//                        nothing may crash (built natively with ASan/UBSan too); prints counts.
// Portable C11 (builds for wasm32-wasi and natively).
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cp.h"
#include "test.capnp.h"

static uint8_t *read_all(size_t *len) {
  size_t cap = 1 << 16, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (n == cap) buf = realloc(buf, cap *= 2);
    ssize_t r = read(0, buf + n, cap - n);
    if (r < 0) {
      perror("read");
      exit(2);
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  *len = n;
  return buf;
}

static void write_all(const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w <= 0) {
      perror("write");
      exit(2);
    }
    p += w;
    n -= (size_t)w;
  }
}

// ---- copies through the typed accessors -----------------------------------------------------

#define SCALAR(T, f) T##_set_##f(b, T##_get_##f(r))
#define TEXT(T, f)                                                                                 \
  do {                                                                                             \
    if (T##_has_##f(r)) {                                                                          \
      cp_text t_ = T##_get_##f(r);                                                                 \
      T##_set_##f##_len(b, t_.str, t_.len);                                                        \
    }                                                                                              \
  } while (0)
#define DATA(T, f)                                                                                 \
  do {                                                                                             \
    if (T##_has_##f(r)) {                                                                          \
      cp_data d_ = T##_get_##f(r);                                                                 \
      T##_set_##f(b, d_.ptr, d_.len);                                                              \
    }                                                                                              \
  } while (0)
#define STRUCT(T, f, S)                                                                            \
  do {                                                                                             \
    if (T##_has_##f(r)) copy_##S(T##_get_##f(r), T##_init_##f(b));                                 \
  } while (0)
// A list field: copy each element with copy_elem(reader list, builder list, index).
#define LIST(T, f, each)                                                                           \
  do {                                                                                             \
    if (T##_has_##f(r)) {                                                                          \
      cp_list l_ = T##_get_##f(r);                                                                 \
      cp_list_b lb_ = T##_init_##f(b, cp_list_len(l_));                                            \
      for (uint32_t i_ = 0; i_ < cp_list_len(l_); i_++) each(l_, lb_, i_);                        \
    }                                                                                              \
  } while (0)

#define E_BOOL(l, lb, i) cp_lb_bool(lb, i, cp_list_bool(l, i))
#define E_I8(l, lb, i) cp_lb_i8(lb, i, cp_list_i8(l, i))
#define E_I16(l, lb, i) cp_lb_i16(lb, i, cp_list_i16(l, i))
#define E_I32(l, lb, i) cp_lb_i32(lb, i, cp_list_i32(l, i))
#define E_I64(l, lb, i) cp_lb_i64(lb, i, cp_list_i64(l, i))
#define E_U8(l, lb, i) cp_lb_u8(lb, i, cp_list_u8(l, i))
#define E_U16(l, lb, i) cp_lb_u16(lb, i, cp_list_u16(l, i))
#define E_U32(l, lb, i) cp_lb_u32(lb, i, cp_list_u32(l, i))
#define E_U64(l, lb, i) cp_lb_u64(lb, i, cp_list_u64(l, i))
#define E_F32(l, lb, i) cp_lb_f32(lb, i, cp_list_f32(l, i))
#define E_F64(l, lb, i) cp_lb_f64(lb, i, cp_list_f64(l, i))
#define E_VOID(l, lb, i) ((void)(l), (void)(lb), (void)(i))

static void e_text(cp_list l, cp_list_b lb, uint32_t i) {
  if (cp_ptr_is_null(cp_list_ptr(l, i))) return;
  cp_text t = cp_list_text(l, i);
  cp_lb_text(lb, i, t.str, t.len);
}
static void e_data(cp_list l, cp_list_b lb, uint32_t i) {
  if (cp_ptr_is_null(cp_list_ptr(l, i))) return;
  cp_data d = cp_list_data(l, i);
  cp_lb_data(lb, i, d.ptr, d.len);
}
static void e_i32_list(cp_list l, cp_list_b lb, uint32_t i) {
  if (cp_ptr_is_null(cp_list_ptr(l, i))) return;
  cp_list in = cp_list_list(l, i, CP_FOUR_BYTES);
  cp_list_b out = cp_pb_init_list(cp_lb_ptr(lb, i), CP_FOUR_BYTES, cp_list_len(in));
  for (uint32_t j = 0; j < cp_list_len(in); j++) E_I32(in, out, j);
}
static void e_i8_list(cp_list l, cp_list_b lb, uint32_t i) {
  if (cp_ptr_is_null(cp_list_ptr(l, i))) return;
  cp_list in = cp_list_list(l, i, CP_BYTE);
  cp_list_b out = cp_pb_init_list(cp_lb_ptr(lb, i), CP_BYTE, cp_list_len(in));
  for (uint32_t j = 0; j < cp_list_len(in); j++) E_I8(in, out, j);
}
static void e_i8_list_list(cp_list l, cp_list_b lb, uint32_t i) {
  if (cp_ptr_is_null(cp_list_ptr(l, i))) return;
  cp_list in = cp_list_list(l, i, CP_POINTER);
  cp_list_b out = cp_pb_init_list(cp_lb_ptr(lb, i), CP_POINTER, cp_list_len(in));
  for (uint32_t j = 0; j < cp_list_len(in); j++) e_i8_list(in, out, j);
}
static void e_text_list(cp_list l, cp_list_b lb, uint32_t i) {
  if (cp_ptr_is_null(cp_list_ptr(l, i))) return;
  cp_list in = cp_list_list(l, i, CP_POINTER);
  cp_list_b out = cp_pb_init_list(cp_lb_ptr(lb, i), CP_POINTER, cp_list_len(in));
  for (uint32_t j = 0; j < cp_list_len(in); j++) e_text(in, out, j);
}

static void copy_Inner(test_Inner r, test_Inner_builder b) {
  SCALAR(test_Inner, a);
  TEXT(test_Inner, b);
  LIST(test_Inner, more, E_I16);
}
static void e_inner(cp_list l, cp_list_b lb, uint32_t i) {
  copy_Inner(test_Inner_list_get(l, i), test_Inner_list_at(lb, i));
}
static void e_inner_list(cp_list l, cp_list_b lb, uint32_t i) {
  if (cp_ptr_is_null(cp_list_ptr(l, i))) return;
  cp_list in = cp_list_list(l, i, CP_COMPOSITE);
  cp_list_b out = test_Inner_list_init(cp_lb_ptr(lb, i), cp_list_len(in));
  for (uint32_t j = 0; j < cp_list_len(in); j++) e_inner(in, out, j);
}

static void copy_Scalars(test_Scalars r, test_Scalars_builder b) {
  SCALAR(test_Scalars, bool);
  SCALAR(test_Scalars, int8);
  SCALAR(test_Scalars, int16);
  SCALAR(test_Scalars, int32);
  SCALAR(test_Scalars, int64);
  SCALAR(test_Scalars, uint8);
  SCALAR(test_Scalars, uint16);
  SCALAR(test_Scalars, uint32);
  SCALAR(test_Scalars, uint64);
  SCALAR(test_Scalars, float32);
  SCALAR(test_Scalars, float64);
  TEXT(test_Scalars, text);
  DATA(test_Scalars, data);
  SCALAR(test_Scalars, color);
  STRUCT(test_Scalars, inner, Inner);
}
static void e_scalars(cp_list l, cp_list_b lb, uint32_t i) {
  copy_Scalars(test_Scalars_list_get(l, i), test_Scalars_list_at(lb, i));
}
static void e_enum(cp_list l, cp_list_b lb, uint32_t i) {
  test_Color c = (test_Color)cp_list_u16(l, i);
  cp_lb_u16(lb, i, (uint16_t)c);
}

static void copy_Nested(test_Nested r, test_Nested_builder b) {
  STRUCT(test_Nested, inner, Inner);
  LIST(test_Nested, list, e_i32_list);
}

static void copy_Defaults(test_Defaults r, test_Defaults_builder b) {
  SCALAR(test_Defaults, bool);
  SCALAR(test_Defaults, int8);
  SCALAR(test_Defaults, int16);
  SCALAR(test_Defaults, int32);
  SCALAR(test_Defaults, int64);
  SCALAR(test_Defaults, uint8);
  SCALAR(test_Defaults, uint16);
  SCALAR(test_Defaults, uint32);
  SCALAR(test_Defaults, uint64);
  SCALAR(test_Defaults, float32);
  SCALAR(test_Defaults, float64);
  TEXT(test_Defaults, text);
  DATA(test_Defaults, data);
  SCALAR(test_Defaults, color);
  STRUCT(test_Defaults, inner, Inner);
  LIST(test_Defaults, ints, E_I32);
  LIST(test_Defaults, texts, e_text);
  LIST(test_Defaults, structs, e_inner);
  LIST(test_Defaults, bools, E_BOOL);
  STRUCT(test_Defaults, nestedDefault, Nested);
  SCALAR(test_Defaults, floatNan);
  SCALAR(test_Defaults, floatInf);
  SCALAR(test_Defaults, negZero);
  LIST(test_Defaults, enums, e_enum);
  LIST(test_Defaults, floats, E_F32);
  LIST(test_Defaults, datas, e_data);
  LIST(test_Defaults, textLists, e_text_list);
  LIST(test_Defaults, uint64s, E_U64);
}

static void copy_Empty(test_Empty r, test_Empty_builder b) {
  (void)r;
  (void)b;
}
static void e_empty(cp_list l, cp_list_b lb, uint32_t i) {
  copy_Empty(test_Empty_list_get(l, i), test_Empty_list_at(lb, i));
}

static void copy_Lists(test_Lists r, test_Lists_builder b) {
  LIST(test_Lists, voids, E_VOID);
  LIST(test_Lists, bools, E_BOOL);
  LIST(test_Lists, int8s, E_I8);
  LIST(test_Lists, int16s, E_I16);
  LIST(test_Lists, int32s, E_I32);
  LIST(test_Lists, int64s, E_I64);
  LIST(test_Lists, uint8s, E_U8);
  LIST(test_Lists, uint16s, E_U16);
  LIST(test_Lists, uint32s, E_U32);
  LIST(test_Lists, uint64s, E_U64);
  LIST(test_Lists, float32s, E_F32);
  LIST(test_Lists, float64s, E_F64);
  LIST(test_Lists, texts, e_text);
  LIST(test_Lists, datas, e_data);
  LIST(test_Lists, structs, e_inner);
  LIST(test_Lists, enums, e_enum);
  LIST(test_Lists, intLists, e_i32_list);
  LIST(test_Lists, textLists, e_text_list);
  LIST(test_Lists, deep, e_i8_list_list);
  LIST(test_Lists, structLists, e_inner_list);
  LIST(test_Lists, anys, e_scalars);
  LIST(test_Lists, emptyStructs, e_empty);
}

static void copy_Shape(test_Shape r, test_Shape_builder b) {
  TEXT(test_Shape, name);
  switch (test_Shape_which(r)) {
    case test_Shape_which_circle:
      SCALAR(test_Shape, circle);
      break;
    case test_Shape_which_square:
      SCALAR(test_Shape, square);
      break;
    case test_Shape_which_rectangle: {
      test_Shape_Rectangle rr = test_Shape_get_rectangle(r);
      test_Shape_Rectangle_builder rb = test_Shape_init_rectangle(b);
      test_Shape_Rectangle_set_width(rb, test_Shape_Rectangle_get_width(rr));
      test_Shape_Rectangle_set_height(rb, test_Shape_Rectangle_get_height(rr));
      break;
    }
    case test_Shape_which_nothing:
      test_Shape_set_nothing(b);
      break;
    case test_Shape_which_polygon: {
      test_Shape_Polygon pr = test_Shape_get_polygon(r);
      test_Shape_Polygon_builder pb = test_Shape_init_polygon(b);
      test_Shape_Polygon_set_sides(pb, test_Shape_Polygon_get_sides(pr));
      test_Shape_Polygon_Style sr = test_Shape_Polygon_get_style(pr);
      test_Shape_Polygon_Style_builder sb = test_Shape_Polygon_init_style(pb);
      switch (test_Shape_Polygon_Style_which(sr)) {
        case test_Shape_Polygon_Style_which_filled:
          test_Shape_Polygon_Style_set_filled(sb, test_Shape_Polygon_Style_get_filled(sr));
          break;
        case test_Shape_Polygon_Style_which_outline: {
          cp_text t = test_Shape_Polygon_Style_get_outline(sr);
          test_Shape_Polygon_Style_set_outline_len(sb, t.str, t.len);
          break;
        }
        case test_Shape_Polygon_Style_which_dashed: {
          test_Shape_Polygon_Style_Dashed dr = test_Shape_Polygon_Style_get_dashed(sr);
          test_Shape_Polygon_Style_Dashed_builder db = test_Shape_Polygon_Style_init_dashed(sb);
          test_Shape_Polygon_Style_Dashed_set_dash(db, test_Shape_Polygon_Style_Dashed_get_dash(dr));
          test_Shape_Polygon_Style_Dashed_set_gap(db, test_Shape_Polygon_Style_Dashed_get_gap(dr));
          break;
        }
      }
      break;
    }
  }
  test_Shape_Position pr = test_Shape_get_position(r);
  test_Shape_Position_builder pb = test_Shape_init_position(b);
  test_Shape_Position_set_x(pb, test_Shape_Position_get_x(pr));
  test_Shape_Position_set_y(pb, test_Shape_Position_get_y(pr));
  test_Shape_Tag tr = test_Shape_get_tag(r);
  test_Shape_Tag_builder tb = test_Shape_init_tag(b);
  switch (test_Shape_Tag_which(tr)) {
    case test_Shape_Tag_which_none:
      test_Shape_Tag_set_none(tb);
      break;
    case test_Shape_Tag_which_label: {
      cp_text t = test_Shape_Tag_get_label(tr);
      test_Shape_Tag_set_label_len(tb, t.str, t.len);
      break;
    }
    case test_Shape_Tag_which_number:
      test_Shape_Tag_set_number(tb, test_Shape_Tag_get_number(tr));
      break;
  }
}

static void copy_Keywords(test_Keywords r, test_Keywords_builder b) {
  SCALAR(test_Keywords, class);
  TEXT(test_Keywords, namespace);
  SCALAR(test_Keywords, event);
  TEXT(test_Keywords, string);
  SCALAR(test_Keywords, object);
  LIST(test_Keywords, params, E_I32);
  SCALAR(test_Keywords, reader);
  SCALAR(test_Keywords, builder);
  SCALAR(test_Keywords, equals);
  TEXT(test_Keywords, toString);
  SCALAR(test_Keywords, getHashCode);
  SCALAR(test_Keywords, keywords);
  if (test_Keywords_which(r) == test_Keywords_which_which)
    SCALAR(test_Keywords, which);
  else
    TEXT(test_Keywords, struct);
}

static void copy_Shadows(test_Shadows r, test_Shadows_builder b) {
  if (test_Shadows_has_text(r))
    test_Shadows_Text_set_value(test_Shadows_init_text(b), test_Shadows_Text_get_value(test_Shadows_get_text(r)));
  if (test_Shadows_has_data(r))
    test_Shadows_Data_set_value(test_Shadows_init_data(b), test_Shadows_Data_get_value(test_Shadows_get_data(r)));
  if (test_Shadows_has_list(r))
    test_Shadows_List_set_value(test_Shadows_init_list(b), test_Shadows_List_get_value(test_Shadows_get_list(r)));
}

static void copy_Tree(test_Tree r, test_Tree_builder b);
static void e_tree(cp_list l, cp_list_b lb, uint32_t i) {
  copy_Tree(test_Tree_list_get(l, i), test_Tree_list_at(lb, i));
}
static void copy_Tree(test_Tree r, test_Tree_builder b) {
  SCALAR(test_Tree, value);
  LIST(test_Tree, children, e_tree);
  STRUCT(test_Tree, next, Tree);
}

static void copy_Calculator_Stats(test_Calculator_Stats r, test_Calculator_Stats_builder b) {
  SCALAR(test_Calculator_Stats, calls);
  SCALAR(test_Calculator_Stats, mean);
  LIST(test_Calculator_Stats, histogram, E_U32);
}

// Generic (erased) fields are AnyPointers: copied with the runtime's deep copy.
#define ANY(T, f)                                                                                  \
  do {                                                                                             \
    if (T##_has_##f(r)) cp_pb_copy(T##_init_##f(b), T##_get_##f(r), NULL, NULL);                  \
  } while (0)

static void copy_Box(test_Box r, test_Box_builder b) {
  ANY(test_Box, value);
  TEXT(test_Box, label);
}
static void e_box(cp_list l, cp_list_b lb, uint32_t i) {
  copy_Box(test_Box_list_get(l, i), test_Box_list_at(lb, i));
}
static void copy_Pair(test_Pair r, test_Pair_builder b) {
  ANY(test_Pair, key);
  ANY(test_Pair, value);
}
static void copy_UsesGenerics(test_UsesGenerics r, test_UsesGenerics_builder b) {
  STRUCT(test_UsesGenerics, textBox, Box);
  STRUCT(test_UsesGenerics, innerBox, Box);
  STRUCT(test_UsesGenerics, pair, Pair);
  LIST(test_UsesGenerics, boxes, e_box);
}

static void copy_AnythingWithStruct(test_AnythingWithStruct r, test_AnythingWithStruct_builder b) {
  STRUCT(test_AnythingWithStruct, any, Inner);
  STRUCT(test_AnythingWithStruct, anyStruct, Inner);
  LIST(test_AnythingWithStruct, anyList, e_inner);
}
static void copy_AnythingWithList(test_AnythingWithList r, test_AnythingWithList_builder b) {
  LIST(test_AnythingWithList, any, E_I32);
  STRUCT(test_AnythingWithList, anyStruct, Scalars);
  LIST(test_AnythingWithList, anyList, e_text);
}
static void copy_AnythingWithText(test_AnythingWithText r, test_AnythingWithText_builder b) {
  TEXT(test_AnythingWithText, any);
  STRUCT(test_AnythingWithText, anyStruct, Empty);
  LIST(test_AnythingWithText, anyList, e_i8_list);
}

static void copy_EvolutionV1_Item(test_EvolutionV1_Item r, test_EvolutionV1_Item_builder b) {
  SCALAR(test_EvolutionV1_Item, a);
}
static void e_v1item(cp_list l, cp_list_b lb, uint32_t i) {
  copy_EvolutionV1_Item(test_EvolutionV1_Item_list_get(l, i), test_EvolutionV1_Item_list_at(lb, i));
}
static void copy_EvolutionV1(test_EvolutionV1 r, test_EvolutionV1_builder b) {
  SCALAR(test_EvolutionV1, id);
  LIST(test_EvolutionV1, items, e_v1item);
  LIST(test_EvolutionV1, numbers, E_I32);
  LIST(test_EvolutionV1, names, e_text);
}

static void copy_EvolutionV2_Item(test_EvolutionV2_Item r, test_EvolutionV2_Item_builder b) {
  SCALAR(test_EvolutionV2_Item, a);
  SCALAR(test_EvolutionV2_Item, b);
  TEXT(test_EvolutionV2_Item, label);
  STRUCT(test_EvolutionV2_Item, sub, EvolutionV2_Item);
}
static void e_v2item(cp_list l, cp_list_b lb, uint32_t i) {
  copy_EvolutionV2_Item(test_EvolutionV2_Item_list_get(l, i), test_EvolutionV2_Item_list_at(lb, i));
}
static void e_v2number(cp_list l, cp_list_b lb, uint32_t i) {
  test_EvolutionV2_Number r = test_EvolutionV2_Number_list_get(l, i);
  test_EvolutionV2_Number_builder b = test_EvolutionV2_Number_list_at(lb, i);
  SCALAR(test_EvolutionV2_Number, value);
  TEXT(test_EvolutionV2_Number, note);
}
static void e_v2name(cp_list l, cp_list_b lb, uint32_t i) {
  test_EvolutionV2_Name r = test_EvolutionV2_Name_list_get(l, i);
  test_EvolutionV2_Name_builder b = test_EvolutionV2_Name_list_at(lb, i);
  TEXT(test_EvolutionV2_Name, name);
  SCALAR(test_EvolutionV2_Name, rank);
}
static void copy_EvolutionV2(test_EvolutionV2 r, test_EvolutionV2_builder b) {
  SCALAR(test_EvolutionV2, id);
  LIST(test_EvolutionV2, items, e_v2item);
  LIST(test_EvolutionV2, numbers, e_v2number);
  LIST(test_EvolutionV2, names, e_v2name);
  TEXT(test_EvolutionV2, extra);
  SCALAR(test_EvolutionV2, flag);
}

// Copies the root of `in` as type `root` into `out`; 0, or -1 for an unknown root.
static int copy_root(const char *root, cp_message *in, cp_message *out) {
#define ROOT(Name, T)                                                                              \
  if (strcmp(root, Name) == 0) {                                                                   \
    copy_##T(test_##T##_root(in), test_##T##_new_root(out));                                       \
    return 0;                                                                                      \
  }
  ROOT("Scalars", Scalars)
  ROOT("Defaults", Defaults)
  ROOT("Lists", Lists)
  ROOT("Shape", Shape)
  ROOT("Keywords", Keywords)
  ROOT("Shadows", Shadows)
  ROOT("Tree", Tree)
  ROOT("Calculator.Stats", Calculator_Stats)
  ROOT("UsesGenerics", UsesGenerics)
  ROOT("AnythingWithStruct", AnythingWithStruct)
  ROOT("AnythingWithList", AnythingWithList)
  ROOT("AnythingWithText", AnythingWithText)
  ROOT("EvolutionV1", EvolutionV1)
  ROOT("EvolutionV2", EvolutionV2)
  ROOT("Inner", Inner)
  ROOT("Nested", Nested)
  return -1;
}

static void emit(cp_message *m) {
  size_t n = cp_frame_size(m);
  uint8_t *buf = malloc(n);
  cp_frame_write(m, buf);
  write_all(buf, n);
  free(buf);
}

// ---- printing -----------------------------------------------------------------------------------

static void print_list_i(const char *name, cp_list l, int64_t (*get)(cp_list, uint32_t)) {
  printf("%s=[", name);
  for (uint32_t i = 0; i < cp_list_len(l); i++) printf("%s%" PRId64, i ? "," : "", get(l, i));
  printf("]\n");
}
static int64_t get_i32(cp_list l, uint32_t i) { return cp_list_i32(l, i); }
static int64_t get_i16(cp_list l, uint32_t i) { return cp_list_i16(l, i); }
static int64_t get_u16(cp_list l, uint32_t i) { return cp_list_u16(l, i); }
static int64_t get_bool(cp_list l, uint32_t i) { return cp_list_bool(l, i); }
static void print_texts(const char *name, cp_list l) {
  printf("%s=[", name);
  for (uint32_t i = 0; i < cp_list_len(l); i++) printf("%s%s", i ? "," : "", cp_list_text(l, i).str);
  printf("]\n");
}
static void print_data(const char *name, cp_data d) {
  printf("%s=", name);
  for (uint32_t i = 0; i < d.len; i++) printf("%02x", d.ptr[i]);
  printf("\n");
}

static void print_defaults(test_Defaults r) {
  printf("bool=%d\n", test_Defaults_get_bool(r));
  printf("int8=%d\n", test_Defaults_get_int8(r));
  printf("int16=%d\n", test_Defaults_get_int16(r));
  printf("int32=%" PRId32 "\n", test_Defaults_get_int32(r));
  printf("int64=%" PRId64 "\n", test_Defaults_get_int64(r));
  printf("uint8=%u\n", test_Defaults_get_uint8(r));
  printf("uint16=%u\n", test_Defaults_get_uint16(r));
  printf("uint32=%" PRIu32 "\n", test_Defaults_get_uint32(r));
  printf("uint64=%" PRIu64 "\n", test_Defaults_get_uint64(r));
  printf("float32=%g\n", (double)test_Defaults_get_float32(r));
  printf("float64=%g\n", test_Defaults_get_float64(r));
  printf("text=%s\n", test_Defaults_get_text(r).str);
  print_data("data", test_Defaults_get_data(r));
  printf("color=%d\n", (int)test_Defaults_get_color(r));
  test_Inner in = test_Defaults_get_inner(r);
  printf("inner.a=%" PRId32 "\n", test_Inner_get_a(in));
  printf("inner.b=%s\n", test_Inner_get_b(in).str);
  print_list_i("inner.more", test_Inner_get_more(in), get_i16);
  print_list_i("ints", test_Defaults_get_ints(r), get_i32);
  print_texts("texts", test_Defaults_get_texts(r));
  cp_list structs = test_Defaults_get_structs(r);
  for (uint32_t i = 0; i < cp_list_len(structs); i++) {
    test_Inner s = test_Inner_list_get(structs, i);
    printf("structs[%u]=%" PRId32 ",%s\n", i, test_Inner_get_a(s), test_Inner_get_b(s).str);
  }
  print_list_i("bools", test_Defaults_get_bools(r), get_bool);
  test_Nested nd = test_Defaults_get_nestedDefault(r);
  print_list_i("nestedDefault.inner.more", test_Inner_get_more(test_Nested_get_inner(nd)), get_i16);
  cp_list ll = test_Nested_get_list(nd);
  for (uint32_t i = 0; i < cp_list_len(ll); i++) {
    char name[32];
    snprintf(name, sizeof name, "nestedDefault.list[%u]", i);
    print_list_i(name, cp_list_list(ll, i, CP_FOUR_BYTES), get_i32);
  }
  printf("floatNan=%s\n", isnan(test_Defaults_get_floatNan(r)) ? "nan" : "number");
  printf("floatInf=%g\n", (double)test_Defaults_get_floatInf(r));
  double nz = test_Defaults_get_negZero(r);
  printf("negZero=%s\n", nz == 0 && signbit(nz) ? "-0" : "other");
  print_list_i("enums", test_Defaults_get_enums(r), get_u16);
  cp_list floats = test_Defaults_get_floats(r);
  printf("floats=[%g,%g]\n", (double)cp_list_f32(floats, 0), (double)cp_list_f32(floats, 1));
  cp_list datas = test_Defaults_get_datas(r);
  for (uint32_t i = 0; i < cp_list_len(datas); i++) {
    char name[32];
    snprintf(name, sizeof name, "datas[%u]", i);
    print_data(name, cp_list_data(datas, i));
  }
  cp_list tl = test_Defaults_get_textLists(r);
  for (uint32_t i = 0; i < cp_list_len(tl); i++) {
    char name[32];
    snprintf(name, sizeof name, "textLists[%u]", i);
    print_texts(name, cp_list_list(tl, i, CP_POINTER));
  }
  cp_list u = test_Defaults_get_uint64s(r);
  printf("uint64s=[%" PRIu64 ",%" PRIu64 "]\n", cp_list_u64(u, 0), cp_list_u64(u, 1));
}

static void print_constants(void) {
  printf("answer=%" PRId32 "\n", test_answer);
  printf("bigUnsigned=%" PRIu64 "\n", test_bigUnsigned);
  printf("pi=%.15f\n", test_pi);
  printf("greeting=%s\n", test_greeting);
  print_data("blob", test_blob());
  printf("favorite=%d\n", (int)test_favorite);
  test_Inner o = test_origin();
  printf("origin=%" PRId32 ",%s\n", test_Inner_get_a(o), test_Inner_get_b(o).str);
  print_list_i("origin.more", test_Inner_get_more(o), get_i16);
  print_list_i("primes", test_primes(), get_u16);
  print_texts("words", test_words());
  printf("truth=%d\n", test_truth);
  printf("half=%g\n", (double)test_half);
  printf("minInt64=%" PRId64 "\n", test_minInt64);
  printf("byteMax=%u\n", test_byteMax);
  cp_list inners = test_inners();
  printf("inners=%u,%s\n", cp_list_len(inners), test_Inner_get_b(test_Inner_list_get(inners, 1)).str);
  cp_list m = test_matrix();
  print_list_i("matrix[1]", cp_list_list(m, 1, CP_FOUR_BYTES), get_i32);
  test_Shape s = test_shapeConst();
  printf("shapeConst=%s,%u,%g,%s\n", test_Shape_get_name(s).str, test_Shape_which(s),
         test_Shape_Rectangle_get_width(test_Shape_get_rectangle(s)),
         test_Shape_Tag_get_label(test_Shape_get_tag(s)).str);
  printf("answerRef=%" PRId32 "\n", test_answerRef);
  printf("scoped=%d,%s\n", test_WithConstants_scoped, test_WithConstants_scopedText);
  test_WithConstants none = {0}; // a null struct reads as its defaults
  printf("value=%" PRId32 "\n", test_WithConstants_get_value(none));
}

// ---- fuzzing ---------------------------------------------------------------------------------------

static uint64_t rng;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

static int fuzz(const char *root, const uint8_t *msg, size_t len, long iterations) {
  uint8_t *m = malloc(len + 64);
  long errors = 0, framing = 0;
  for (long it = 0; it < iterations; it++) {
    memcpy(m, msg, len);
    size_t n = len;
    int edits = 1 + (int)(next() % 8);
    for (int e = 0; e < edits && n > 0; e++) {
      size_t at = next() % n;
      switch (next() % 6) {
        case 0: m[at] ^= (uint8_t)(1u << (next() % 8)); break;
        case 1: m[at] = (uint8_t)next(); break;
        case 2: // a random pointer-looking word
          if (at + 8 <= n) cp_store64(m + at - at % 8, ((uint64_t)next() << 32) | next());
          break;
        case 3: n = at; break; // truncated
        case 4: if (at + 4 <= n) cp_store32(m + at, next() % 64); break;
        default: if (at + 8 <= n) memset(m + at - at % 8, 0xff, 8); break;
      }
    }
    cp_message in, out;
    if (cp_message_read(&in, m, n, &cp_default_limits) != 0) {
      framing++;
      cp_message_free(&in);
      continue;
    }
    cp_message_init(&out, 1);
    copy_root(root, &in, &out);
    cp_message deep;
    cp_message_init(&deep, 1);
    cp_pb_copy(cp_message_root_b(&deep), cp_message_root(&in), NULL, NULL);
    if (cp_message_error(&in)) errors++;
    cp_message_free(&deep);
    cp_message_free(&out);
    cp_message_free(&in);
  }
  free(m);
  printf("iterations=%ld framing=%ld errors=%ld\n", iterations, framing, errors);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: codec copy|deep|defaults|constants|fuzz [ROOT] [N SEED]\n");
    return 2;
  }
  const char *mode = argv[1];
  if (strcmp(mode, "constants") == 0) {
    print_constants();
    return 0;
  }
  size_t len;
  uint8_t *bytes = read_all(&len);
  if (strcmp(mode, "fuzz") == 0) {
    rng = argc > 4 ? strtoull(argv[4], NULL, 10) | 1 : 88172645463325252ull;
    int status = fuzz(argv[2], bytes, len, argc > 3 ? atol(argv[3]) : 1000);
    free(bytes);
    return status;
  }
  cp_message in;
  if (cp_message_read(&in, bytes, len, &cp_default_limits) != 0) {
    fprintf(stderr, "codec: %s\n", cp_message_error(&in));
    return 1;
  }
  cp_message out = {0};
  if (strcmp(mode, "defaults") == 0) {
    print_defaults(test_Defaults_root(&in));
  } else if (strcmp(mode, "deep") == 0) {
    cp_message_init(&out, 1);
    cp_pb_copy(cp_message_root_b(&out), cp_message_root(&in), NULL, NULL);
    emit(&out);
    fprintf(stderr, "segments=%u\n", out.nsegs);
  } else if (strcmp(mode, "copy") == 0) {
    cp_message_init(&out, 0);
    if (copy_root(argv[2], &in, &out) != 0) {
      fprintf(stderr, "codec: unknown root %s\n", argv[2]);
      cp_message_free(&out);
      return 2;
    }
    emit(&out);
  } else {
    fprintf(stderr, "codec: unknown mode %s\n", mode);
    return 2;
  }
  int status = 0;
  if (cp_message_error(&in)) {
    fprintf(stderr, "codec: reading: %s\n", cp_message_error(&in));
    status = 1;
  }
  if (strcmp(mode, "defaults") != 0) cp_message_free(&out);
  cp_message_free(&in);
  free(bytes);
  return status;
}
