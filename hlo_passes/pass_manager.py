"""Passes, their registry, pipeline text, and the loop that runs a pipeline under instrumentation.

A pass is a frozen dataclass: its fields are its options (typed, with defaults and help), its class
attributes `name` and `summary` say what the CLI calls it, and its docstring describes it. Frozen, because
a pass object is a value: `FuseSdpa(min_seq_len=2)` prints back as `fuse-sdpa{min-seq-len=2}`, so a
pipeline can be written out (in reproducers) and read back to the same thing.

MLIR's own passes (canonicalize, cse, ...) take part in the same pipelines through `MlirPass`, and nested
under an op anchor (`func.func(canonicalize,cse)`) through `MlirPipeline`. Option types and their text are
in `pass_options`, the pipeline syntax in `pipeline_text`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import re
import sys
import time
import traceback
import typing
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, TextIO

from . import ir
from .diagnostics import HloError, SourceLoc, did_you_mean
from .pass_options import OptionInfo, convert, format_value, options_of
from .pipeline_text import check_nested, parse_element as _parse_element, split_top as _split_top


def option(default: Any, help: str) -> Any:
    """A pass option: `min_seq_len: int = option(2, "shortest sequence worth fusing")`."""
    return field(default=default, metadata={"help": help})


class PassFailure(HloError):
    """Raised by a pass (or by `ctx.fail`) to stop the pipeline with a located message."""


class CheckFailed(HloError):
    """Raised by an instrument's `after_pass` when the pass ran but its result fails a check (numerics).
    Unlike any other error it does not cut the other instruments short: they all see the pass's output
    first (dumps, prints, statistics), then every `after_failure` runs (reproducer, bisection)."""


@dataclass
class PassContext:
    """What a running pass may use besides the module: counters for `--statistics` and a debug stream.

    `debug` holds the names given to `--debug-patterns`; a pass or pattern whose name is in it explains
    its matches and near-misses on `out`. `consulted` collects every name asked about (the run's, shared by
    its passes) so that a name nothing asked about can be reported with a "did you mean".
    `rewrites`, when set, is the run's rewrite budget (`patterns.driver.RewriteBudget`): the pattern driver
    asks it before each application, which is how `--bisect` replays a pass up to its k-th rewrite.
    """

    statistics: Counter = field(default_factory=Counter)
    debug: frozenset = frozenset()
    out: TextIO = field(default_factory=lambda: sys.stderr)
    consulted: set = field(default_factory=set)
    rewrites: Any = None
    unchanged: bool = False

    def count(self, key: str, n: int = 1) -> None:
        self.statistics[key] += n

    def mark_unchanged(self) -> None:
        """Say that the pass left the module exactly as it found it (MLIR's markAllAnalysesPreserved): the
        verifier, which costs a walk of the whole module, then has nothing new to check."""
        self.unchanged = True

    def debugging(self, name: str) -> bool:
        self.consulted.add(name)
        return name in self.debug or "all" in self.debug

    def fail(self, message: str, op=None) -> typing.NoReturn:
        loc = SourceLoc.parse(str(op.location)) if op is not None else None
        raise PassFailure(message, loc)


@dataclass(frozen=True)
class Pass:
    """Base of every pass. Subclass it as a frozen dataclass, set `name` and `summary`, write `run`."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    @property
    def pass_name(self) -> str:
        return self.name

    def run(self, module: ir.mlir.Operation, ctx: PassContext) -> None:
        raise NotImplementedError(f"pass {type(self).__name__} has no run()")

    def __str__(self) -> str:
        """Pipeline text for this pass with its non-default options: `fuse-sdpa{min-seq-len=2}`."""
        opts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.default is not dataclasses.MISSING and value == f.default:
                continue
            opts.append(f"{f.name.replace('_', '-')}={format_value(value)}")
        return f"{self.name}{{{' '.join(opts)}}}" if opts else self.name


@dataclass(frozen=True)
class MlirPass(Pass):
    """One of MLIR's own passes, run by MLIR's pass manager on the whole module."""

    mlir_name: str = ""
    options: str = ""

    def __str__(self) -> str:
        return f"{self.mlir_name}{{{self.options}}}" if self.options else self.mlir_name

    @property
    def pass_name(self) -> str:
        return self.mlir_name

    def run(self, module, ctx):
        with module.context:
            pm = ir.passmanager.PassManager.parse(f"builtin.module({self})")
            pm.enable_verifier(False)  # our loop verifies after every pass, the same way for all passes
            with ir.captured_stderr() as cpp:
                try:
                    pm.run(module)
                    err = None
                except ir.MLIRError as e:
                    err = ir.error_from_mlir(e, what=f"{self.mlir_name} failed")
            if err:
                raise err
            if "error:" in cpp.text:  # e.g. a bad nested pipeline option, reported only on C++'s stderr
                raise HloError(" ".join(cpp.text.split()))
            if cpp.text:
                print(cpp.text, file=sys.stderr)


@dataclass(frozen=True)
class MlirPipeline(MlirPass):
    """A nested pipeline of MLIR's own passes, `func.func(canonicalize,cse)`: MLIR's pass manager runs the
    inner passes on every op of the anchor's kind. Only MLIR's passes may nest: ours are module passes."""

    text: str = ""

    def __str__(self) -> str:
        return self.text

    @property
    def pass_name(self) -> str:
        return self.text


def _nested(elem: str) -> MlirPipeline:
    def ours(name: str) -> bool:
        info = lookup_pass(name)
        return name in _PIPELINES or (info is not None and info.origin != "mlir")

    anchor, text = check_nested(elem, ours)
    return MlirPipeline(mlir_name=anchor, text=text)


# --------------------------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class PassInfo:
    name: str
    summary: str
    description: str
    options: tuple[OptionInfo, ...]
    make: Callable[[dict[str, str]], Pass]
    origin: str = "hlo_passes"  # or "mlir", or a plugin's file


@dataclass(frozen=True)
class PipelineInfo:
    name: str
    text: str
    summary: str
    origin: str = "hlo_passes"


_PASSES: dict[str, PassInfo] = {}
_PIPELINES: dict[str, PipelineInfo] = {}
_LAZY: dict[str, str] = {}  # pass name -> module that registers it when imported (built-ins)
_plugins_loaded = False
loaded_plugin_files: list[str] = []


def _info_of(cls: type, origin: str) -> PassInfo:
    opts = options_of(cls)  # (pass_options: which types, how they read and print)
    by_name = {o.name: o for o in opts}

    def make(values: dict[str, str]) -> Pass:
        kwargs = {}
        for key, text in values.items():
            if key not in by_name:
                known = ", ".join(by_name) or "none"
                raise HloError(f"pass '{cls.name}' has no option '{key}'{did_you_mean(key, by_name)}"
                               f" (its options: {known})")
            kwargs[key.replace("-", "_")] = convert(cls.name, by_name[key], text)
        try:
            return cls(**kwargs)
        except (ValueError, TypeError) as e:  # __post_init__ checks of option values
            raise HloError(f"pass '{cls.name}': {e}") from None

    doc = (cls.__doc__ or "").strip()
    return PassInfo(cls.name, cls.summary or doc.split("\n")[0], doc, opts, make, origin)


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")


def _check_name(kind: str, name) -> None:
    """Pass and pipeline names must be writable in pipeline text: no `,` `{` `(` or spaces."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise HloError(f"{kind} name {name!r} cannot be used in a pipeline: use letters, digits, '-', '_' and"
                       " '.', starting with a letter")


def _taken(name: str) -> str | None:
    """Who already owns `name`, as a pass or as a named pipeline."""
    if name in _LAZY and name not in _PASSES:
        return "registered as a pass (hlo_passes)"
    if name in _PASSES:
        return f"registered as a pass ({_PASSES[name].origin})"
    if name in _PIPELINES:
        return f"registered as a named pipeline ({_PIPELINES[name].origin})"
    return None


def register_pass(cls: type | None = None, *, replace: bool = False, origin: str | None = None):
    """Class decorator that makes a pass known to pipelines and to `hlo-opt` by its `name`.

    A name that is taken (by a built-in, a plugin or a pipeline) is refused unless `replace=True`: a
    plugin must never replace `cse` or `optimize` by accident. Built-ins are registered before any
    outside registration, so that check always sees them.
    """

    def wrap(cls):
        if not (isinstance(cls, type) and issubclass(cls, Pass) and dataclasses.is_dataclass(cls)):
            raise TypeError(f"{cls!r} is not a dataclass subclass of hlo_passes.Pass")
        if not cls.name:
            raise TypeError(f"pass class {cls.__name__} has no `name`")
        _check_name("pass", cls.name)
        builtin = cls.__module__.startswith("hlo_passes.")
        if builtin and cls.name in _PASSES and _PASSES[cls.name].origin != "hlo_passes":
            return cls  # a plugin replaced this built-in (replace=True) before its module was imported
        owner = None if builtin and cls.name in _LAZY and cls.name not in _PASSES else _taken(cls.name)
        if owner and not (replace and (cls.name in _PASSES or cls.name in _LAZY)):
            hint = " (pass replace=True to replace it on purpose)" if cls.name in _PASSES or cls.name in _LAZY else ""
            raise HloError(f"'{cls.name}' is already {owner}{hint}")
        src = origin or getattr(sys.modules.get(cls.__module__), "__file__", None) or cls.__module__
        _PASSES[cls.name] = _info_of(cls, "hlo_passes" if builtin else src)
        return cls

    return wrap(cls) if cls is not None else wrap


def register_mlir_pass(name: str, summary: str) -> None:
    """Expose one of MLIR's registered passes under its own name; options are handed to MLIR as written."""

    def make(values: dict[str, str]) -> Pass:
        opts = " ".join(f"{k}={v}" for k, v in values.items())
        p = MlirPass(mlir_name=name, options=opts)
        with ir.make_context(), ir.captured_stderr() as cpp:  # let MLIR check the options now
            try:
                ir.passmanager.PassManager.parse(f"builtin.module({p})")
                failed = ""
            except ValueError as e:
                failed = str(e).replace("<Pass-Options-Parser>: ", "").strip().splitlines()[0]
        said = " ".join(cpp.text.split()).lstrip(": ")
        if failed or said:  # some option errors are only printed by C++, the parse still "succeeds"
            raise HloError(f"pass '{name}': bad options '{opts}': {said or failed}")
        return p

    _check_name("pass", name)
    if name in _PASSES:  # a plugin replaced it on purpose before the table's module was imported: keep that
        return
    _PASSES[name] = PassInfo(name, summary, summary, (), make, "mlir")


def register_pipeline(name: str, text: str, summary: str, *, replace: bool = False) -> None:
    """A named pipeline: `register_pipeline("optimize", "fold-constants,simplify,cse", "...")`.

    Like passes, a taken name is refused unless `replace=True` (and a pass's name never)."""
    _check_name("pipeline", name)
    caller = sys._getframe(1).f_globals.get("__name__", "")
    builtin = caller.startswith("hlo_passes")
    owner = _taken(name)
    if owner and not (replace and name in _PIPELINES):
        hint = " (pass replace=True to replace it on purpose)" if name in _PIPELINES else ""
        raise HloError(f"'{name}' is already {owner}{hint}")
    origin = "hlo_passes" if builtin else (sys._getframe(1).f_globals.get("__file__") or caller)
    _PIPELINES[name] = PipelineInfo(name, text, summary, origin)


def register_builtins(passes: dict[str, str], pipelines: dict[str, tuple[str, str]]) -> None:
    """A table of passes: pass name -> the module that registers it on import (imported only when the pass
    is used or listed), and named pipelines (name -> (text, summary)). The built-in table
    (`hlo_passes.passes`) is registered when this module loads; this module knows no pass itself."""
    _LAZY.update(passes)
    for name, (text, summary) in pipelines.items():
        if name not in _PIPELINES:
            _PIPELINES[name] = PipelineInfo(name, text, summary, "hlo_passes")


def _import_builtin(name: str) -> None:
    """Import the module of built-in pass `name` (it registers itself), if not done yet."""
    module = _LAZY.get(name)
    if module is not None and name not in _PASSES:
        importlib.import_module(module)
        if name not in _PASSES:
            raise HloError(f"internal: built-in module {module} did not register pass '{name}'")


def load_plugin(path: str | Path) -> None:
    """Run a Python file that registers passes (`--load-pass-plugin`).

    Whatever the file does wrong ends as one HloError: a syntax error, an exception, `sys.exit()`, a
    name that is taken. What it prints goes to stderr, never into a module written to stdout."""
    path = Path(path)
    if not path.is_file():
        raise HloError(f"pass plugin not found: {path}")
    if path.suffix != ".py":
        raise HloError(f"pass plugin {path} is not a Python file (.py): --load-pass-plugin runs Python code that"
                       " registers passes")
    modname = f"hlo_passes_plugin_{len(loaded_plugin_files)}_{re.sub(r'[^A-Za-z0-9_]', '_', path.stem)}"
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    try:
        with contextlib.redirect_stdout(sys.stderr):
            spec.loader.exec_module(module)
    except HloError as e:
        raise HloError(f"cannot load pass plugin {path}: {e.message}", e.loc, e.notes) from None
    except SyntaxError as e:
        where = SourceLoc(str(path), e.lineno or 0, e.offset or 0)
        raise HloError(f"cannot load pass plugin: {e.msg}", where) from None
    except SystemExit as e:
        raise HloError(f"pass plugin {path} called sys.exit({e.code!r}) while loading",
                       _raise_site(e, str(path))) from None
    except Exception as e:  # noqa: BLE001 -- a plugin's own bug, reported where it happened
        raise HloError(f"cannot load pass plugin {path}: {type(e).__name__}: {e}", _raise_site(e, str(path))) from None
    loaded_plugin_files.append(str(path.resolve()))


def _load_entry_points() -> None:
    """Import third-party passes advertised under the `hlo_passes.passes` entry-point group, once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in importlib.metadata.entry_points(group="hlo_passes.passes"):
        try:
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, Pass) and obj.name not in _PASSES:
                register_pass(obj)
        except (Exception, SystemExit) as e:  # noqa: BLE001 -- one broken plugin must not take the tool down
            print(f"warning: pass plugin '{ep.name}' ({ep.value}) failed to load: {e}", file=sys.stderr)


def registered_passes() -> dict[str, PassInfo]:
    """Every pass: built-ins (all imported now), entry points and plugins."""
    _load_entry_points()
    for name in list(_LAZY):
        _import_builtin(name)
    return dict(sorted(_PASSES.items()))


def lookup_pass(name: str) -> PassInfo | None:
    """One pass by name, importing only its own module."""
    if name not in _PASSES:
        _import_builtin(name)
    if name not in _PASSES:
        _load_entry_points()
    return _PASSES.get(name)


def registered_pipelines() -> dict[str, PipelineInfo]:
    _load_entry_points()
    return dict(sorted(_PIPELINES.items()))


# ---------------------------------------------------------------------------------------- pipeline text

def parse_pipeline(text: str, _seen: tuple[str, ...] = ()) -> list[Pass]:
    """`fold-constants,fuse-sdpa{min-seq-len=2},cse` -> pass objects. Named pipelines expand in place;
    MLIR's `builtin.module(...)` wrapper is accepted and dropped. Only the passes named are imported."""
    text = text.strip()
    if text.startswith("builtin.module(") and text.endswith(")"):
        text = text[len("builtin.module("):-1]
    result: list[Pass] = []
    for elem in _split_top(text, ","):
        if not elem.strip():
            if text:
                raise HloError(f"empty element in pipeline '{text}'")
            continue
        if "(" in elem.split("{", 1)[0]:  # `func.func(cse)`: MLIR's passes, nested under an op anchor
            result.append(_nested(elem))
            continue
        name, opts = _parse_element(elem)
        if name in _PIPELINES:
            if opts:
                raise HloError(f"named pipeline '{name}' takes no options")
            if name in _seen:
                raise HloError(f"named pipeline '{name}' includes itself")
            result += parse_pipeline(_PIPELINES[name].text, (*_seen, name))
        elif (info := lookup_pass(name)) is not None:
            result.append(info.make(opts))
        else:
            choices = [*_PASSES, *_LAZY, *_PIPELINES]
            raise HloError(f"unknown pass or pipeline '{name}'{did_you_mean(name, choices)}"
                           " (hlo-opt --list-passes lists them)")
    return result


def pipeline_text(passes: list[Pass]) -> str:
    return ",".join(str(p) for p in passes)


# -------------------------------------------------------------------------------------------- execution

class Instrument:
    """Hooks around each pass. `index` counts passes from 1; `module` is the live module.

    `before_*` hooks run in list order and `after_*` hooks in reverse, so instruments nest like brackets:
    put `Timing` last and it measures the pass alone, not the other instruments' work.

    `after_failure` runs when the pass raised, and also when an `after_pass` hook rejected the pass's
    result with `CheckFailed` (numerics): then every `after_pass` has run first, with the pass's output.
    """

    def before_pipeline(self, module, passes): ...
    def before_pass(self, index: int, pass_: Pass, module): ...
    def after_pass(self, index: int, pass_: Pass, module, ctx: PassContext, seconds: float): ...
    def after_failure(self, index: int, pass_: Pass, module, error: HloError): ...
    def after_pipeline(self, module): ...


def _raise_site(exc: BaseException, default_file: str | None = None) -> SourceLoc | None:
    """Where an exception was raised (innermost frame), for errors that must not show a traceback."""
    tb = traceback.extract_tb(exc.__traceback__)
    if not tb:
        return None
    frame = tb[-1]
    return SourceLoc(frame.filename, frame.lineno or 0, (frame.colno or 0) + 1 if hasattr(frame, "colno") else 1)


class PassManager:
    """Runs a pipeline on a module: each pass, then the verifier, with instruments around them."""

    def __init__(self, pipeline: str | list[Pass], *, verify: bool = True, instruments: list[Instrument] = (),
                 debug: frozenset = frozenset()):
        self.passes = parse_pipeline(pipeline) if isinstance(pipeline, str) else list(pipeline)
        self.verify = verify
        self.instruments = list(instruments)
        self.debug = frozenset(debug)
        self.consulted: set = set()  # every name a pass or pattern asked `ctx.debugging` about

    def context(self, p: Pass) -> PassContext:
        """The context of one run of `p`. Naming a pass in `debug` explains every pattern it applies,
        whatever its pattern sets are called."""
        debug = self.debug | {"all"} if p.pass_name in self.debug else self.debug
        return PassContext(debug=debug, consulted=self.consulted)

    def __str__(self) -> str:
        return pipeline_text(self.passes)

    def run(self, module, *, inplace: bool = False) -> ir.mlir.Operation:
        """Run every pass; returns the module op. The caller's module is cloned first unless `inplace`."""
        op = ir.as_operation(module) if inplace else ir.clone(module)
        for ins in self.instruments:
            ins.before_pipeline(op, self.passes)
        for index, p in enumerate(self.passes, 1):
            for ins in self.instruments:
                ins.before_pass(index, p, op)
            ctx = self.context(p)
            start = time.perf_counter()
            try:
                run_pass(p, op, ctx, verify=self.verify)
            except HloError as err:
                for ins in reversed(self.instruments):
                    ins.after_failure(index, p, op, err)
                raise
            seconds = time.perf_counter() - start
            rejected = None
            for ins in reversed(self.instruments):  # hooks nest: the first instrument sees the widest span
                try:
                    ins.after_pass(index, p, op, ctx, seconds)
                except CheckFailed as err:  # the others still see the pass's output: dumps, prints, counts
                    rejected = rejected or err
            if rejected is not None:
                for ins in reversed(self.instruments):
                    ins.after_failure(index, p, op, rejected)
                raise rejected
        for ins in self.instruments:
            ins.after_pipeline(op)
        return op



def run_pass(p: Pass, op, ctx: PassContext, *, verify: bool = True) -> None:
    """Run one pass on `op`, then the verifier; anything that goes wrong is one PassFailure naming the pass."""
    name = p.pass_name
    try:
        # stdout may be carrying the output module: whatever a pass prints goes to stderr instead
        with op.context, contextlib.redirect_stdout(sys.stderr):  # context: passes build types freely
            p.run(op, ctx)
    except SystemExit as e:  # a pass must not end the process (and exit 0 with no output)
        site = _raise_site(e)
        raise PassFailure(f"pass '{name}' called sys.exit({e.code!r})",
                          notes=(f"called at {site}",) if site else ()) from None
    except HloError as e:  # (a PassFailure too); the cause, if any, is what --traceback shows
        raise PassFailure(f"pass '{name}' failed: {e.message}", e.loc, e.notes) from e.__cause__
    except Exception as e:  # noqa: BLE001 -- a bug in a pass: name the pass and the raising line
        site = _raise_site(e)
        err = PassFailure(f"pass '{name}' raised {type(e).__name__}: {e}",
                          notes=(f"raised at {site}",) if site else ())
        err.__cause__ = e
        raise err from e
    if verify and not ctx.unchanged:
        try:
            op.verify()
        except ir.MLIRError as e:
            err = ir.error_from_mlir(e)
            raise PassFailure(f"pass '{name}' left an invalid module: {err.message}", err.loc, err.notes) from None


def run(module, pipeline: str | list[Pass], *, inplace: bool = False, verify: bool = True,
        instruments: list[Instrument] = (), debug: frozenset = frozenset()) -> ir.mlir.Operation:
    """Run a pipeline on a module and return the result (a new module unless `inplace`)."""
    return PassManager(pipeline, verify=verify, instruments=instruments, debug=debug).run(module, inplace=inplace)


def _builtin_table() -> None:
    from .passes import BUILTIN_PASSES, BUILTIN_PIPELINES  # a table only: it imports no pass module

    register_builtins(BUILTIN_PASSES, BUILTIN_PIPELINES)


_builtin_table()
