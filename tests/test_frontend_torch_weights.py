"""How the PyTorch front end hands weights over: as torch.export's lifted arguments through torch-mlir, then bound
ONCE as `dense_resource` blobs over torch's own tensors (no copy), checked on XLA before binding in one compile
for all signatures, and sent to the XLA worker without a pickled copy. (The `torch` extra.)
"""

import io

import numpy as np
import pytest

from hlo_passes import ir, numerics
from hlo_passes import worker_messages as wm
from hlo_passes.diagnostics import HloError
from hlo_passes.frontends import torch as ft
from hlo_passes.frontends.signatures import from_torch, select_signature, weight_stats

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:.*LeafSpec:FutureWarning")  # torch.export's own noise


class Net(torch.nn.Module):
    """Two linears, a tied pair (one Parameter under two names), a small buffer that stays a torch-mlir literal
    and a large one that is lifted like the weights."""

    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(32, 16)
        self.lin = torch.nn.Linear(16, 16)
        self.head = torch.nn.Linear(16, 32, bias=False)
        self.head.weight = self.embed.weight  # tied, as language models tie embedding and LM head
        self.register_buffer("scale", torch.tensor([0.5, 2.0]))  # 8 bytes: below LIFT_BYTES
        self.register_buffer("table", torch.linspace(-1, 1, 64).reshape(4, 16), persistent=False)

    def forward(self, ids, state):
        x = torch.tanh(self.lin(self.embed(ids)) + self.table[ids % 4]) * self.scale[0]
        return {"logits": self.head(x), "state": state + x.sum()}


def _net():
    torch.manual_seed(0)
    return Net().eval()


SIGS = {"prefill": (torch.tensor([[1, 2, 3, 4]]), torch.zeros(2)), "decode": (torch.tensor([[5]]), torch.ones(2))}


def test_export_lifted_keeps_the_weights_as_arguments_over_torch_memory():
    net = _net()
    lifted = ft.export_lifted(net, *SIGS["prefill"])
    names = [n for n, _ in lifted.weights]
    # the tied head is the embedding, by name; `scale` stays a literal
    assert names == ["embed.weight", "lin.weight", "lin.bias", "embed.weight", "table"]
    params = dict(net.named_parameters()) | dict(net.named_buffers())
    for name, array in lifted.weights:
        assert np.shares_memory(array, params[name].detach().numpy()), name  # a view, not a copy
    module = ir.parse(lifted.code)
    assert len(numerics.signature(module)) == 5 + 2  # the weights, then ids and state
    assert len(lifted.code) < sum(a.nbytes for _, a in lifted.weights)  # no weight bytes in the module
    assert "dense_resource<torch_tensor_2_torch.float32>" in ir.to_text(module)  # the small buffer


def test_from_torch_binds_each_weight_once_by_reference():
    net = _net()
    module = from_torch(net, SIGS)
    stats = weight_stats(module)
    distinct = {id(p) for p in net.parameters()}
    weight_bytes = sum(p.numel() * 4 for p in net.parameters()) + net.table.numel() * 4
    assert len(distinct) == 3 and stats["distinct"] == 4 and stats["bytes"] == weight_bytes
    assert stats["constants"] == 8  # each of the 4 used by both signatures
    for key, (ids, state) in SIGS.items():
        with torch.no_grad():
            want = net(ids, state)
        got = numerics.execute(select_signature(module, key), [ids.numpy(), state.numpy()])
        np.testing.assert_allclose(got[0], want["logits"].numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got[1], want["state"].numpy(), rtol=1e-5, atol=1e-5)
    # the blob IS the parameter's memory: a write to the model shows through (documented: export again after
    # changing the model)
    with torch.no_grad():
        net.lin.weight.add_(1.0)
    found = []
    ir.as_operation(module).walk(lambda op: (found.append(op) if op.name == "stablehlo.constant" and
                                             str(op.attributes["value"]).startswith("dense_resource<lin.weight>")
                                             else None) or ir.mlir.WalkResult.ADVANCE)
    assert found and all(np.array_equal(ir.to_numpy(op.attributes["value"]), net.lin.weight.detach().numpy())
                         for op in found)


def test_the_check_compiles_once_for_all_signatures(monkeypatch):
    calls = []
    real = numerics.execute

    def counting(module, inputs=None, **kwargs):
        calls.append([np.asarray(x).shape for x in inputs])
        return real(module, inputs, **kwargs)

    monkeypatch.setattr(numerics, "execute", counting)
    from_torch(_net(), SIGS)
    assert len(calls) == 1  # one XLA compile and run for both signatures
    # the four weights once, then prefill's ids and state, then decode's
    assert calls[0] == [(32, 16), (16, 16), (16,), (4, 16), (1, 4), (2,), (1, 1), (2,)]


def _negative_index_model():
    class NegativeIndex(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.linspace(0, 1, 20).reshape(4, 5))

        def forward(self, x):
            return x[..., [-2], :] * self.w + 1

    return NegativeIndex().eval()


