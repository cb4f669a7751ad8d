"""The backend half at scale (issue 12): passes after export, legalize-tflite and the writer must never copy or
print a weight they do not change. Timings are in bench/llm.py; these tests pin the structural facts that kept
(or would break) the linear cost: which reads happen, how many copies of a weight exist, what gets printed."""

import numpy as np
import pytest

from hlo_passes import ir
from hlo_passes.ir import constants, mlir
from hlo_passes.patterns import quant


def _module(body: str, args: str, result: str) -> mlir.Module:
    return ir.parse(f"func.func @main({args}) -> {result} {{\n{body}\n}}")


class _Recording:
    """Stands in for the bindings module inside `ir.constants`: the dense attribute classes record every cast
    that fails (a failed cast prints the whole attribute into its exception message)."""

    def __init__(self, real, failures: list):
        self._real, self._failures = real, failures

    def __getattr__(self, name):
        value = getattr(self._real, name)
        if name not in ("DenseFPElementsAttr", "DenseIntElementsAttr"):
            return value

        def cast(attr):
            try:
                return value(attr)
            except ValueError:
                self._failures.append(name)
                raise
        return cast



def _count_reads(monkeypatch, size: int, what: str) -> list:
    """Every `ir.to_numpy` read of at least `size` elements from now on, as the array's `what` (dtype or
    shape): how the tests see that a stage reads a weight, and how often."""
    reads = []
    real = ir.to_numpy

    def counting(attr, **kwargs):
        array = real(attr, **kwargs)
        if array.size >= size:
            reads.append(getattr(array, what))
        return array

    monkeypatch.setattr(ir, "to_numpy", counting)
    return reads

def test_reading_an_int8_weight_attribute_tries_no_failing_cast(monkeypatch):
    """`op.attributes["value"]` of an int8 weight went through a DenseFPElementsAttr cast that failed, and the
    failure's message held the weight printed in hex: 3.5 s of inline-calls and 8 s of legalize-tflite on the
    int8 8x1024 model. The caster now picks the class from the element type."""
    values = np.random.default_rng(0).integers(-127, 128, (64, 64)).astype(np.int8)
    floats = np.random.default_rng(1).standard_normal((8, 8)).astype(np.float32)
    ctx = ir.make_context()
    with ctx, mlir.Location.unknown():
        module = _module("%q = stablehlo.constant dense<0> : tensor<64x64xi8>\n"
                         "%f = stablehlo.constant dense<0.0> : tensor<8x8xf32>\n"
                         "return %q, %f : tensor<64x64xi8>, tensor<8x8xf32>", "", "(tensor<64x64xi8>, tensor<8x8xf32>)")
        block = ir.as_operation(module).regions[0].blocks[0].operations[0].regions[0].blocks[0]
        ops = list(block.operations)
        ops[0].attributes["value"] = ir.from_numpy(values)
        ops[1].attributes["value"] = ir.from_numpy(floats)
        failures: list = []
        monkeypatch.setattr(constants, "mlir", _Recording(mlir, failures))
        int_attr, float_attr = ops[0].attributes["value"], ops[1].attributes["value"]
        monkeypatch.undo()
        assert failures == []
        assert isinstance(int_attr, mlir.DenseIntElementsAttr) and isinstance(float_attr, mlir.DenseFPElementsAttr)
        np.testing.assert_array_equal(ir.to_numpy(int_attr), values)
        np.testing.assert_array_equal(ir.to_numpy(float_attr), floats)


def _whole_quantize(w, axis):
    """The whole-array formula the slab-wise quantize must equal exactly."""
    if axis is None:
        scale = quant._scales(np.abs(w).max(initial=0.0))
        return np.clip(np.rint(w / scale), -quant.QMAX, quant.QMAX).astype(np.int8), scale
    others = tuple(d for d in range(w.ndim) if d != axis)
    scale = quant._scales(np.abs(w).max(axis=others, initial=0.0))
    shape = [-1 if d == axis else 1 for d in range(w.ndim)]
    return np.clip(np.rint(w / scale.reshape(shape)), -quant.QMAX, quant.QMAX).astype(np.int8), scale


