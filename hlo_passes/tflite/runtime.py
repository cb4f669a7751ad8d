"""Running `.tflite` models in LiteRT (ai-edge-litert's interpreter): how the backend's output is checked.

`TFLiteModel(path_or_bytes, xnnpack=True, threads=1)` loads a model; `model.signatures` lists its entry
points with their input and output names; `model.run("decode", tokens=..., input_pos=...)` calls one with
numpy inputs (checked against the signature's dtypes and shapes: LiteRT would otherwise reinterpret or
reject them with a C++ message) and returns the outputs by name; `model.latency(...)` times repeated calls.

XNNPACK (LiteRT's default CPU delegate) is on by default, as on a device. `xnnpack=False` runs the
builtin reference-quality kernels instead, which is how a test tells a delegate's bug from ours.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..diagnostics import HloError


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype


@dataclass(frozen=True)
class SignatureSpec:
    key: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def _interpreter_module():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ai_edge_litert import interpreter

    return interpreter


def _pass_on(text: str) -> None:
    """Forward what LiteRT's C++ printed, minus its INFO chatter."""
    said = [line for line in text.splitlines() if line and not line.startswith("INFO:")]
    if said:
        print("\n".join(said), file=sys.stderr)


def _signature_order(data: bytes) -> dict[str, tuple[list[str], list[str]]]:
    """Input and output names of each signature in the order the model declares them (LiteRT's own
    details come back sorted by name, which puts `args_10` before `args_2`). Reads only the signature
    tables of the flatbuffer, not the weights."""
    from .schema import fb

    try:
        model = fb.Model.GetRootAs(data, 0)
        result = {}
        for i in range(model.SignatureDefsLength()):
            sig = model.SignatureDefs(i)
            ins = [sig.Inputs(j).Name().decode() for j in range(sig.InputsLength())]
            outs = [sig.Outputs(j).Name().decode() for j in range(sig.OutputsLength())]
            result[sig.SignatureKey().decode()] = (ins, outs)
        return result
    except Exception:  # noqa: BLE001 -- a damaged file: LiteRT itself will say what is wrong with it
        return {}


