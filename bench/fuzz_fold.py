"""The differential fold fuzzer's long campaign (tests/fold_fuzz.py): random ops on constants of every
element type fold-constants claims, folded by the pass and checked bit for bit against XLA CPU.

    .venv/bin/python bench/fuzz_fold.py [N] [--seed S] [--batch B]   # N defaults to 20000: ~4-8 minutes

Prints the counts (cases tried, folded, declines, crashes = exceptions from the pass, wrong folds = bit
mismatches with XLA) and the first failures. Exit status 1 when there is a crash or a wrong fold.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "tests"))

import fold_fuzz  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", nargs="?", type=int, default=20_000, help="cases to try")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=300, help="cases per XLA compile")
    args = parser.parse_args()
    start = time.time()

    def progress(tally):
        print(f"\r{tally.line()}  [{time.time() - start:.0f} s]", end="", file=sys.stderr, flush=True)

    tally = fold_fuzz.campaign(args.n, seed=args.seed, batch=args.batch, progress=progress)
    print(file=sys.stderr)
    print(tally.line())
    print(f"time: {time.time() - start:.0f} s; folds per op: "
          + ", ".join(f"{k} {v}" for k, v in sorted(tally.kinds.items())))
    for failure in tally.failures[:20]:
        print(failure)
    return 1 if tally.counts["crashes"] or tally.counts["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