@pytest.mark.parametrize("shape", [(7, 5), (300, 3), (1, 9), (4, 3, 6), (0, 4), (5, 0)])
def test_slab_wise_quantize_and_error_equal_the_whole_array_formulas(monkeypatch, shape):
    """quantize and relative_error work in slabs of rows so that an LM head never has float32/float64 copies of
    itself made at once; with slabs of 4 elements (most weights here span several) they give exactly what the
    whole-array formulas give."""
    monkeypatch.setattr(quant, "_SLAB", 4)
    rng = np.random.default_rng(len(shape) * 10 + shape[0])
    w = (rng.standard_normal(shape) * rng.uniform(0.1, 10, shape[-1:])).astype(np.float32)
    for axis in [None, *range(w.ndim)]:
        q = quant.quantize(w, axis)
        values, scale = _whole_quantize(w, axis)
        np.testing.assert_array_equal(q.values, values)
        np.testing.assert_array_equal(q.scale, scale)
        whole = np.asarray(w, np.float64)
        norm = np.linalg.norm(whole)
        expect = float(np.linalg.norm(whole - q.dequantize()) / norm) if norm else 0.0
        assert quant.relative_error(w, q) == pytest.approx(expect, rel=1e-5, abs=1e-12)
    if w.ndim == 2 and w.size:  # int4 blocks along either axis
        for block_axis in (0, 1):
            if w.shape[block_axis] % 3 == 0:
                b = quant.quantize_blockwise(w, block_axis, 3)
                expect = np.linalg.norm(w.astype(np.float64) - b.dequantize()) / np.linalg.norm(w.astype(np.float64))
                assert quant.relative_error(w, b) == pytest.approx(expect, rel=1e-5)


def test_quantize_refuses_non_finite_weights_in_any_slab(monkeypatch):
    monkeypatch.setattr(quant, "_SLAB", 4)
    w = np.ones((10, 2), np.float32)
    w[9, 1] = np.nan
    with pytest.raises(ValueError, match="inf or NaN"):
        quant.quantize(w, 0)


_READ_DTYPES = [(np.float32, (257, 33)), (np.int8, (5,)), (np.float16, (3, 1, 7))]


@pytest.mark.parametrize("dtype,shape", _READ_DTYPES)
def test_a_parsed_resource_weight_is_read_with_one_copy(dtype, shape):
    """Reading a dense_resource weight that came from a file (the bindings give no view of its blob) keeps the
    single chunk the bytecode writer hands over: the array's memory is a `bytes` object of exactly the
    weight's size, no second buffer."""
    rng = np.random.default_rng(3)
    values = (rng.standard_normal(shape) * 50).astype(dtype)
    with ir.make_context() as made, mlir.Location.unknown():
        module = ir.parse("func.func @main() -> () {\n  return\n}", context=made)
        with mlir.InsertionPoint.at_block_begin(ir.module_ops(module)[0].regions[0].blocks[0]):
            ir.stablehlo.ConstantOp(ir.from_numpy(values, resource="w"))
        data = ir.to_bytecode(module)
    with ir.make_context() as ctx:  # a new context: the blob is the file's, not an array of this process
        (op,) = ir.ops_named(ir.parse(data, context=ctx), "stablehlo.constant")
        back = ir.to_numpy(op.attributes["value"])
        np.testing.assert_array_equal(back, values)
        assert not back.flags.writeable
        base = back
        while isinstance(base, np.ndarray):
            base = base.base
        assert isinstance(base, memoryview) and isinstance(base.obj, bytes) and len(base.obj) == values.nbytes


