"""`dense_resource` weights checked when a module is loaded, by comparing sizes, never copying data.

A `dense_resource<NAME> : tensor<...>` attribute names a blob kept beside the IR: in the text form, in
the trailing `{-# dialect_resources: { builtin: { NAME: "0x<4-byte alignment><data>" } } #-}` section;
in bytecode, in the resource sections. MLIR accepts a blob that is too short, too long, empty or
missing, and the module then fails deep inside a pass (or XLA reads garbage). So loading compares, for
every resource attribute, the size its type needs with the size of its blob, and reports the first
mismatch at the attribute's file:line:col with the resource name and both sizes.

Torch exports carry hundreds of MB of weights, so this stays linear and copies nothing: blob sizes come
from the input's bytes (`text_blob_sizes`: the length of each hex string, found by `bytes.find`;
`bytecode_blob_sizes`: the size fields of the resource sections), and expected sizes from the types.
"""

from __future__ import annotations

import re

import numpy as np

from .diagnostics import HloError, SourceLoc
from .safe_parse import trailer_start

_KEY = rb'(?:[A-Za-z_][\w.$-]*|"(?:[^"\\\n]|\\[^\n])*")'
_ENTRY_KEY = re.compile(rb"(" + _KEY + rb")\s*:\s*$")
_USE = re.compile(rb"dense_resource<\s*(" + _KEY + rb")\s*>\s*:\s*")


def _key(token: bytes) -> str:
    if token.startswith(b'"'):
        from .safe_parse import _unescape
        token = _unescape(token[1:-1])
    return token.decode("utf-8", "replace")


