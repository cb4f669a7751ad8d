"""hlo-opt's debugging flags that go beyond one instrument each: the IR diff, rewrite bisection, replaying a
reproducer's numerics settings, and checking --debug-patterns names against what the run asked about.
(hlo_opt.py wires them in; kept apart so that it stays a readable size.)"""

from __future__ import annotations

import math
import sys

from hlo_passes.bisect import Bisect
from hlo_passes.diagnostics import HloError, did_you_mean
from hlo_passes.instrumentation import PrintIRDiff, reproducer_numerics

DEBUG_PATTERNS_HELP = ("comma-separated names that explain their matches and near-misses on stderr: a pass name"
                       " (every pattern it applies), a pattern name, or 'all'")


def add_flags(group) -> None:
    group.add_argument("--print-ir-diff", action="store_true",
                       help="print a unified diff of the IR before/after each pass that changed it (stderr)")
    group.add_argument("--bisect", action="store_true",
                       help="with --check-numerics: when a pass changes the results, re-run it with only its first"
                            " k pattern rewrites (binary search) and name the first rewrite that changes them:"
                            " pattern and the root op's file:line:col")


def check_flags(args) -> None:
    if args.bisect and not args.check_numerics:
        raise HloError("--bisect needs --check-numerics (it bisects the pass whose results differ)")
    if args.run_reproducer and args.reproducer:
        raise HloError("--reproducer with --run-reproducer: a replay writes no reproducer (the one replayed is it)")


def instruments(args, numerics) -> list:
    """The instruments these flags add, in the order `_Run.instruments` puts them (after the reproducer)."""
    result = []
    if args.bisect and numerics is not None:
        debug = frozenset(x.strip() for x in args.debug_patterns.split(",") if x.strip())
        result.append(Bisect(numerics, verify=not args.no_verify, debug=debug))
    if args.print_ir_diff:
        result.append(PrintIRDiff(args.print_debuginfo))
    return result


def notes(instruments_) -> list[str]:
    return [ins.finding for ins in instruments_ if isinstance(ins, Bisect) and ins.finding]


# The reproducer's `// check-numerics:` keys -> (argparse dest, how to read the value)
_SETTINGS = {"seed": ("seed", int), "rtol": ("rtol", float), "atol": ("atol", float),
             "inputs": ("numerics_inputs", str),
             "timeout": ("numerics_timeout", lambda t: None if t == "None" else float(t))}


def replay_numerics(args, head: str) -> None:
    """A reproducer written under --check-numerics replays under it, with its seed, tolerances and input
    sets, so that it fails the same way; an option given on the command line wins over the recorded one."""
    settings = reproducer_numerics(head)
    if settings is None:
        return
    given = getattr(args, "_given", set())
    args.check_numerics = True
    for key, (dest, read) in _SETTINGS.items():
        if key in settings and dest not in given:
            try:
                value = read(settings[key])
            except ValueError:
                raise HloError(f"reproducer: bad check-numerics setting {key}={settings[key]}") from None
            if isinstance(value, float) and not math.isfinite(value) and key != "timeout":
                raise HloError(f"reproducer: bad check-numerics setting {key}={settings[key]}")
            setattr(args, dest, value)


def warn_unknown_debug_names(args, consulted: set, pipeline) -> None:
    """Names given to --debug-patterns that no pass of the run is called and no pattern or pattern set of
    the run asked about: a typo, most likely. Said after the run (patterns are made by the passes as they
    run, so no list of them exists before), with the closest name seen."""
    names = {x.strip() for x in args.debug_patterns.split(",") if x.strip()} - {"all"}
    known = consulted | {p.pass_name for p in pipeline}
    for name in sorted(names - known):
        print(f"hlo-opt: warning: --debug-patterns: no pass or pattern of this run is called '{name}'"
              f"{did_you_mean(name, known)}", file=sys.stderr)
