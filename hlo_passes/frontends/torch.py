"""The PyTorch front end: `torch.export` -> torch-mlir -> StableHLO text that `hlo_passes.ir.parse` reads.

Why torch-mlir: it is the one PyTorch -> StableHLO path that works with torch 2.13 here (torchax does not
import). Its module lives in torch-mlir's own MLIR context, so we hand it over as bytecode, which jaxlib's
context parses. The weights do not travel that way: `export_lifted` runs torch-mlir's steps
(`export_and_import`'s) with the weights kept as function arguments, and the caller binds them to
`dense_resource` blobs over torch's own tensors. Where every copy of the weights used to be (8x1024 example LLM,
623 MB): `tensor.tolist()` in torch-mlir's literal import (a Python float per element), its blobs, the
module printed for its error reports, bytecode, our parse, and the check's clone with dense constants, pickled
to the XLA worker; now the only copy in our process is torch's own.

The `tiny_*` builders make small Hugging Face causal LMs with random weights (never `from_pretrained`:
there is no network), so tests and benchmarks can push real transformer graphs through our passes and
compare logits with torch's.

torch, torch-mlir and transformers are imported inside the functions: importing this module never
needs them, and calling it without them ends in one `HloError` that says what to install.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field

import numpy as np

from ..diagnostics import HloError

__all__ = ["export_torch", "export_lifted", "Lifted", "check_export", "compare_with_torch", "persistent_buffers",
           "tiny_llama", "tiny_qwen2", "tiny_mistral", "tiny_falcon", "tiny_gpt2", "export_causal_lm"]

_INSTALL_HINT = "pip install -e '.[torch]'"


def _require(name: str):
    """Import a front-end dependency, or fail with an `HloError` that says how to get it."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as e:
        extra = " and transformers" if name == "transformers" else ""
        raise HloError(f"the PyTorch front end needs {name} ({e}); install it with {_INSTALL_HINT}{extra}") from None


@contextlib.contextmanager
def persistent_buffers(model):
    """Make every non-persistent buffer of `model` persistent for the duration of the block, IN PLACE,
    and restore the sets afterwards (even on error).

    torch.export leaves non-persistent buffers out of the state dict, and torch-mlir's frozen-program
    importer then fails with "Could not find state mapping for buffer" (Hugging Face rotary `inv_freq`).
    Doing it in place and undoing it avoids copying the weights (a deepcopy doubles memory on a real
    model) while leaving the caller's `state_dict()` as it was once the export is over.
    """
    saved = []
    for module in model.modules():
        names = getattr(module, "_non_persistent_buffers_set", None)
        if names:
            saved.append((module, set(names)))
            names.clear()
    try:
        yield model
    finally:
        for module, names in saved:
            module._non_persistent_buffers_set.update(names)


# Weights of at least this many bytes are lifted out of torch-mlir's import as function arguments and bound
# again as `dense_resource` constants that reference torch's own memory (see `export_lifted`). Smaller tensors
# (scalars, a rotary `inv_freq`) stay torch-mlir's literals: 1-element ones become dense splats it can fold.
LIFT_BYTES = 64


@dataclass
class Lifted:
    """One export with its weights lifted: `code` is the module (bytecode, or text for other dialects) whose
    first `len(weights)` arguments are the weights; `weights` are `(name, array)` pairs in argument order,
    the name a parameter's or buffer's qualified name (`layers.0.wq.weight`), the array a zero-copy numpy
    view of the model's own tensor."""
    code: bytes | str
    weights: list[tuple[str, np.ndarray]] = field(default_factory=list)


def _weight_array(tensor) -> np.ndarray | None:
    """A numpy view of a CPU tensor's memory (no copy), or None when numpy has no form for it."""
    torch = _require("torch")
    if not isinstance(tensor, torch.Tensor) or tensor.device.type != "cpu" or tensor.is_sparse:
        return None
    try:
        return _to_numpy(tensor)
    except (TypeError, RuntimeError):  # fp8, complex32, quantized tensors: torch-mlir keeps them as literals
        return None


