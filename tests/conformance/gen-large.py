#!/usr/bin/env python3
"""Regenerates the large-list fixtures (root Lists of tests/schemas/test.capnp):

  lists-large.txt        1000 Int32 (a fixed pseudo-random walk) and 200 Text
  lists-large-mixed.txt  333 Bool (not a whole number of words), 500 UInt8,
                         100 Inner structs, 100 List(Int32)

Deterministic: running it again rewrites the same bytes. Usage: ./gen-large.py
"""
import os

here = os.path.dirname(os.path.abspath(__file__))


def write(name, fields):
    body = ", ".join(f"{k} = [{', '.join(v)}]" for k, v in fields)
    with open(os.path.join(here, name), "w", newline="\n") as f:
        f.write(f"({body})\n")


write("lists-large.txt", [
    ("int32s", [str((i * 7919) % 100000 - 50000) for i in range(1000)]),
    ("texts", [f'"t{i}"' for i in range(200)]),
])

write("lists-large-mixed.txt", [
    ("bools", ["true" if (i * i + i // 3) % 5 < 2 else "false" for i in range(333)]),
    ("uint8s", [str((i * 37 + 11) % 256) for i in range(500)]),
    ("structs", [f'(a = {i * i - 5000}, b = "s{i}")' if i % 3 else f"(a = {i})" for i in range(100)]),
    ("intLists", [f"[{', '.join(str(j) for j in range(i % 7))}]" for i in range(100)]),
])