class TFLiteModel:
    """A `.tflite` model loaded in LiteRT, called by signature."""

    def __init__(self, model: str | os.PathLike | bytes, *, xnnpack: bool = True, threads: int = 1):
        interp = _interpreter_module()
        resolver = interp.OpResolverType.AUTO if xnnpack else interp.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        if threads < 1:
            raise HloError(f"threads must be >= 1, got {threads}")
        kwargs = dict(num_threads=threads, experimental_op_resolver_type=resolver)
        from ..ir import captured_stderr  # LiteRT's C++ logs "INFO: Created ... XNNPACK delegate" on fd 2

        self._runners: dict = {}
        with captured_stderr() as cpp:
            self._load(model, interp, kwargs)
            try:
                self.signatures = self._signatures()  # (the delegate is made, and announced, here)
            except (ValueError, RuntimeError, IndexError, KeyError) as e:  # a damaged model's signature tables
                raise HloError(f"LiteRT cannot read the model's signatures: {' '.join(str(e).split())}") from None
        self._called: set[str] = set()
        _pass_on(cpp.text)

    def _load(self, model, interp, kwargs) -> None:
        try:
            if isinstance(model, (bytes, bytearray, memoryview)):
                self._data = bytes(model)  # LiteRT reads the bytes in place: keep them alive
                self._order = _signature_order(self._data)
                self.interpreter = interp.Interpreter(model_content=self._data, **kwargs)
            else:
                path = Path(model)
                if not path.is_file():
                    raise HloError(f"no such model file: {path}")
                with open(path, "rb") as f:
                    self._order = _signature_order(f.read())
                self.interpreter = interp.Interpreter(model_path=str(path), **kwargs)
        except ValueError as e:
            raise HloError(f"LiteRT cannot load the model: {' '.join(str(e).split())}") from None

    def _signatures(self) -> dict[str, SignatureSpec]:
        result = {}
        for key in self.interpreter.get_signature_list():
            runner = self._runner(key)
            specs = []
            for side, details in enumerate((runner.get_input_details(), runner.get_output_details())):
                order = self._order.get(key, ([], []))[side]
                names = sorted(details, key=lambda n: order.index(n) if n in order else len(order))
                specs.append(tuple(TensorSpec(name, tuple(int(d) for d in details[name]["shape"]),
                                              np.dtype(details[name]["dtype"])) for name in names))
            result[key] = SignatureSpec(key, *specs)
        return result

    def _runner(self, key: str):
        if key not in self._runners:
            try:
                self._runners[key] = self.interpreter.get_signature_runner(key)
            except ValueError as e:
                raise HloError(f"signature '{key}': {' '.join(str(e).split())}") from None
        return self._runners[key]

    def _signature(self, key: str | None) -> SignatureSpec:
        if key is None:
            if len(self.signatures) != 1:
                raise HloError(f"the model has {len(self.signatures)} signatures ({', '.join(self.signatures)}):"
                               " name one")
            key = next(iter(self.signatures))
        if key not in self.signatures:
            raise HloError(f"no signature '{key}' (the model has: {', '.join(self.signatures) or 'none'})")
        return self.signatures[key]

    def run(self, signature: str | None = None, *args, **inputs) -> dict[str, np.ndarray]:
        """Call a signature. Inputs by name, or positionally in the signature's order."""
        spec = self._signature(signature)
        if args:
            if len(args) != len(spec.inputs):
                raise HloError(f"signature '{spec.key}' takes {len(spec.inputs)} inputs, {len(args)} given")
            inputs = {t.name: a for t, a in zip(spec.inputs, args)} | inputs
        expected = {t.name: t for t in spec.inputs}
        missing, extra = set(expected) - set(inputs), set(inputs) - set(expected)
        if missing or extra:
            raise HloError(f"signature '{spec.key}' takes inputs {sorted(expected)}; missing {sorted(missing)},"
                           f" unknown {sorted(extra)}")
        feed = {}
        for name, value in inputs.items():
            value, t = np.asarray(value), expected[name]
            if value.dtype != t.dtype or tuple(value.shape) != t.shape:
                raise HloError(f"input '{name}' of signature '{spec.key}' is {t.dtype}{list(t.shape)}, got"
                               f" {value.dtype}{list(value.shape)}")
            feed[name] = value
        try:
            if spec.key in self._called:
                out = self._runner(spec.key)(**feed)
            else:  # the first call applies the delegate, which LiteRT announces on fd 2 ("INFO: Created ...")
                from ..ir import captured_stderr

                with captured_stderr() as cpp:
                    out = self._runner(spec.key)(**feed)
                self._called.add(spec.key)
                _pass_on(cpp.text)
        except (ValueError, RuntimeError) as e:
            raise HloError(f"LiteRT failed to run signature '{spec.key}': {' '.join(str(e).split())}") from None
        return {t.name: np.array(out[t.name]) for t in spec.outputs}

    def latency(self, signature: str | None = None, inputs: dict | None = None, *, runs: int = 100,
                warmup: int = 5) -> float:
        """Median wall time of one call in seconds, over `runs` calls after `warmup`."""
        spec = self._signature(signature)
        inputs = inputs if inputs is not None else {t.name: np.zeros(t.shape, t.dtype) for t in spec.inputs}
        if spec.key not in self._called:
            self.run(spec.key, **inputs)  # checks the inputs, and keeps the delegate's announcement quiet
        runner = self._runner(spec.key)
        for _ in range(warmup):
            runner(**inputs)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            runner(**inputs)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)


def has_tfl_ops(module) -> bool:
    """True when `module` holds legalized TFL ops (it then runs in LiteRT, not on XLA)."""
    from .. import ir

    found = [False]

    def visit(op):
        if op.name.startswith("tfl."):
            found[0] = True
            return ir.mlir.WalkResult.INTERRUPT
        return ir.mlir.WalkResult.ADVANCE

    ir.as_operation(module).walk(visit)
    return found[0]


def execute_sets(module, sets, *, signature: str | None = None, xnnpack: bool = True) -> list[list[np.ndarray]]:
    """Write a legalized module as a `.tflite` (in memory) and run `signature` (default: its entry) on each
    input set: how `--check-numerics` follows a pipeline across `legalize-tflite`."""
    from .export import export

    model = TFLiteModel(export(module).to_bytes(), xnnpack=xnnpack)
    key = signature or ("main" if "main" in model.signatures else next(iter(model.signatures)))
    return [list(model.run(key, *inputs).values()) for inputs in sets]
