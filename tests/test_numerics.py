"""numerics.py: inputs from the signature, execution on XLA CPU, comparison."""

import ml_dtypes
import numpy as np
import pytest
from conftest import func

import hlo_passes as hp
from hlo_passes import ir, numerics

MIXED = func("  %0 = stablehlo.convert %i : (tensor<3xi64>) -> tensor<3xf32>\n"
             "  %1 = stablehlo.add %0, %f : tensor<3xf32>\n"
             "  %2 = stablehlo.select %b, %1, %f : tensor<3xi1>, tensor<3xf32>\n"
             "  return %2, %i : tensor<3xf32>, tensor<3xi64>",
             "%f: tensor<3xf32>, %i: tensor<3xi64>, %b: tensor<3xi1>", "(tensor<3xf32>, tensor<3xi64>)")


def test_random_inputs_follow_the_signature_and_the_seed():
    module = ir.parse(MIXED)
    a, b = numerics.random_inputs(module, seed=3), numerics.random_inputs(module, seed=3)
    assert [x.dtype for x in a] == [np.float32, np.int64, np.bool_]
    assert all(x.shape == (3,) for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], numerics.random_inputs(module, seed=4)[0])
    assert (a[1] >= 0).all() and (a[1] < 8).all()


def test_execute_matches_numpy_with_i64_kept():
    module = ir.parse(MIXED)
    f = np.array([0.5, -1.0, 2.0], np.float32)
    i = np.array([2**40, 1, -3], np.int64)  # would not survive a silent cast to i32
    b = np.array([True, False, True])
    out_f, out_i = numerics.execute(module, [f, i, b])
    np.testing.assert_array_equal(out_i, i)
    np.testing.assert_allclose(out_f, np.where(b, i.astype(np.float32) + f, f))


def test_bf16_modules_run():
    module = ir.parse(func("  %0 = stablehlo.multiply %a, %a : tensor<4xbf16>\n  return %0 : tensor<4xbf16>",
                           "%a: tensor<4xbf16>", "tensor<4xbf16>"))
    x = np.array([1.5, -2, 3, 0.25], ml_dtypes.bfloat16)
    (out,) = numerics.execute(module, [x], isolate=False)
    assert out.dtype == ml_dtypes.bfloat16 and np.array_equal(out, x * x)


def test_compare_reports_where_and_how_much():
    same = numerics.compare([np.array([1.0, np.nan, np.inf])], [np.array([1.0, np.nan, np.inf])])
    assert same.ok and same.max_abs == 0
    near = numerics.compare([np.array([1.0, 2.0])], [np.array([1.0, 2.0 + 1e-7])])
    assert near.ok
    far = numerics.compare([np.array([[1.0, 2.0], [3.0, 4.0]])], [np.array([[1.0, 2.0], [3.0, 4.5]])])
    assert not far.ok and "output 0 differs at [1, 1]" in far.detail and far.max_abs == pytest.approx(0.5)
    assert not numerics.compare([np.zeros(3)], [np.zeros(4)]).ok
    assert not numerics.compare([np.zeros(3, np.float32)], [np.zeros(3, np.float64)]).ok
    assert not numerics.compare([np.array([np.nan])], [np.array([1.0])]).ok
    assert not numerics.compare([np.array([np.inf])], [np.array([-np.inf])]).ok


def test_unrunnable_signatures_are_clear_errors():
    dynamic = ir.parse(func("  return %a : tensor<?xf32>", "%a: tensor<?xf32>", "tensor<?xf32>"))
    with pytest.raises(hp.HloError, match="dynamic shape"):
        numerics.random_inputs(dynamic)
    no_main = ir.parse(func("  return %a : tensor<f32>", "%a: tensor<f32>", "tensor<f32>", name="f") +
                       func("  return %a : tensor<f32>", "%a: tensor<f32>", "tensor<f32>", name="g"))
    with pytest.raises(hp.HloError, match="no function 'main'"):
        numerics.random_inputs(no_main)
    with pytest.raises(hp.HloError, match="takes 3 arguments, 1 given"):
        numerics.execute(ir.parse(MIXED), [np.zeros(3, np.float32)])