def test_from_torch_check_still_refuses_a_wrong_export(monkeypatch):
    from hlo_passes.frontends import torch_fixes

    model = _negative_index_model()
    sigs = {"a": (torch.randn(2, 3, 4, 5),), "b": (torch.randn(1, 3, 4, 5),)}
    good = from_torch(model, sigs)  # repaired: the check passes
    x = sigs["b"][0]
    np.testing.assert_allclose(numerics.execute(select_signature(good, "b"), [x.numpy()])[0],
                               model(x).detach().numpy(), rtol=1e-6)
    monkeypatch.setattr(torch_fixes, "fix_negative_gather_indices", lambda module: 0)  # torch-mlir's own output
    with pytest.raises(HloError, match=r"export of NegativeIndex \(signature 'a'\) disagrees with torch .* output 0 "
                                       r"is off by .*from_torch\(\.\.\., check=False\) skips this check"):
        from_torch(model, sigs)
    assert weight_stats(from_torch(model, sigs, check=False))["distinct"] == 1


def test_export_torch_checks_with_weights_as_arguments_then_binds_them():
    model = _negative_index_model()
    x = torch.randn(2, 3, 4, 5)
    text = ft.export_torch(model, x)
    assert "dense_resource<w>" in text and "func.func @main(%arg0: tensor<2x3x4x5xf32>)" in text
    (out,) = numerics.execute(ir.parse(text), [x.numpy()])
    np.testing.assert_allclose(out, model(x).detach().numpy(), rtol=1e-6)


def test_worker_messages_carry_arrays_out_of_band():
    """`worker_messages.send` writes arrays from their own memory after a small pickle: no pickled copy of the weights
    in the sender; `_receive` rebuilds them."""
    big = np.arange(1 << 18, dtype=np.float32).reshape(512, 512)
    stream = io.BytesIO()
    wm.send(stream, (b"code", [[big, np.int64(3)]]))
    raw = stream.getvalue()
    assert len(raw) < big.nbytes + 1024  # one copy of the array's bytes in the stream, not two
    stream.seek(0)
    code, sets = wm.receive(lambda n: wm.read_into(stream, n))
    assert code == b"code" and np.array_equal(sets[0][0], big) and sets[0][1] == 3
    assert sets[0][0].flags.writeable
    assert wm.receive(lambda n: wm.read_into(io.BytesIO(raw[:100]), n)) is None  # cut short: None


def test_equal_weights_share_one_blob_and_a_fingerprint_collision_does_not():
    """Sharing by content: two Parameters of equal bytes become one blob; one that differs only in bytes the
    sampled fingerprint skips (1.5 vs 1.0 differ in the third byte of the f32) stays its own."""

    class Three(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Parameter(torch.ones(64, 64))
            self.b = torch.nn.Parameter(torch.ones(64, 64))
            self.b.data[1, 1] = 1.5
            self.c = torch.nn.Parameter(torch.ones(64, 64))

        def forward(self, x):
            return x @ self.a + 2 * (x @ self.b) + 3 * (x @ self.c)

    from hlo_passes.frontends.signatures import _fingerprint

    model = Three().eval()
    as_bytes = [p.detach().numpy().view(np.uint8).reshape(-1) for p in (model.a, model.b)]
    assert _fingerprint(as_bytes[0]) == _fingerprint(as_bytes[1])  # the collision the full hash must settle
    x = torch.randn(2, 64)
    module = from_torch(model, {"main": (x,)})
    stats = weight_stats(module)
    assert stats["constants"] == 3 and stats["distinct"] == 2
    (got,) = numerics.execute(module, [x.numpy()])
    np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=1e-5, atol=1e-4)


def test_constants_a_forward_creates_keep_each_signature_its_own():
    """torch.export names a tensor the forward creates `lifted_tensor_0` in every export, whatever its value: the
    second signature's is renamed, not bound to the first's (the check caught that as a wrong export)."""

    class Shaped(torch.nn.Module):
        def forward(self, x):
            return x * torch.tensor([float(x.shape[0])] * 16)

    sigs = {"two": (torch.ones(2, 16),), "three": (torch.ones(3, 16),)}
    module = from_torch(Shaped().eval(), sigs)
    for key, (x,) in sigs.items():
        (got,) = numerics.execute(select_signature(module, key), [x.numpy()])
        np.testing.assert_array_equal(got, np.full((x.shape[0], 16), x.shape[0], np.float32))
    assert weight_stats(module)["distinct"] == 2


def test_no_weight_goes_through_tolist(monkeypatch):
    """torch-mlir makes a literal from `tensor.tolist()` (a Python float per element: what made the old export slow
    and large); lifted weights never reach it."""
    real = torch.Tensor.tolist

    def guarded(self):
        assert self.numel() * self.element_size() < ft.LIFT_BYTES, f"tolist of a {list(self.shape)} tensor"
        return real(self)

    monkeypatch.setattr(torch.Tensor, "tolist", guarded)
    module = from_torch(_net(), SIGS)
    assert weight_stats(module)["distinct"] == 4