def _lift(prog) -> list[tuple[str, np.ndarray]]:
    """Freeze the program's small and mutated state into its graph (what torch-mlir's frozen import does) and
    keep the rest as leading placeholders; returns the kept ones as `(name, array)` in placeholder order (a
    name twice for a tied weight).

    Why: torch-mlir's frozen import turns every weight into a literal by way of `tensor.tolist()` (a Python
    float object per element: ~40 bytes and ~50 ns each), and its pipeline prints the whole module with its
    blobs for error reports; at 623 MB of weights that is most of the export's time and peak memory. As
    arguments the weights cost nothing until `merge`/`export_torch` binds them to blobs over torch's memory.
    """
    from torch.export.graph_signature import InputKind

    sig = prog.graph_signature
    mutated = set(getattr(sig, "buffers_to_mutate", {}).values())
    state, constants = prog.state_dict, getattr(prog, "constants", {}) or {}
    placeholders = {n.name: n for n in prog.graph.nodes if n.op == "placeholder"}
    kinds = {InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR}
    lifted, user_seen, names = [], False, {}
    for spec in sig.input_specs:
        node = placeholders.get(getattr(spec.arg, "name", None))
        if spec.kind not in kinds:
            user_seen = True
            continue
        if node is None:
            continue
        where = constants if spec.kind == InputKind.CONSTANT_TENSOR else state
        value = where.get(spec.target, constants.get(spec.target))
        if value is None:
            raise HloError(f"torch.export lists {spec.kind.name.lower()} '{spec.target}' but holds no value for it")
        array = None if spec.target in mutated else _weight_array(value)
        if array is not None and array.nbytes >= LIFT_BYTES and not user_seen:
            # a tied weight (one tensor under two names, an LM head sharing the embedding) is listed twice by
            # torch.export: both arguments get the first name, so they bind to one blob
            key = (array.__array_interface__["data"][0], array.shape, array.strides, array.dtype.str)
            lifted.append((names.setdefault(key, spec.target), array))
            continue
        node.replace_all_uses_with(value)  # frozen: torch-mlir makes it a literal
        prog.graph.erase_node(node)
    return lifted


def export_lifted(model, *example_args, output_type: str = "stablehlo") -> Lifted:
    """`torch.export` + torch-mlir with the model's weights as the function's leading arguments.

    The steps are torch-mlir's `export_and_import` (export, its decomposition table, import, lowering to
    `output_type`) except the import: parameters and buffers of >= LIFT_BYTES bytes (not written in place)
    stay arguments instead of becoming literals (see `_lift`). The module travels as bytecode, so it is small.
    """
    torch = _require("torch")
    fx = _require("torch_mlir.fx")
    from torch_mlir.extras.fx_decomp_util import get_decomposition_table
    from torch_mlir.extras.fx_importer import FxImporter

    try:
        with persistent_buffers(model):
            prog = torch.export.export(model, tuple(example_args), strict=False)
        prog = prog.run_decompositions(get_decomposition_table())
        weights = _lift(prog)
        context = fx.ir.Context()
        fx.torch_d.register_dialect(context)
        importer = FxImporter(context=context)
        importer.import_stateless_graph(prog.graph, func_name="main")
        del prog
        module = fx._module_lowering(False, False, fx.OutputType.get(output_type), importer.module)
    except HloError:
        raise
    except Exception as e:  # noqa: BLE001 -- torch.export and torch-mlir raise many kinds
        first = (str(e).strip().splitlines() or [""])[0]
        raise HloError(f"torch-mlir cannot export {type(model).__name__}: {type(e).__name__}: {first}") from e
    if output_type != "stablehlo":
        return Lifted(module.operation.get_asm(enable_debug_info=False), weights)
    import io

    buffer = io.BytesIO()
    module.operation.write_bytecode(buffer)
    return Lifted(buffer.getvalue(), weights)


