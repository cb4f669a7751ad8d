"""hlo_passes.ir: the three input formats, saving without mutation, atomic writes, constants <-> numpy."""

import ml_dtypes
import numpy as np
import pytest
from conftest import EXAMPLES, func
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.ir import mlir

RESOURCE_MODULE = func(
    "  %c = stablehlo.constant dense_resource<weights> : tensor<2x2xf32>\n"
    "  %0 = stablehlo.add %a, %c : tensor<2x2xf32>\n  return %0 : tensor<2x2xf32>",
    "%a: tensor<2x2xf32>", "tensor<2x2xf32>") + """
{-#
  dialect_resources: {
    builtin: {
      weights: "0x040000000000803F000000400000404000008040"
    }
  }
#-}
"""


def constants(module):
    found = []
    ir.as_operation(module).walk(
        lambda op: (found.append(op) if op.name == "stablehlo.constant" else None) or mlir.WalkResult.ADVANCE)
    return found


def test_three_formats_load_to_the_same_module():
    module = ir.load(EXAMPLES / "attention.mlir")
    text = ir.to_text(module)
    for name in ("attention.vhlo", "attention.jax_exported"):  # jax.export lowers a little differently
        assert numerics.check_same(module, ir.load(EXAMPLES / name), isolate=False), name
    data = (EXAMPLES / "attention.mlir").read_bytes()
    assert ir.to_text(ir.load(data)) == text  # bytes in memory parse the same as the file


@pytest.mark.parametrize("fmt", ["text", "bytecode", "portable"])
def test_save_round_trips_and_never_mutates(fmt, tmp_path):
    module = ir.load(EXAMPLES / "attention.mlir")
    before = ir.to_text(module)
    path = tmp_path / f"out.{fmt}"
    ir.save(module, path, format=fmt)
    assert ir.to_text(module) == before  # portable serialization rewrites to VHLO in place: not ours
    again = ir.load(path)
    assert "vhlo." not in ir.to_text(again)
    assert numerics.check_same(module, again, isolate=False)


def test_portable_target_versions():
    module = ir.load(EXAMPLES / "attention.mlir")
    oldest = ir.save(module, format="portable", target_version="minimum")
    assert oldest.startswith(b"ML\xefR") and b"StableHLO_v" in oldest[:32]
    with pytest.raises(hp.HloError, match="outside what this build can write"):
        ir.save(module, format="portable", target_version="0.0.1")


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.mlir"
    target.write_text("old contents")
    with pytest.raises(hp.HloError, match="unknown output format"):
        ir.save(ir.load(EXAMPLES / "attention.mlir"), target, format="nonsense")
    assert target.read_text() == "old contents"
    with pytest.raises(hp.HloError, match="no such directory"):
        ir.save(ir.load(EXAMPLES / "attention.mlir"), tmp_path / "missing" / "x.mlir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mlir"]


def test_parse_errors_carry_file_line_col(tmp_path):
    bad = tmp_path / "bad.mlir"
    bad.write_text(func("  %0 = stablehlo.bogus %a : tensor<4xf32>\n  return %0 : tensor<4xf32>",
                        "%a: tensor<4xf32>", "tensor<4xf32>"))
    with pytest.raises(hp.HloError) as info:
        ir.load(bad)
    assert str(info.value.loc) == f"{bad}:2:8"
    assert "stablehlo.bogus" in info.value.message
    with pytest.raises(hp.HloError) as info:
        ir.parse(bad.read_bytes(), filename="given-name.mlir")
    assert str(info.value.loc) == "given-name.mlir:2:8"


def test_dense_resource_reads_as_data():
    module = ir.parse(RESOURCE_MODULE)
    (const,) = constants(module)
    np.testing.assert_array_equal(ir.to_numpy(const.attributes["value"]), [[1, 2], [3, 4]])
    copy = ir.clone(module)
    assert ir.inline_resources(copy) == 1
    assert "dense_resource" not in ir.to_text(copy) and "dense_resource" in ir.to_text(module)
    out = numerics.execute(module, [np.ones((2, 2), np.float32)], isolate=False)
    np.testing.assert_array_equal(out[0], [[2, 3], [4, 5]])


