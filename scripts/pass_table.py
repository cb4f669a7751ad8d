"""The README's pass table, made from the registry.

    .venv/bin/python scripts/pass_table.py            # print the table
    .venv/bin/python scripts/pass_table.py --write    # put it into README.md between its markers

What comes from the registry: which rows there are and in what order (the named pipelines, then the passes
of `optimize` in pipeline order, then our other passes, then MLIR's and StableHLO's own), the first column
(`name{option=default ...}`, exactly what `--list-passes` knows) and the pipelines' text. What stays
written by hand: the second column of a pass's row, the prose a user reads; a pass with no row yet gets its
one-line summary until someone writes more. tests/test_readme.py fails when README.md and this disagree,
so a new pass, a renamed option or a changed default cannot go undocumented.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BEGIN, END = "<!-- pass-table: made by scripts/pass_table.py -->", "<!-- /pass-table -->"
HEADER = ["| pass | what it does |", "| --- | --- |"]
_FIRST_CELL = re.compile(r"^\| `([^`{]+)[^|]*?\|\s?(.*?)\s?\|$")


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _signature(info) -> str:
    from hlo_passes.pass_options import format_value

    opts = " ".join(f"{o.name}={format_value(o.default) if o.default is not None else ''}" for o in info.options)
    return f"`{info.name}{{{opts}}}`" if opts else f"`{info.name}`"


def _prose(readme: str) -> dict[str, str]:
    """Second cells of the current table, by the first name in the row's first cell."""
    inside = readme.split(BEGIN, 1)[1].split(END, 1)[0] if BEGIN in readme else readme
    prose = {}
    for line in inside.splitlines():
        m = _FIRST_CELL.match(line.strip())
        if m and m.group(1) != "pass":
            prose[m.group(1).strip()] = m.group(2)
    return prose


def table(readme: str) -> str:
    import hlo_passes as hp
    from hlo_passes.pass_manager import parse_pipeline

    passes, pipelines = hp.registered_passes(), hp.registered_pipelines()
    prose = _prose(readme)
    rows = []
    for name, pipe in sorted(pipelines.items()):
        if pipe.origin == "hlo_passes":
            rows.append(f"| `{name}` (pipeline) | `{pipe.text}` |")
    ours = [n for n, info in passes.items() if info.origin == "hlo_passes"]
    in_optimize = []
    if "optimize" in pipelines:
        for p in parse_pipeline(pipelines["optimize"].text):
            if p.pass_name in ours and p.pass_name not in in_optimize:
                in_optimize.append(p.pass_name)
    for name in in_optimize + sorted(set(ours) - set(in_optimize)):
        info = passes[name]
        rows.append(f"| {_signature(info)} | {prose.get(name) or _escape(info.summary)} |")
    theirs = sorted(n for n, info in passes.items() if info.origin == "mlir")
    groups = ([n for n in theirs if not n.startswith("stablehlo-")], [n for n in theirs if n.startswith("stablehlo-")])
    for group in groups:
        if group:
            default = "MLIR's own passes as jaxlib builds them" if not group[0].startswith("stablehlo-") else \
                "StableHLO's own passes that jaxlib registers"
            rows.append(f"| {', '.join(f'`{n}`' for n in group)} | {prose.get(group[0]) or default} |")
    return "\n".join([*HEADER, *rows])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite README.md's table in place")
    args = ap.parse_args()
    path = ROOT / "README.md"
    readme = path.read_text()
    made = table(readme)
    if not args.write:
        print(made)
        return 0
    if BEGIN not in readme or END not in readme:
        print(f"error: README.md has no '{BEGIN}' ... '{END}' markers", file=sys.stderr)
        return 1
    head, rest = readme.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    text = f"{head}{BEGIN}\n{made}\n{END}{tail}"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