def export_torch(model, *example_args, output_type: str = "stablehlo", check: bool = True,
                 rtol: float = 1e-3, atol: float = 1e-5, bytecode: bool = False) -> str | bytes:
    """Export `model(*example_args)` with torch-mlir and return the module as MLIR text.

    The text keeps the weights as `dense_resource` blobs named after the parameters (`layers.0.wq.weight`;
    small tensors keep torch-mlir's `torch_tensor_...` names) and no locations. The model is exported as it
    is (call `.eval()` first for inference graphs); its non-persistent buffers are made persistent only
    during the export (see `persistent_buffers`).

    A StableHLO export is not taken on trust: torch-mlir miscompiles some models silently. Faults that can
    be repaired exactly are repaired (negative constant gather indices, see `torch_fixes`), and with
    `check` (the default) the export runs on XLA CPU on the example inputs and must give torch's outputs:
    every output within `atol + rtol * max|torch output|`, else an `HloError` names the largest difference.
    The check runs before the weights are bound, with them as arguments: XLA compiles no weight constants.
    The torch run restores the model's buffers afterwards (a module that writes a KV cache in place keeps
    its state); the new values of such buffers, which torch-mlir returns before the model's own outputs,
    are not compared. `check=False` skips the check.

    `bytecode=True` returns MLIR bytecode instead: the weights travel as raw bytes, not as hex text twice
    their size, and printing and parsing are faster. Other `output_type`s (torch, linalg) are returned as
    torch-mlir prints them, weights as arguments (nothing binds them in that dialect).
    """
    lifted = export_lifted(model, *example_args, output_type=output_type)
    if output_type != "stablehlo":
        return lifted.code
    from .. import ir
    from .signatures import bind_weights, entry_of
    from .torch_fixes import fix_negative_gather_indices

    parsed = ir.parse(lifted.code)
    fix_negative_gather_indices(parsed)
    if check:
        check_export(parsed, model, example_args, rtol=rtol, atol=atol, weights=[a for _, a in lifted.weights])
    with parsed.context:
        bind_weights(entry_of(parsed), lifted.weights, {})
    return ir.to_bytecode(parsed) if bytecode else ir.to_text(parsed)


def _to_numpy(tensor):
    """A torch tensor as numpy, bf16 included (numpy has no bf16; ml_dtypes does)."""
    torch = _require("torch")
    t = tensor.detach().cpu()
    if t.dtype == torch.bfloat16:
        import ml_dtypes

        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return t.numpy()


def eager_run(model, example_args):
    """`model(*example_args)` under no_grad, the model's buffers restored afterwards (a module that writes a
    KV cache in place keeps its state); a failure is an `HloError`."""
    torch = _require("torch")
    saved = [(b, b.detach().clone()) for b in model.buffers()] if hasattr(model, "buffers") else []
    try:
        with torch.no_grad():
            return model(*example_args)
    except Exception as e:  # noqa: BLE001 -- the model's own error, in eager mode
        first = (str(e).strip().splitlines() or [""])[0]
        raise HloError(f"cannot check the export of {type(model).__name__}: torch cannot run it on the example "
                       f"inputs: {type(e).__name__}: {first}") from e
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


def tensor_leaves(out) -> list:
    """The tensor leaves of an output pytree, in pytree order, as numpy."""
    torch = _require("torch")
    from torch.utils import _pytree

    return [_to_numpy(t) for t in _pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]


def _torch_outputs(model, example_args) -> list:
    """torch's outputs (tensor leaves, in pytree order) for the example inputs, the model's buffers restored."""
    return tensor_leaves(eager_run(model, example_args))