def test_resource_weights_survive_bytecode(tmp_path):
    module = ir.parse(RESOURCE_MODULE)
    ir.save(module, tmp_path / "m.mlirbc", format="bytecode")
    (const,) = constants(ir.load(tmp_path / "m.mlirbc"))
    np.testing.assert_array_equal(ir.to_numpy(const.attributes["value"]), [[1, 2], [3, 4]])


DTYPES = [np.float32, np.float64, np.float16, ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2,
          np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64, np.bool_, np.complex64,
          np.complex128, ml_dtypes.int4, ml_dtypes.int2, ml_dtypes.uint2, ml_dtypes.float4_e2m1fn,
          ml_dtypes.float8_e8m0fnu, ml_dtypes.float8_e4m3, ml_dtypes.float8_e3m4, ml_dtypes.float6_e2m3fn]
_SUB_BYTE = {np.dtype(ml_dtypes.int4): 4, np.dtype(ml_dtypes.int2): 2, np.dtype(ml_dtypes.uint2): 2,
             np.dtype(ml_dtypes.float4_e2m1fn): 4, np.dtype(ml_dtypes.float6_e2m3fn): 6}


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from(DTYPES), shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
       data=st.data(), as_resource=st.booleans())
def test_constants_round_trip_bit_exact(dtype, shape, data, as_resource):
    dtype = np.dtype(dtype)
    if dtype.itemsize == 16:  # complex128: two uint64 per element
        raw = data.draw(hnp.arrays(np.dtype(np.uint64), (*shape, 2)))
        array = raw.view(dtype).reshape(shape)
    else:
        raw = data.draw(hnp.arrays(np.dtype(f"u{dtype.itemsize}") if dtype != np.bool_ else np.bool_, shape))
        array = raw.view(dtype) if dtype != np.bool_ else raw
    if dtype in _SUB_BYTE:  # one byte per element, of which only the low `bits` are used: any code
        codes = raw.view(np.uint8) % (1 << _SUB_BYTE[dtype])
        array = codes.view(dtype).astype(np.float32).astype(dtype)  # canonical bytes of each value
    with ir.make_context(), mlir.Location.unknown():
        attr = ir.from_numpy(array, resource="w" if as_resource else None)
        back = ir.to_numpy(attr)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == np.ascontiguousarray(array).tobytes()


def test_splat_constants_expand():
    module = ir.parse(func("  %c = stablehlo.constant dense<2.5> : tensor<3x2xbf16>\n  return %c : tensor<3x2xbf16>",
                           "", "tensor<3x2xbf16>"))
    (const,) = constants(module)
    value = ir.to_numpy(const.attributes["value"])
    assert value.dtype == ml_dtypes.bfloat16 and value.shape == (3, 2) and (value == 2.5).all()


def test_saving_to_a_device_writes_through_it():
    """`-o /dev/null` must not rename a temporary file over the device (atomic writes are for files)."""
    import os
    import stat

    ir.save(ir.load(EXAMPLES / "attention.mlir"), os.devnull)
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


# ------------------------------------------------------------------ dense_resource blobs checked at load

_HEX = "0x040000000000803F000000400000404000008040"


@pytest.mark.parametrize("blob,message", [
    (_HEX[:-8], "dense_resource 'weights' holds 12 bytes, but its type tensor<2x2xf32> needs 16"),
    (_HEX + "0000803F", "dense_resource 'weights' holds 20 bytes, but its type tensor<2x2xf32> needs 16"),
    ("0x04000000", "dense_resource 'weights' has no data (an empty blob); its type tensor<2x2xf32> needs 16 bytes"),
    (None, "dense_resource 'weights' has no data (no such entry in the resource section)")])
def test_resource_blobs_of_the_wrong_size_are_refused_at_the_constant(tmp_path, blob, message):
    text = RESOURCE_MODULE.replace(_HEX, blob) if blob else RESOURCE_MODULE.replace("weights: ", "other: ")
    path = tmp_path / "m.mlir"
    path.write_text(text)
    with pytest.raises(hp.HloError) as info:
        ir.load(path)
    assert str(info.value.loc) == f"{path}:2:27" and info.value.message.startswith(message)
    if blob and blob != "0x04000000":  # the same module as bytecode (MLIR's writer refuses empty blobs)
        unchecked = ir._parse_checked(text.encode(), "m.mlir", ir.make_context(), None)
        with pytest.raises(hp.HloError, match=message.split(",")[0]):
            ir.parse(ir.serialize(unchecked, "bytecode"), filename="m.mlirbc")
        (const,) = constants(unchecked)  # built in memory, never loaded: to_numpy still refuses it
        with pytest.raises(hp.HloError, match="needs 16"):
            ir.to_numpy(const.attributes["value"])