@pytest.mark.parametrize("dtype,shape", [*_READ_DTYPES, (np.bool_, (4, 2))])
def test_a_resource_weight_made_over_an_array_is_read_as_that_array(dtype, shape):
    """A blob `from_numpy(resource=...)` made over an array (the torch front end's weights, folded constants)
    is that array's memory: reading it back is a read-only view of the array, not a copy through bytecode
    (the 8x1024 LM head's copy was 0.21x the weight bytes of transient peak in the writer and in quantize).
    Two blobs asked for under one name are two arrays (MLIR renames the second), and the view follows the
    array: the blob is that memory."""
    rng = np.random.default_rng(4)
    values = (rng.standard_normal(shape) * 50).astype(dtype)
    other = (rng.standard_normal(shape) * 50 + 1).astype(dtype)
    with ir.make_context(), mlir.Location.unknown():
        attr, second = ir.from_numpy(values, resource="w"), ir.from_numpy(other, resource="w")
        back, back2 = ir.to_numpy(attr), ir.to_numpy(second, copy=False)
        assert np.shares_memory(back, values) and np.shares_memory(back2, other)
        assert not back.flags.writeable and back.shape == values.shape and back.dtype == values.dtype
        np.testing.assert_array_equal(back2, other)
        with pytest.raises(ValueError):
            back[...] = back  # read-only: nobody writes a weight through a read
        np.testing.assert_array_equal(ir.to_numpy(attr), values)


def test_a_blob_of_another_context_is_not_taken_for_an_array_of_this_one():
    """The arrays are looked up by context and blob name: the same name in another context (a parsed copy of
    the module, or a new module after the first context died) is read from its own blob."""
    import gc

    first = np.arange(8, dtype=np.float32)
    with ir.make_context() as made, mlir.Location.unknown():
        module = ir.parse("func.func @main() -> () {\n  return\n}", context=made)
        with mlir.InsertionPoint.at_block_begin(ir.module_ops(module)[0].regions[0].blocks[0]):
            ir.stablehlo.ConstantOp(ir.from_numpy(first, resource="w"))
        data = ir.to_bytecode(module)
    del module, made
    gc.collect()
    assert not any(a is first for arrays in constants._BACKING.values() for a in arrays.values())  # gone with it
    with ir.make_context() as ctx, mlir.Location.unknown():
        ir.from_numpy(np.zeros(8, np.float32), resource="unrelated")
        (op,) = ir.ops_named(ir.parse(data, context=ctx), "stablehlo.constant")
        back = ir.to_numpy(op.attributes["value"])
        np.testing.assert_array_equal(back, first)
        assert not np.shares_memory(back, first)


_FC = """func.func @main(%x: tensor<2x256xf32>) -> tensor<2x512xf32> {
  %w = stablehlo.constant dense<0.0> : tensor<512x256xf32>
  %y = stablehlo.dot_general %x, %w, contracting_dims = [1] x [1] : (tensor<2x256xf32>, tensor<512x256xf32>)
       -> tensor<2x512xf32>
  return %y : tensor<2x512xf32>
}"""


