"""`--bisect`: which pattern application of a pass broke the numerics (MLIR's `--debug-counter`, automated).

When `--check-numerics` rejects a pass's output, the pass runs again on copies of the module it received,
each time with a rewrite budget (`patterns.driver.RewriteBudget` on its context: the first k applications
happen, the rest are declined), and a binary search finds the smallest k whose output differs from the
reference. Application #k is the culprit: its pattern's name and its root op's `file:line:col` say what
to look at. It takes about log2(n) + 2 extra runs of the pass and of the numerics check.

The search assumes what MLIR's debug counter does: the pass is deterministic and declining a rewrite
changes nothing but that rewrite. A pass whose change does not come from pattern applications (its own
code, or the driver's folding) is reported as such, and so is a trial run that fails outright.
"""

from __future__ import annotations

import sys
from typing import TextIO

from . import ir
from .diagnostics import HloError
from .pass_manager import CheckFailed, Instrument, Pass, run_pass
from .patterns.driver import RewriteBudget


class Bisect(Instrument):
    """Runs after a `NumericsCheck` failure; `finding` is one line naming the culprit (or why none was
    found), which the CLI adds to the error as a note. `steps` logs each trial run."""

    def __init__(self, numerics, *, verify: bool = True, debug: frozenset = frozenset(), out: TextIO | None = None):
        self.numerics = numerics
        self.verify = verify
        self.debug = debug
        self.out = out
        self.finding: str | None = None
        self.culprit: tuple[str, str, str] | None = None  # (pattern, op name, location) of the bad rewrite
        self.steps: list[str] = []
        self._entry = None

    def before_pass(self, index, p, module):
        self._entry = ir.clone(module)

    def _say(self, line: str) -> None:
        self.steps.append(line)
        print(line, file=self.out or sys.stderr)

    def _trial(self, p: Pass, index: int, limit: int | None) -> tuple[bool, RewriteBudget]:
        """(results differ, budget with its log) of the pass on a copy of its input, with `limit` rewrites."""
        from .pass_manager import PassContext

        copy = ir.clone(self._entry)
        budget = RewriteBudget(limit)
        run_pass(p, copy, PassContext(debug=self.debug, rewrites=budget), verify=self.verify)
        what = f"pass '{p.pass_name}' (#{index}) with {'all' if limit is None else f'the first {limit}'} rewrites"
        try:
            differs, verdict = not self.numerics.compare(copy, what)[0].ok, None
        except HloError as e:  # the output crashes XLA or does not finish: as bad as different results
            differs, verdict = True, f"results differ ({e.message})"
        shown = "all" if limit is None else limit
        self._say(f"bisect: {p.pass_name} (#{index}) with {shown} of its rewrites: "
                  f"{verdict or ('results differ' if differs else 'same results')}"
                  f"{f' ({len(budget.applied)} applied)' if limit is None else ''}")
        return differs, budget

    def after_failure(self, index, p, module, error):
        if not isinstance(error, CheckFailed) or self._entry is None:
            return
        try:
            self.finding = self._search(p, index)
        except HloError as e:  # a trial run failed outright (a partial conversion, an invalid module...)
            self.finding = f"bisect stopped: a trial run of '{p.pass_name}' failed: {e.message}"

    def _search(self, p: Pass, index: int) -> str:
        differs, full = self._trial(p, index, None)
        n = len(full.applied)
        if not differs:
            return f"bisect: '{p.pass_name}' did not change the results when run again: it is not deterministic"
        if n == 0 or self._trial(p, index, 0)[0]:
            what = "applies no pattern rewrite" if n == 0 else f"changes the results with none of its {n} rewrites"
            return (f"bisect: '{p.pass_name}' {what}: the change comes from its own code (or the driver's"
                    " folding), not from a pattern application")
        good, bad, log = 0, n, full
        while bad - good > 1:
            mid = (good + bad) // 2
            differs, budget = self._trial(p, index, mid)
            if differs:
                bad, log = mid, budget
            else:
                good = mid
        pattern, op_name, where = log.applied[bad - 1]
        self.culprit = (pattern, op_name, where)
        return (f"bisect: rewrite {bad} of {n} is the first that changes the results: pattern '{pattern}' on"
                f" {op_name} at {where} (pass '{p.pass_name}' (#{index}))")