def test_resource_sizes_come_from_the_bytes_without_copying_them():
    from hlo_passes import resources

    module = ir.parse(RESOURCE_MODULE)
    assert resources.text_blob_sizes(RESOURCE_MODULE.encode()) == {"weights": 16}
    assert resources.bytecode_blob_sizes(ir.serialize(module, "bytecode")) == {"weights": 16}
    with ir.make_context(), mlir.Location.unknown():  # several blobs, of several sizes and alignments
        mod = mlir.Module.create()
        with mlir.InsertionPoint(mod.body):
            for i, n in enumerate([1, 7, 300]):
                ir.stablehlo.ConstantOp(ir.from_numpy(np.arange(n, dtype=np.float64), resource=f"w{i}"))
        data = ir.serialize(mod, "bytecode")
    assert resources.bytecode_blob_sizes(data) == {"w0": 8, "w1": 56, "w2": 2400}
    assert resources.bytecode_blob_sizes(data[:len(data) // 2]) is None  # unreadable: no verdict, no crash


# ------------------------------------------------------------- portable output of modules with weights

TORCH_STYLE = func(
    "  %w = stablehlo.constant dense_resource<torch_tensor_2_2_torch.float32> : tensor<2x2xf32>\n"
    "  %b = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>\n"
    "  %0 = stablehlo.dot_general %a, %w, contracting_dims = [1] x [0] : (tensor<3x2xf32>, tensor<2x2xf32>)"
    " -> tensor<3x2xf32>\n"
    "  %1 = stablehlo.broadcast_in_dim %b, dims = [1] : (tensor<2xf32>) -> tensor<3x2xf32>\n"
    "  %2 = stablehlo.add %0, %1 : tensor<3x2xf32>\n  return %2 : tensor<3x2xf32>",
    "%a: tensor<3x2xf32>", "tensor<3x2xf32>") + """
{-#
  dialect_resources: {
    builtin: {
      torch_tensor_2_2_torch.float32: "0x040000000000803F000000400000404000008040"
    }
  }
#-}
"""


def test_portable_output_of_a_torch_style_module_keeps_its_numerics(tmp_path):
    """dense_resource weights and tensor arith.constants (what torch-mlir writes) go into the artifact
    inline, on a copy: before, every torch export failed here with a hint about fold-constants."""
    import subprocess

    from conftest import HLO_OPT

    src, out = tmp_path / "torch.mlir", tmp_path / "torch.vhlo"
    src.write_text(TORCH_STYLE)
    before = src.read_bytes()
    proc = subprocess.run([HLO_OPT, str(src), "--emit", "portable", "-o", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert src.read_bytes() == before
    module, back = ir.load(src), ir.load(out)
    assert "dense_resource" in ir.to_text(module) and "arith.constant" in ir.to_text(module)  # untouched
    assert numerics.check_same(module, back, isolate=False)


def test_portable_output_still_refuses_what_vhlo_cannot_hold():
    module = ir.parse(func("  %0 = arith.addf %a, %a : tensor<4xf32>\n  return %0 : tensor<4xf32>",
                           "%a: tensor<4xf32>", "tensor<4xf32>"))
    with pytest.raises(hp.HloError, match="the module holds arith ops other than tensor constants"):
        ir.save(module, format="portable")


@pytest.mark.slow
def test_portable_output_of_a_real_torch_export():
    from conftest import exported_lm

    _, text, _, _ = exported_lm("llama")
    module = ir.parse(text)
    back = ir.parse(ir.save(module, format="portable"))
    assert "dense_resource" in text and "dense_resource" not in ir.to_text(back)
    assert numerics.check_same(module, back, isolate=False)


# ------------------------------------------------------------------------- exotic element types

@pytest.mark.parametrize("attr,dtype,values", [
    ("dense<[(1.0, 2.0), (3.5, -4.0)]> : tensor<2xcomplex<f32>>", np.complex64, [1 + 2j, 3.5 - 4j]),
    ("dense<(1.0, -2.0)> : tensor<2xcomplex<f64>>", np.complex128, [1 - 2j, 1 - 2j]),
    ("dense<[1, -2, 0, -1]> : tensor<4xi2>", ml_dtypes.int2, [1, -2, 0, -1]),
    ("dense<[1, 2, 3, 0]> : tensor<4xui2>", ml_dtypes.uint2, [1, 2, 3, 0]),
    ("dense<[1.0, -6.0, 0.5]> : tensor<3xf4E2M1FN>", ml_dtypes.float4_e2m1fn, [1.0, -6.0, 0.5]),
    ("dense<[1.0, 2.0, 0.25]> : tensor<3xf8E8M0FNU>", ml_dtypes.float8_e8m0fnu, [1.0, 2.0, 0.25]),
    ("dense<[1.0, -2.0, 240.0]> : tensor<3xf8E4M3>", ml_dtypes.float8_e4m3, [1.0, -2.0, 240.0]),
    ("dense<[1.0, -2.0, 0.125]> : tensor<3xf8E3M4>", ml_dtypes.float8_e3m4, [1.0, -2.0, 0.125]),
    ("dense<[18446744073709551615, 9223372036854775808]> : tensor<2xui64>", np.uint64, [2**64 - 1, 2**63]),
    ('dense<"0x03010200"> : tensor<4xi2>', ml_dtypes.int2, [-1, 1, -2, 0])])
def test_exotic_constants_read_from_a_module(attr, dtype, values):
    """Read through `op.attributes` as passes do: complex constants raised TypeError there, and aborted
    the process through `NamedAttribute.attr`."""
    module = ir.parse(func(f"  %c = stablehlo.constant {attr}\n  return %c : {attr.split(' : ')[1]}", "",
                           attr.split(" : ")[1]))
    (const,) = constants(module)
    value = ir.to_numpy(const.attributes["value"])
    assert value.dtype == np.dtype(dtype) and value.tolist() == values
    assert ir.to_numpy(const.attributes[0].attr).tolist() == values


@pytest.mark.parametrize("element", ["si8", "index", "tf32", "f8E4M3FNUZ"])
def test_element_types_without_numpy_are_an_hlo_error(element):
    with ir.make_context(), mlir.Location.unknown():
        attr = mlir.Attribute.parse(f"dense<1> : tensor<2x{element}>" if element in ("si8", "index")
                                    else f"dense<1.0> : tensor<2x{element}>")
        if element == "f8E4M3FNUZ":  # one ml_dtypes does have
            assert ir.to_numpy(attr).tolist() == [1.0, 1.0]
            return
        with pytest.raises(hp.HloError, match=f"element type {element} has no numpy counterpart"):
            ir.to_numpy(attr)


def test_the_same_resource_names_load_twice_in_one_process():
    """The context keeps a second module's blob under a uniqued name (weights_1); the blob-size check of a
    bytecode load follows it (a second torch-mlir export in one process failed)."""
    first = ir.parse(RESOURCE_MODULE)
    again = ir.parse(RESOURCE_MODULE)  # its blob is now weights_1 in this context
    second = ir.parse(ir.save(again, format="bytecode"))  # and weights_1_1 here
    (a,), (b,) = numerics.execute(first, [np.ones((2, 2), np.float32)]), \
        numerics.execute(second, [np.ones((2, 2), np.float32)])
    np.testing.assert_array_equal(a, b)


def test_blob_sizes_follow_uniqued_resource_names():
    """A context that already holds `w_1` keeps the next one as `w_1_1`: the size check finds its blob (the
    failure seen when from_torch ran after another torch export in the same process)."""
    from hlo_passes.resources import _size_of

    sizes = {"torch_tensor_256_64_torch.float32_1": 65536, "w": 4}
    assert _size_of(sizes, "torch_tensor_256_64_torch.float32_1_1") == 65536
    assert _size_of(sizes, "torch_tensor_256_64_torch.float32_1") == 65536
    assert _size_of(sizes, "w_12") == 4 and _size_of(sizes, "other_1") is None