def test_int8_weight_is_written_once_and_read_once_at_write_time(monkeypatch, tmp_path):
    """quantize-int8-dynamic makes the int8 weight's attribute once; legalize-tflite hands that attribute to the
    hybrid FULLY_CONNECTED as it is (no read, no copy: a [N, K] weight needs no layout change), the exporter
    does not read it, and the writer reads it exactly once, when it streams it into the file. The file then runs
    in LiteRT with the quantized weight's numbers."""
    import hlo_passes as hp
    from hlo_passes.tflite import ops as T
    from hlo_passes.tflite.export import export
    from hlo_passes.tflite.runtime import TFLiteModel

    rng = np.random.default_rng(5)
    w = rng.standard_normal((512, 256)).astype(np.float32)
    x = rng.standard_normal((2, 256)).astype(np.float32)
    ctx = ir.make_context()
    with ctx, mlir.Location.unknown():
        module = ir.parse(_FC, context=ctx)
        ir.ops_named(module, "stablehlo.constant")[0].attributes["value"] = ir.from_numpy(w)
        hp.run(module, "quantize-int8-dynamic", inplace=True)
        (q_attr,) = [op.attributes["value"] for op in ir.ops_named(module, "stablehlo.constant")
                     if ir.np_dtype(mlir.RankedTensorType(op.result.type).element_type) == np.int8]
        reads, viewed = [], []
        real = ir.to_numpy

        def counting(attr, **kwargs):
            array = real(attr, **kwargs)
            if array.size >= w.size:
                reads.append(array.dtype)
                viewed.append(not array.flags.owndata and not array.flags.writeable)
            return array
        monkeypatch.setattr(ir, "to_numpy", counting)
        hp.run(module, "legalize-tflite", inplace=True)
        assert reads == []
        (qconst,) = ir.ops_named(module, T.QCONST)
        assert qconst.attributes["value"] == q_attr  # the pass's own attribute, not a copy
        writer = export(module)
        assert reads == []
        writer.write(tmp_path / "fc.tflite")
        assert reads == [np.int8]
        assert viewed == [True]  # streamed from the attribute's own storage, not a copy of it
        monkeypatch.undo()
        values, scale, _ = T.qconst_parts(qconst.result)
    (out,) = TFLiteModel(tmp_path / "fc.tflite", xnnpack=False).run(None, x).values()
    expect = x @ (values.astype(np.float32) * scale[:, None]).T
    np.testing.assert_allclose(out, expect, rtol=0.02, atol=0.02 * np.abs(expect).max())


_LM_HEAD = """func.func @main(%x: tensor<2x256xf32>) -> tensor<2x512xf32> {
  %w = stablehlo.constant dense<0.0> : tensor<512x256xf32>
  %t = stablehlo.transpose %w, dims = [1, 0] : (tensor<512x256xf32>) -> tensor<256x512xf32>
  %y = stablehlo.dot_general %x, %t, contracting_dims = [1] x [0] : (tensor<2x256xf32>, tensor<256x512xf32>)
       -> tensor<2x512xf32>
  return %y : tensor<2x512xf32>
}"""


def test_float_weight_behind_a_transpose_is_not_read_before_the_write(monkeypatch, tmp_path):
    """An LM head used as [d, vocab] through a transpose too big to fold: legalize-tflite and its clean-up
    (which asked every constant for its elements before checking their count) never read it; the writer
    reads it once. LiteRT computes x . W^T with it."""
    import hlo_passes as hp
    from hlo_passes.tflite.export import export
    from hlo_passes.tflite.runtime import TFLiteModel

    rng = np.random.default_rng(6)
    w = rng.standard_normal((512, 256)).astype(np.float32)
    x = rng.standard_normal((2, 256)).astype(np.float32)
    ctx = ir.make_context()
    with ctx, mlir.Location.unknown():
        module = ir.parse(_LM_HEAD, context=ctx)
        ir.ops_named(module, "stablehlo.constant")[0].attributes["value"] = ir.from_numpy(w, resource="head")
        reads = _count_reads(monkeypatch, w.size, "dtype")
        hp.run(module, "legalize-tflite", inplace=True)
        writer = export(module)
        assert reads == []
        writer.write(tmp_path / "head.tflite")
        assert reads == [np.float32]
        monkeypatch.undo()
    (out,) = TFLiteModel(tmp_path / "head.tflite", xnnpack=False).run(None, x).values()
    np.testing.assert_allclose(out, x @ w.T, rtol=1e-5, atol=1e-4)


