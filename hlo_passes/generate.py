"""Greedy generation with a `.tflite` LLM that has `prefill` and `decode` signatures, in LiteRT.

    python -m hlo_passes.generate model.tflite --prompt-ids 1,2,3 --max-new-tokens 16

The model follows AI Edge Torch's Generative API, which is what `hlo-export` makes of examples/llm_*.py:
- `prefill` (or one `prefill_<N>` signature) takes `tokens` [1, N], `input_pos` [N] and the KV caches, and
  returns `logits` [1, N, vocab] and the caches (same names as the inputs);
- `decode` takes `tokens` [1, 1], `input_pos` [1] and the caches; returns the same.
Every input other than tokens and input_pos is a cache, passed back in from the previous call's output of the
same name; caches start as zeros. Caches of rank >= 4 are taken to end in [S, kv heads, head dim] (the
Generative API's [B, S, N, H], or K and V stacked in front of it), S being the longest sequence: prompts
and generations that would overrun it are refused; other layouts are not checked.

A prompt longer than N is prefilled in chunks of N (the caches are written at input_pos[0], so chunks
compose); the last chunk is padded, its padding rows are overwritten by the decode steps before any query can
see them (the causal mask hides positions after the query's own). The first generated token is the argmax
of the prompt's last logits; each decode step feeds back the previous token.

Timing: each signature is called once on zeros before the clock starts (the first call applies the XNNPACK
delegate, which costs far more than a step). tokens/s for prefill counts prompt tokens, for decode the
decoded ones.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np

from .diagnostics import HloError

PROG = "python -m hlo_passes.generate"


@dataclass
class Generation:
    tokens: list[int]
    prompt_len: int
    prefill_seconds: float
    decode_seconds: float
    decode_steps: int

    def report(self) -> str:
        def rate(n, s):
            return f"{n / s:.1f} tokens/s" if s > 0 else "n/a"

        return (f"prefill: {self.prompt_len} tokens in {self.prefill_seconds * 1e3:.2f} ms"
                f" ({rate(self.prompt_len, self.prefill_seconds)})\n"
                f"decode: {self.decode_steps} tokens in {self.decode_seconds * 1e3:.2f} ms"
                f" ({rate(self.decode_steps, self.decode_seconds)})")


class Generator:
    """A loaded model's prefill/decode pair, checked to have the Generative API's inputs and outputs."""

    def __init__(self, model, prefill: str | None = None, decode: str = "decode"):
        self.model = model
        sigs = model.signatures
        if prefill is None:
            found = [k for k in sigs if k == "prefill" or k.startswith("prefill_")]
            if len(found) != 1:
                have = ", ".join(sigs) or "none"
                raise HloError(f"the model needs one 'prefill' or 'prefill_<N>' signature, it has: {have}")
            prefill = found[0]
        for key in (prefill, decode):
            if key not in sigs:
                raise HloError(f"the model has no '{key}' signature (it has: {', '.join(sigs) or 'none'})")
        self.prefill, self.decode = sigs[prefill], sigs[decode]
        for spec in (self.prefill, self.decode):
            ins = {t.name: t for t in spec.inputs}
            outs = {t.name for t in spec.outputs}
            for need in ("tokens", "input_pos"):
                if need not in ins:
                    raise HloError(f"signature '{spec.key}' has no '{need}' input (inputs: {', '.join(ins)})")
            if "logits" not in outs:
                raise HloError(f"signature '{spec.key}' has no 'logits' output (outputs: {', '.join(outs)})")
            caches = [n for n in ins if n not in ("tokens", "input_pos")]
            lost = [n for n in caches if n not in outs]
            if lost:
                raise HloError(f"signature '{spec.key}': cache input(s) {', '.join(lost)} are not outputs too")
        self.caches = {t.name: t for t in self.decode.inputs if t.name not in ("tokens", "input_pos")}
        prefill_caches = {t.name: (t.shape, t.dtype) for t in self.prefill.inputs
                          if t.name not in ("tokens", "input_pos")}
        if prefill_caches != {n: (t.shape, t.dtype) for n, t in self.caches.items()}:
            raise HloError(f"signatures '{self.prefill.key}' and '{self.decode.key}' take different caches")
        self.chunk = self._input(self.prefill, "tokens").shape[-1]
        shapes = [t.shape for t in self.caches.values()]
        if not shapes and getattr(model, "_data", None) is not None:  # caches kept as variables inside
            from .tflite.variables import variable_caches

            shapes = list(variable_caches(model._data).values())
        lengths = {s[-3] for s in shapes if len(s) >= 4}
        self.max_len = min(lengths) if lengths else None

    @staticmethod
    def _input(spec, name):
        return next(t for t in spec.inputs if t.name == name)

    def _call(self, spec, tokens, positions, caches):
        tok, pos = self._input(spec, "tokens"), self._input(spec, "input_pos")
        out = self.model.run(spec.key, tokens=np.asarray(tokens, tok.dtype).reshape(tok.shape),
                             input_pos=np.asarray(positions, pos.dtype).reshape(pos.shape), **caches)
        return out["logits"], {n: out[n] for n in caches}

    def warm_up(self) -> None:
        zeros = {n: np.zeros(t.shape, t.dtype) for n, t in self.caches.items()}
        self._call(self.prefill, np.zeros(self.chunk), np.arange(self.chunk), zeros)
        self._call(self.decode, np.zeros(1), np.zeros(1), zeros)

    def generate(self, prompt: list[int], max_new_tokens: int, eos_id: int | None = None) -> Generation:
        if not prompt:
            raise HloError("the prompt is empty: give at least one token id")
        if max_new_tokens < 1:
            raise HloError(f"--max-new-tokens must be >= 1, got {max_new_tokens}")
        n = len(prompt)
        if self.max_len is not None and n + max_new_tokens - 1 > self.max_len:
            raise HloError(f"{n} prompt + {max_new_tokens} new tokens do not fit the model's {self.max_len}-row"
                           " KV cache")
        if self.max_len is not None and -(-n // self.chunk) * self.chunk > self.max_len:
            raise HloError(f"a {n}-token prompt prefilled in chunks of {self.chunk} overruns the model's"
                           f" {self.max_len}-row KV cache")
        vocab = self.prefill.outputs[[t.name for t in self.prefill.outputs].index("logits")].shape[-1]
        bad = [t for t in prompt if not 0 <= t < vocab]
        if bad:
            raise HloError(f"prompt id {bad[0]} is outside the vocabulary [0, {vocab})")
        caches = {name: np.zeros(t.shape, t.dtype) for name, t in self.caches.items()}
        t0 = time.perf_counter()
        for start in range(0, n, self.chunk):
            piece = prompt[start:start + self.chunk]
            tokens = np.zeros(self.chunk, np.int64)
            tokens[:len(piece)] = piece
            logits, caches = self._call(self.prefill, tokens, np.arange(start, start + self.chunk), caches)
        out = [int(np.argmax(logits.reshape(self.chunk, -1)[len(piece) - 1]))]
        t1 = time.perf_counter()
        while len(out) < max_new_tokens and (eos_id is None or out[-1] != eos_id):
            logits, caches = self._call(self.decode, [out[-1]], [n + len(out) - 1], caches)
            out.append(int(np.argmax(logits.reshape(-1))))
        t2 = time.perf_counter()
        return Generation(out, n, t1 - t0, t2 - t1, len(out) - 1)


def generate(model_path, prompt: list[int], max_new_tokens: int, *, threads: int = 1, xnnpack: bool = True,
             prefill: str | None = None, decode: str = "decode", eos_id: int | None = None,
             warm_up: bool = True) -> Generation:
    """Load `model_path` (a path or the model's bytes) in LiteRT and generate greedily."""
    from .tflite.runtime import TFLiteModel

    gen = Generator(TFLiteModel(model_path, xnnpack=xnnpack, threads=threads), prefill, decode)
    if warm_up:
        gen.warm_up()
    return gen.generate(list(prompt), max_new_tokens, eos_id)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise HloError(f"{message} (see {PROG} --help)")


def _ids(text: str) -> list[int]:
    try:
        ids = [int(x) for x in text.replace(" ", "").split(",") if x != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--prompt-ids {text!r}: expected comma-separated integers") from None
    if not ids:
        raise argparse.ArgumentTypeError("--prompt-ids: give at least one token id")
    return ids


def _main(argv) -> int:
    p = _Parser(prog=PROG, description="Greedy generation with a prefill/decode .tflite in LiteRT.")
    p.add_argument("model", help="the .tflite file")
    p.add_argument("--prompt-ids", type=_ids, required=True, help="comma-separated token ids, e.g. 1,2,3")
    p.add_argument("--max-new-tokens", type=int, default=16, help="tokens to generate (default 16)")
    p.add_argument("--eos-id", type=int, default=None, help="stop after generating this token")
    p.add_argument("--threads", type=int, default=1, help="LiteRT threads (default 1)")
    p.add_argument("--no-xnnpack", action="store_true", help="builtin kernels instead of the XNNPACK delegate")
    p.add_argument("--prefill-signature", default=None, help="default: the one 'prefill' or 'prefill_<N>'")
    p.add_argument("--decode-signature", default="decode")
    a = p.parse_args(argv)
    result = generate(a.model, a.prompt_ids, a.max_new_tokens, threads=a.threads, xnnpack=not a.no_xnnpack,
                      prefill=a.prefill_signature, decode=a.decode_signature, eos_id=a.eos_id)
    print("tokens:", ",".join(str(t) for t in result.tokens))
    print(result.report())
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return _main(argv)
    except HloError as err:
        print(f"{PROG.split()[-1]}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG.split()[-1]}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
