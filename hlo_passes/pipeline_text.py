"""Pipeline text, as MLIR writes it: `pass{opt=v list=a,b},anchor(inner,passes),pass`.

Only the syntax lives here (splitting, options in braces, nested pipelines checked by MLIR's own parser);
`pass_manager.parse_pipeline` turns the pieces into passes.
"""

from __future__ import annotations

import re
from typing import Callable

from . import ir
from .diagnostics import HloError


def split_top(text: str, seps: str) -> list[str]:
    """Split at separators that are not inside braces, parentheses or quotes."""
    parts, depth, quote, cur = [], 0, None, []
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "{(":
            depth += 1
        elif ch in "})":
            depth -= 1
            if depth < 0:
                raise HloError(f"unbalanced '{ch}' in pipeline '{text}'")
        elif ch in seps and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if depth or quote:
        raise HloError(f"unbalanced braces or quotes in pipeline '{text}'")
    parts.append("".join(cur))
    return parts


def parse_element(elem: str) -> tuple[str, dict[str, str]]:
    """`name{k=v flag list=a,b}` -> (name, {k: v, flag: "true", list: "a,b"}); values may be quoted."""
    elem = elem.strip()
    if "{" not in elem:
        return elem, {}
    if not elem.endswith("}"):
        raise HloError(f"expected '}}' at the end of '{elem}'")
    name, body = elem[:elem.index("{")].strip(), elem[elem.index("{") + 1:-1]
    opts = {}
    for item in split_top(body, " \t\n"):
        if not item.strip():
            continue
        key, _, value = item.partition("=")
        opts[key.strip()] = value.strip().strip("\"'") if "=" in item else "true"
    return name, opts


_ANCHOR = re.compile(r"[A-Za-z_][\w$.]*")


def check_nested(elem: str, ours: Callable[[str], bool]) -> tuple[str, str]:
    """(anchor, normalised text) of a nested pipeline `func.func(canonicalize,cse)`.

    Checked now, before any work: the anchor is an op name, nothing inside is one of our (Python) passes
    or pipelines (`ours(name)`: they run on the whole module only; jaxlib aborts the process on a nested
    Python pass), and MLIR's parser accepts the whole (some of its complaints reach only C++'s stderr)."""
    elem = elem.strip()
    anchor, _, rest = elem.partition("(")
    anchor = anchor.strip()
    if not rest.endswith(")") or not _ANCHOR.fullmatch(anchor):
        raise HloError(f"nested pipeline '{elem}': expected OP-NAME(PASSES), e.g. func.func(cse)")
    parts = [p.strip() for p in split_top(rest[:-1], ",")]
    for part in parts:
        if "(" in part.split("{", 1)[0]:
            check_nested(part, ours)
            continue
        name = parse_element(part)[0] if part else ""
        if not name or ours(name):
            why = "an empty element" if not name else f"'{name}' is an hlo_passes pass or pipeline"
            raise HloError(f"nested pipeline '{elem}': {why}; only MLIR's own passes (canonicalize, cse, ...)"
                           " run nested: write hlo_passes passes at the top level")
    text = f"{anchor}({','.join(parts)})"
    with ir.make_context(), ir.captured_stderr() as cpp:
        try:
            ir.passmanager.PassManager.parse(f"builtin.module({text})")
            failed = ""
        except ValueError as e:
            failed = " ".join(str(e).replace("<Pass-Options-Parser>: ", "").split())
    said = " ".join(cpp.text.split()).lstrip(": ")
    why = re.sub(r"^MLIR Textual PassPipeline Parser:\d+:\d+: error: ", "", said or failed).split(f" {text} ^")[0]
    if why:
        raise HloError(f"nested pipeline '{elem}': MLIR does not accept it: {why}")
    return anchor, text