def _two_signatures(weight: tuple[int, int], contracting: int, rows: int) -> str:
    """prefill ([rows, K]) and decode ([1, K]) each holding a constant weight of shape `weight` (placeholder
    zeros: the tests put the real blob in), contracted on its axis `contracting`."""
    k, n = weight[contracting], weight[1 - contracting]
    w = f"tensor<{weight[0]}x{weight[1]}xf32>"
    return "\n".join(
        f"""func.func @{name}(%x: tensor<{r}x{k}xf32>) -> tensor<{r}x{n}xf32> {{
  %w = stablehlo.constant dense<0.0> : {w}
  %y = stablehlo.dot_general %x, %w, contracting_dims = [1] x [{contracting}] : (tensor<{r}x{k}xf32>, {w})
       -> tensor<{r}x{n}xf32>
  return %y : tensor<{r}x{n}xf32>
}}""" for name, r in (("prefill", rows), ("decode", 1)))


_TWO_SIGNATURES = _two_signatures((512, 256), 1, rows=4)


def test_a_weight_shared_by_two_signatures_is_read_and_quantized_once(monkeypatch):
    """Prefill and decode hold a constant each of the same blob: quantize-int8-dynamic reads and quantizes it
    once (it did it per use: twice the time on the 8x1024 model), and both signatures get the same int8
    attribute. Each signature still computes x . dequant(q)^T on XLA."""
    import hlo_passes as hp
    from hlo_passes import numerics
    from hlo_passes.frontends.signatures import select_signature

    rng = np.random.default_rng(7)
    w = rng.standard_normal((512, 256)).astype(np.float32)
    ctx = ir.make_context()
    with ctx, mlir.Location.unknown():
        module = ir.parse(_TWO_SIGNATURES, context=ctx)
        shared = ir.from_numpy(w, resource="w")
        for op in ir.ops_named(module, "stablehlo.constant"):
            op.attributes["value"] = shared
        reads = _count_reads(monkeypatch, w.size, "dtype")
        hp.run(module, "quantize-int8-dynamic", inplace=True)
        monkeypatch.undo()
        assert reads == [np.float32]
        int8 = [op.attributes["value"] for op in ir.ops_named(module, "stablehlo.constant")
                if ir.np_dtype(mlir.RankedTensorType(op.result.type).element_type) == np.int8]
        assert len(int8) == 2 and int8[0] == int8[1]
        q = ir.to_numpy(int8[0])
        (scale,) = {ir.to_numpy(op.attributes["value"]).tobytes() for op in ir.ops_named(module, "stablehlo.constant")
                    if mlir.RankedTensorType(op.result.type).shape == [512]}
        dequant = q.astype(np.float32) * np.frombuffer(scale, np.float32)[:, None]
        for name, rows in (("prefill", 4), ("decode", 1)):
            x = rng.standard_normal((rows, 256)).astype(np.float32)
            (out,) = numerics.execute(select_signature(module, name), [x])
            np.testing.assert_allclose(out, x @ dequant.T, rtol=1e-4, atol=1e-4)


def test_relative_error_of_huge_weights_does_not_overflow(monkeypatch):
    """Squares of weights near float32's top overflow in float32: those slabs are summed in float64."""
    monkeypatch.setattr(quant, "_SLAB", 8)
    w = np.random.default_rng(8).standard_normal((6, 5)).astype(np.float32) * np.float32(3e37)
    q = quant.quantize(w, 0)
    whole = w.astype(np.float64)
    expect = np.linalg.norm(whole - q.dequantize().astype(np.float64)) / np.linalg.norm(whole)
    assert quant.relative_error(w, q) == pytest.approx(expect, rel=1e-5)