def check_export(module, model, example_args, *, rtol: float = 1e-3, atol: float = 1e-5, weights=()) -> None:
    """Raise an `HloError` unless `module` (torch-mlir's export of `model`) computes torch's outputs on
    `example_args`, each within `atol + rtol * max|torch output|`; the message names the largest difference.
    `weights`: arrays for the module's leading arguments (an `export_lifted` module), passed before the
    example's tensors."""
    torch = _require("torch")
    from torch.utils import _pytree

    from .. import numerics

    inputs = list(weights) + [_to_numpy(t) for t in _pytree.tree_leaves(example_args) if isinstance(t, torch.Tensor)]
    if len(inputs) != len(numerics.signature(module)):
        raise HloError(f"cannot check the export of {type(model).__name__}: it takes "
                       f"{len(numerics.signature(module))} inputs, the example has {len(inputs) - len(weights)} "
                       f"tensors (and {len(weights)} weights); {CHECK_SKIP}")
    compare_with_torch(numerics.execute(module, inputs), model, example_args, rtol=rtol, atol=atol)


CHECK_SKIP = "export_torch(..., check=False) skips this check"


def compare_with_torch(got: list, model, example_args, *, rtol: float = 1e-3, atol: float = 1e-5,
                       what: str = "", skip: str = CHECK_SKIP, want: list | None = None) -> None:
    """Raise an `HloError` unless `got` (an export's results on `example_args`, as XLA computed them) ends
    with torch's outputs, each within `atol + rtol * max|torch output|`. `what` names the signature; `want`
    are torch's outputs if the caller has them already (`tensor_leaves(eager_run(...))`)."""
    name = type(model).__name__ + (f" (signature '{what}')" if what else "")
    want = _torch_outputs(model, example_args) if want is None else want
    if len(got) < len(want):
        raise HloError(f"cannot check the export of {name}: it returns {len(got)} values, torch {len(want)}; {skip}")
    got = got[len(got) - len(want):]  # torch-mlir returns buffers written in place first: not compared
    worst = None
    for i, (g, w) in enumerate(zip(got, want)):
        if g.shape != w.shape:
            raise HloError(f"the export of {name} disagrees with torch: output {i} has shape {list(g.shape)}, "
                           f"torch's {list(w.shape)}; {skip}")
        g64, w64 = np.asarray(g, np.float64), np.asarray(w, np.float64)
        with np.errstate(invalid="ignore"):
            diff = np.where(np.isnan(g64) & np.isnan(w64), 0.0, np.abs(g64 - w64))
        diff = np.where(np.isnan(diff), np.inf, diff)
        finite = np.abs(w64[np.isfinite(w64)])
        allowed = atol + rtol * (float(finite.max()) if finite.size else 0.0)
        if diff.size and diff.max() > allowed:
            at = np.unravel_index(int(np.argmax(diff)), diff.shape)
            excess = float(diff.max()) / allowed if allowed else np.inf
            if worst is None or excess > worst[0]:
                worst = (excess, i, at, float(diff.max()), allowed, w64[at], g64[at])
    if worst is not None:
        _, i, at, big, allowed, w, g = worst
        mode = " (the model is in training mode: call .eval() first)" if getattr(model, "training", False) else ""
        raise HloError(f"torch-mlir's export of {name} disagrees with torch on the example inputs{mode}: output {i} "
                       f"is off by {big:.3g} at {[int(j) for j in at]} (torch {w:.6g}, export {g:.6g}; allowed "
                       f"{allowed:.3g}); {skip}")


# ------------------------------------------------------------------------------- tiny Hugging Face models

