"""hlo-opt's `.tflite` side: `--run-tflite MODEL` and `--inspect MODEL` (kept out of hlo_opt.py, which is
about pipelines). Both read a model from any converter; neither writes anything."""

from __future__ import annotations

import numpy as np

from hlo_passes.diagnostics import HloError


def _inputs(model, signature: str, path: str | None, seed: int) -> dict[str, np.ndarray]:
    """Inputs by name from an .npz (names as the signature has them, or arr_0.. in order), else seeded
    random ones: floats N(0, 1), integers in [0, 8) (token ids stay in range), booleans at random."""
    spec = model.signatures[signature]
    if path is not None:
        try:
            with np.load(path) as data:
                arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError) as e:
            raise HloError(f"cannot read inputs from {path}: {e}") from None
        names = [t.name for t in spec.inputs]
        if set(arrays) == {f"arr_{i}" for i in range(len(arrays))} and len(arrays) == len(names):
            arrays = {n: arrays[f"arr_{i}"] for i, n in enumerate(names)}
        return arrays
    rng = np.random.default_rng(seed)
    result = {}
    for t in spec.inputs:
        if t.dtype == np.bool_:
            result[t.name] = rng.integers(0, 2, t.shape).astype(np.bool_)
        elif t.dtype.kind in "iu":
            result[t.name] = rng.integers(0, 8, t.shape).astype(t.dtype)
        else:
            result[t.name] = rng.standard_normal(t.shape).astype(t.dtype)
    return result


def _summary(name: str, value: np.ndarray) -> str:
    flat = value.reshape(-1)
    head = np.array2string(flat[:8], precision=5, separator=", ", max_line_width=1 << 20)
    stats = ""
    if flat.size and value.dtype.kind in "fiu":
        stats = f"  min {flat.min():.6g}  max {flat.max():.6g}  mean {flat.astype(np.float64).mean():.6g}"
    return f"  {name}: {value.dtype}{list(value.shape)} {head}{' ...' if flat.size > 8 else ''}{stats}"


def run_tflite(path: str, *, signature: str | None, inputs: str | None, runs: int, threads: int,
               xnnpack: bool, seed: int, save: str | None = None) -> str:
    """Run one signature of a `.tflite` in LiteRT; the report: outputs and the median latency."""
    from hlo_passes.tflite.runtime import TFLiteModel

    model = TFLiteModel(path, xnnpack=xnnpack, threads=threads)
    if signature is None:
        if len(model.signatures) != 1:
            raise HloError(f"{path} has signatures {', '.join(model.signatures) or '(none)'}: pick one with"
                           " --signature")
        signature = next(iter(model.signatures))
    elif signature not in model.signatures:
        raise HloError(f"{path} has no signature '{signature}' (it has: {', '.join(model.signatures) or 'none'})")
    feed = _inputs(model, signature, inputs, seed)
    outputs = model.run(signature, **feed)
    lines = [f"{path}: signature '{signature}', {'XNNPACK' if xnnpack else 'builtin kernels'}, {threads} thread(s)",
             "inputs:" + ("" if inputs else f" (random, seed {seed})")]
    lines += [_summary(k, v) for k, v in feed.items()]
    lines.append("outputs:")
    lines += [_summary(k, v) for k, v in outputs.items()]
    if runs:
        latency = model.latency(signature, feed, runs=runs)
        lines.append(f"latency: {latency * 1e6:.1f} us (median of {runs} runs)")
    if save:
        from hlo_passes import files
        import io

        buf = io.BytesIO()
        np.savez(buf, **outputs)
        files.write_atomic(save, buf.getvalue())
        lines.append(f"outputs saved to {save}")
    return "\n".join(lines) + "\n"


def inspect(path: str) -> str:
    from pathlib import Path

    from hlo_passes.tflite.inspect import inspect as report

    if not Path(path).is_file():
        raise HloError(f"no such model file: {path}")
    return report(path)