def test_wrapping_tfl_ops_does_not_search_for_a_dialect_module(monkeypatch):
    """MLIR's bindings look for a Python module of an op's dialect each time they wrap an op, and remember only
    the searches that succeed: every `value.owner` of a tfl op was a failed import. After `allow` the search
    succeeds once (an empty placeholder module) and is never repeated."""
    import builtins

    from hlo_passes.tflite import ops as T

    ctx = ir.make_context()
    with ctx, mlir.Location.unknown():
        T.allow(ctx)
        values = [T.const(np.full(3, i, np.float32)) for i in range(3)]
        T.producer(values[0])  # the first wrap may import the placeholder
        searched = []
        real = builtins.__import__

        def recording(name, *args, **kwargs):
            if name.endswith(f".{T.DIALECT}") or name == T.DIALECT:
                searched.append(name)
            return real(name, *args, **kwargs)
        monkeypatch.setattr(builtins, "__import__", recording)
        names = [T.producer(v).name for v in values * 20]
        monkeypatch.undo()
    assert names == [T.CONST] * 60
    assert searched == []


_KN = _two_signatures((256, 512), 0, rows=3)


@pytest.mark.parametrize("resource", [True, False])
def test_a_kn_weight_is_transposed_by_the_writer_not_copied_in_the_module(monkeypatch, tmp_path, resource):
    """A [K, N] weight (JAX's Dense layout; optimize's folded transposes, one blob per signature) under a
    FULLY_CONNECTED, which wants [N, K]: legalize-tflite leaves the module's one copy and marks the constant
    `hlo.transposed`; the exporter reads it to share equal bytes (the two signatures' blobs are one buffer) and
    the writer transposes it while streaming. The file holds the weight once; LiteRT computes x . W for both."""
    import hlo_passes as hp
    from hlo_passes.tflite import ops as T
    from hlo_passes.tflite.export import export
    from hlo_passes.tflite.runtime import TFLiteModel

    rng = np.random.default_rng(9)
    w = rng.standard_normal((256, 512)).astype(np.float32)
    ctx = ir.make_context()
    with ctx, mlir.Location.unknown():
        module = ir.parse(_KN, context=ctx)
        attrs = [ir.from_numpy(w.copy(), resource=f"w{i}") if resource else ir.from_numpy(w) for i in range(2)]
        for op, attr in zip(ir.ops_named(module, "stablehlo.constant"), attrs):
            op.attributes["value"] = attr
        reads = _count_reads(monkeypatch, w.size, "shape")
        hp.run(module, "legalize-tflite", inplace=True)
        assert reads == []
        weights = [op for op in ir.ops_named(module, T.CONST) if T.is_transposed(op)]
        assert [op.attributes["value"] for op in weights] == attrs  # the module's own weights, no copies
        assert all(list(mlir.RankedTensorType(op.result.type).shape) == [512, 256] for op in weights)
        writer = export(module)
        assert reads == [(256, 512)] * 2  # hashed (the two blobs are one buffer)
        writer.write(tmp_path / "kn.tflite")
        assert reads == [(256, 512)] * 3  # and streamed once
        monkeypatch.undo()
    assert (tmp_path / "kn.tflite").stat().st_size < 1.5 * w.nbytes
    model = TFLiteModel(tmp_path / "kn.tflite", xnnpack=False)
    for name, rows in (("prefill", 3), ("decode", 1)):
        x = rng.standard_normal((rows, 256)).astype(np.float32)
        (out,) = model.run(name, x).values()
        np.testing.assert_allclose(out, x @ w, rtol=1e-5, atol=1e-4)