# One small shape shared by the families: 2 layers, hidden 64, 4 heads (2 KV heads where the family
# has grouped-query attention), vocab 128, 64 positions. Small enough to export in seconds, big enough
# to hold every op a real checkpoint of the family produces.
_LLAMA_LIKE = dict(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
_FALCON = dict(vocab_size=128, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_kv_heads=2,
               new_decoder_architecture=True, max_position_embeddings=64)
_GPT2 = dict(vocab_size=128, n_embd=64, n_layer=2, n_head=4, n_positions=64,
             bos_token_id=127, eos_token_id=127)  # GPT-2's own 50256 is outside a 128-token vocab


def _tiny(config_name: str, model_name: str, defaults: dict, seed: int, attn_implementation: str,
          overrides: dict):
    """Build `model_name(config_name(**defaults, **overrides))` with seeded random weights, float32, eval.

    `use_cache=False` in the config keeps the KV cache out of the graph (logits only). The seed goes to a
    forked RNG so that building a model does not disturb the caller's torch random state.
    """
    torch = _require("torch")
    transformers = _require("transformers")
    config = getattr(transformers, config_name)(
        **{**defaults, "use_cache": False, "attn_implementation": attn_implementation, **overrides})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = getattr(transformers, model_name)(config)
    return model.to(torch.float32).eval()


def tiny_llama(seed: int = 0, attn_implementation: str = "sdpa", **config_overrides):
    """A random-weight `LlamaForCausalLM` (RMSNorm, rotary embeddings, GQA, SwiGLU)."""
    return _tiny("LlamaConfig", "LlamaForCausalLM", _LLAMA_LIKE, seed, attn_implementation, config_overrides)


def tiny_qwen2(seed: int = 0, attn_implementation: str = "sdpa", **config_overrides):
    """A random-weight `Qwen2ForCausalLM` (Llama-like, plus biases on q/k/v projections)."""
    return _tiny("Qwen2Config", "Qwen2ForCausalLM", _LLAMA_LIKE, seed, attn_implementation, config_overrides)


def tiny_mistral(seed: int = 0, attn_implementation: str = "sdpa", **config_overrides):
    """A random-weight `MistralForCausalLM` (Llama-like, with a sliding attention window in its config)."""
    return _tiny("MistralConfig", "MistralForCausalLM", _LLAMA_LIKE, seed, attn_implementation, config_overrides)


def tiny_falcon(seed: int = 0, attn_implementation: str = "sdpa", **config_overrides):
    """A random-weight `FalconForCausalLM` with the new decoder architecture: a fused QKV projection read
    with negative indices (`qkv[..., [-2], :]` for K, `[-1]` for V), which torch-mlir exports wrongly
    unless repaired (see `torch_fixes`)."""
    return _tiny("FalconConfig", "FalconForCausalLM", _FALCON, seed, attn_implementation, config_overrides)


def tiny_gpt2(seed: int = 0, attn_implementation: str = "sdpa", **config_overrides):
    """A random-weight `GPT2LMHeadModel` (LayerNorm, learned positions, GELU, no GQA)."""
    return _tiny("GPT2Config", "GPT2LMHeadModel", _GPT2, seed, attn_implementation, config_overrides)


@functools.lru_cache(maxsize=None)
def _logits_only_class():
    """The wrapper class, made on first use because it subclasses `torch.nn.Module`."""
    torch = _require("torch")

    class LogitsOnly(torch.nn.Module):
        """forward(input_ids) -> logits: no cache, no hidden states, no output dataclass in the graph."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids):
            return self.model(input_ids=input_ids, use_cache=False).logits

    return LogitsOnly


def export_causal_lm(model, seq_len: int = 8, batch: int = 1, seed: int = 0):
    """Export a causal LM as `main(input_ids: i64[batch, seq_len]) -> logits` and run it in torch too.

    Returns `(text, input_ids, logits)`: the MLIR text, the seeded random token ids (numpy int64) it
    was traced with, and torch's logits for them (numpy) -- the reference our passes must keep.
    """
    torch = _require("torch")
    wrapper = _logits_only_class()(model)
    wrapper.training = model.training  # mirror the model's mode; never flip the caller's model
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, model.config.vocab_size, (batch, seq_len), generator=generator, dtype=torch.int64)
    with torch.no_grad():
        logits = wrapper(input_ids)
    text = export_torch(wrapper, input_ids)
    return text, input_ids.numpy(), logits.detach().float().numpy()  # bf16 has no numpy form