def text_blob_sizes(raw: bytes) -> dict[str, int]:
    """{resource name: data bytes} of the text form's trailing resource section (alignment excluded)."""
    start = trailer_start(raw)
    if start < 0:
        return {}
    sizes, pos = {}, start
    while True:
        at = raw.find(b'"0x', pos)
        if at < 0:
            return sizes
        end = raw.find(b'"', at + 1)
        if end < 0:
            return sizes
        m = _ENTRY_KEY.search(raw, max(start, at - 512), at)
        if m is not None:
            digits = end - at - 3
            sizes[_key(m.group(1))] = max(0, digits // 2 - 4)  # the first 4 bytes are the alignment
        pos = end + 1


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    first = data[pos]
    if first == 0:
        return int.from_bytes(data[pos + 1:pos + 9], "little"), pos + 9
    n = (first & -first).bit_length()
    return int.from_bytes(data[pos:pos + n], "little") >> n, pos + n


def _sections(data: bytes) -> dict[int, tuple[int, int]]:
    """{section id: (start, end)} of MLIR bytecode."""
    _, pos = _varint(data, 4)  # version
    pos = data.index(b"\0", pos) + 1  # producer
    found = {}
    while pos < len(data):
        code = data[pos]
        length, pos = _varint(data, pos + 1)
        if code & 0x80:  # aligned: alignment, then padding up to it
            align, pos = _varint(data, pos)
            pos += -pos % align if align else 0
        found[code & 0x7F] = (pos, pos + length)
        pos += length
    return found


def bytecode_blob_sizes(data: bytes) -> dict[str, int] | None:
    """{resource name: data bytes} from MLIR bytecode's resource sections; None when they cannot be read
    (the check is then skipped, and `ir.to_numpy` still refuses a blob of the wrong size)."""
    try:
        sections = _sections(data)
        if 6 not in sections:
            return {}
        s0, s1 = sections[0]
        count, pos = _varint(data, s0)
        lengths = []
        for _ in range(count):
            n, pos = _varint(data, pos)
            lengths.append(n)
        strings, at = [], pos
        for n in reversed(lengths):
            strings.append(data[at:at + n - 1].decode("utf-8", "replace"))
            at += n
        if at > s1:
            return None
        r0, r1 = sections.get(5, (0, 0))
        o0, o1 = sections[6]
        sizes: dict[str, int] = {}
        cursor = [o0, r0]  # position in the offset section, in the resource section

        def group() -> None:
            n, pos = _varint(data, cursor[0])
            for _ in range(n):
                key, pos = _varint(data, pos)
                size, pos = _varint(data, pos)
                pos += 1  # the entry's kind
                blob = 0
                if size:  # alignment, then the blob's own size
                    _, p = _varint(data, cursor[1])
                    blob, _ = _varint(data, p)
                sizes[strings[key]] = blob
                cursor[1] += size
            cursor[0] = pos

        external, cursor[0] = _varint(data, o0)
        for _ in range(external):
            _, cursor[0] = _varint(data, cursor[0])  # the group's key
            group()
        while cursor[0] < o1:
            _, cursor[0] = _varint(data, cursor[0])  # the dialect's number
            group()
        rpos = cursor[1]
        return sizes if rpos <= r1 else None
    except (IndexError, ValueError, KeyError):
        return None


def _type_end(raw: bytes, pos: int) -> int:
    """End of the type that starts at `pos` (`tensor<2x!q.t<..>>`: angle brackets balanced)."""
    depth, i, n = 0, pos, min(len(raw), pos + 4096)
    while i < n:
        c = raw[i]
        if c == 0x3C:  # <
            depth += 1
        elif c == 0x3E and raw[i - 1] != 0x2D:  # > (not the arrow ->)
            depth -= 1
            if depth == 0:
                return i + 1
        elif depth == 0 and c in b" ,)}\n":
            return i
        i += 1
    return i


def _needed_bytes(type_text: str, context) -> int | None:
    from . import ir

    try:
        with context:
            stype = ir.mlir.ShapedType(ir.mlir.Type.parse(type_text))
            if not stype.has_static_shape:
                return None
            dtype = ir.np_dtype(stype.element_type)
            return int(np.prod(stype.shape, dtype=np.int64)) * dtype.itemsize
    except (HloError, ValueError, ir.MLIRError):
        return None  # a type whose layout we do not know: no check


def _message(name: str, type_text: str, have: int | None, need: int) -> str:
    if not have:
        why = "no such entry in the resource section" if have is None else "an empty blob"
        return f"dense_resource '{name}' has no data ({why}); its type {type_text} needs {need} bytes"
    return f"dense_resource '{name}' holds {have} bytes, but its type {type_text} needs {need}"


def check_text(module, raw: bytes, filename: str) -> None:
    """Every `dense_resource<...> : TYPE` of MLIR text against the blob sizes of its resource section."""
    if b"dense_resource<" not in raw:
        return
    sizes, trailer = text_blob_sizes(raw), trailer_start(raw)
    context = module.context
    for m in _USE.finditer(raw, 0, trailer if trailer >= 0 else len(raw)):
        name = _key(m.group(1))
        type_text = raw[m.end():_type_end(raw, m.end())].decode("utf-8", "replace")
        need = _needed_bytes(type_text, context)
        have = sizes.get(name)
        if need is not None and have != need:
            line = raw.count(b"\n", 0, m.start()) + 1
            col = m.start() - (raw.rfind(b"\n", 0, m.start()) + 1) + 1
            raise HloError(_message(name, type_text, have, need), SourceLoc(filename, line, col))


_UNIQUED = re.compile(r"^(.*)_\d+$")


def _size_of(sizes: dict[str, int], name: str) -> int | None:
    """The blob size of resource `name` as the file spells it. Why the loop: a context that already holds a
    resource of that name (a second torch-mlir export parsed in one process) keeps the new one under a
    uniqued name, `name_1`, and the parsed module's attributes say so."""
    while name not in sizes:
        m = _UNIQUED.match(name)
        if m is None:
            return None
        name = m.group(1)
    return sizes[name]


def check_module(module, sizes: dict[str, int], filename: str) -> None:
    """Every dense_resource attribute of a parsed module against `sizes` (bytecode's blob sizes)."""
    from . import ir

    mlir = ir.mlir
    problem: list = []

    def visit(op):
        attrs = op.attributes
        for i in range(len(attrs)):
            attr = ir.downcast(attrs[i].attr)
            if not isinstance(attr, mlir.DenseResourceElementsAttr):
                continue
            text = str(attr)  # dense_resource<NAME> : TYPE
            m = _USE.match(text.encode())
            if m is None:
                continue
            type_text = text[m.end():]
            need = _needed_bytes(type_text, op.context)
            have = _size_of(sizes, _key(m.group(1)))
            if need is not None and have != need:
                loc = SourceLoc.parse(str(op.location), filename) or SourceLoc(filename, 1, 1)
                problem.append(HloError(_message(_key(m.group(1)), type_text, have, need), loc))
                return mlir.WalkResult.INTERRUPT
        return mlir.WalkResult.ADVANCE

    ir.as_operation(module).walk(visit)
    if problem:
        raise problem[0]