def test_an_int8_kn_weight_is_transposed_by_the_writer(monkeypatch, tmp_path):
    """The same for quantize-int8-dynamic's int8 [K, N] weights: the hybrid FULLY_CONNECTED's `tfl.pseudo_qconst`
    keeps the pass's attribute (scales along the tensor's axis 0), legalize-tflite reads nothing, the writer
    transposes. LiteRT's result is x . dequant(q) within the hybrid kernel's error."""
    import hlo_passes as hp
    from hlo_passes.tflite import ops as T
    from hlo_passes.tflite.export import export
    from hlo_passes.tflite.runtime import TFLiteModel

    rng = np.random.default_rng(10)
    w = rng.standard_normal((256, 512)).astype(np.float32)
    x = rng.standard_normal((1, 256)).astype(np.float32)
    ctx = ir.make_context()
    with ctx, mlir.Location.unknown():
        module = ir.parse(_KN, context=ctx)
        for op in ir.ops_named(module, "stablehlo.constant"):
            op.attributes["value"] = ir.from_numpy(w, resource="w")
        hp.run(module, "quantize-int8-dynamic", inplace=True)
        reads = _count_reads(monkeypatch, w.size, "dtype")
        hp.run(module, "legalize-tflite", inplace=True)
        assert reads == []
        qconsts = ir.ops_named(module, T.QCONST)
        assert qconsts and all(T.is_transposed(op) for op in qconsts)
        values, scale, axis = T.qconst_parts(qconsts[0].result)  # the tensor's view: [N, K], scales along 0
        assert values.shape == (512, 256) and axis == 0 and T.qconst_attrs(qconsts[0].result) is None
        export(module).write(tmp_path / "kn8.tflite")
        monkeypatch.undo()
    expect = x @ (values.astype(np.float32) * scale[:, None]).T
    (out,) = TFLiteModel(tmp_path / "kn8.tflite", xnnpack=False).run("decode", x).values()
    np.testing.assert_allclose(out, expect, rtol=0.02, atol=0.02 * np.abs(expect).max())
    assert np.abs(out - x @ w).max() < 0.05 * np.abs(x @ w).max()


def test_freed_heap_goes_back_to_the_system():
    """`heap.release_freed_heap` (after `from_torch` and after every write): the garbage of malloc'd
    mid-sized objects that glibc keeps resident below a live allocation leaves the RSS."""
    import gc

    from hlo_passes.heap import release_freed_heap
    from hlo_passes.progress import rss_bytes

    garbage = [bytearray(4000) for _ in range(12_000)]  # ~48 MB of malloc'd (not pymalloc) blocks, touched
    pin = bytearray(4000)  # above them: free() alone cannot shrink the heap's top
    del garbage
    gc.collect()
    before = rss_bytes()
    assert release_freed_heap()
    assert before - rss_bytes() > 30 * 2**20
    del pin


def test_the_flatbuffer_is_written_from_the_builder_without_copies(tmp_path):
    """The writer packs the model twice (to learn the flatbuffer's length, then with the weights' offsets):
    the second builder starts at that length (no doubling) and the file gets a view of its buffer, not
    `bytes(builder.Output())` (two more copies). The file still loads, with the big weight after the tables."""
    from hlo_passes.tflite.runtime import TFLiteModel
    from hlo_passes.tflite.writer import ModelWriter

    rng = np.random.default_rng(8)
    big = rng.standard_normal((256, 128)).astype(np.float32)  # external (>= 64 KB)
    w = ModelWriter()
    sg = w.subgraph("main")
    x = sg.tensor([1, 128], np.float32, "x")
    out, biases = x, rng.standard_normal((40, 128)).astype(np.float32)
    for i, b in enumerate(biases):  # tables and small inline weights: a flatbuffer of some size
        y = sg.tensor([1, 128], np.float32, f"y{i}")
        sg.op("ADD", [out, sg.constant(b, f"b{i}")], [y])
        out = y
    z = sg.tensor([1, 256], np.float32, "z")
    sg.op("FULLY_CONNECTED", [out, sg.constant(big, "w"), -1], [z])
    sg.inputs, sg.outputs = [x], [z]
    w.signature("main", sg, {"x": x}, {"z": z})
    head = next(w.chunks())
    assert isinstance(head, memoryview) and len(head.obj) < len(head) + 4096
    w.write(tmp_path / "m.tflite")
    xv = rng.standard_normal((1, 128)).astype(np.float32)
    (got,) = TFLiteModel(tmp_path / "m.tflite", xnnpack=False).run("main", x=xv).values()
    np.testing.assert_allclose(got, (xv + biases.sum(0)) @ big.T, rtol=1e-4, atol=1e-3)
