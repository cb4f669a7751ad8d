"""numerics.py at its edges: integers compared exactly, edge inputs, checked settings and inputs, a worker
that times out, crashes, and never outlives hlo-opt or prints a traceback on Ctrl-C."""

import os
import signal
import subprocess
import sys
import threading
import time

import ml_dtypes
import numpy as np
import pytest
from conftest import HLO_OPT, func

import hlo_passes as hp
from hlo_passes import ir, numerics
from hlo_passes.instrumentation import NumericsCheck

NARROW = func("  %0 = stablehlo.convert %x : (tensor<128xi32>) -> tensor<128xi8>\n"
              "  %1 = stablehlo.convert %0 : (tensor<128xi8>) -> tensor<128xi32>\n"
              "  return %1 : tensor<128xi32>", "%x: tensor<128xi32>", "tensor<128xi32>")
IDENTITY = func("  return %x : tensor<128xi32>", "%x: tensor<128xi32>", "tensor<128xi32>")
LOOP = """func.func @main(%a: tensor<i32>) -> tensor<i32> {
  %0 = stablehlo.while(%it = %a) : tensor<i32>
   cond {
    %t = stablehlo.constant dense<true> : tensor<i1>
    stablehlo.return %t : tensor<i1>
  } do {
    %1 = stablehlo.add %it, %it : tensor<i32>
    stablehlo.return %1 : tensor<i32>
  }
  return %0 : tensor<i32>
}
"""
NEG = func("  %0 = stablehlo.negate %a : tensor<3xf32>\n  return %0 : tensor<3xf32>", "%a: tensor<3xf32>",
           "tensor<3xf32>")


# ----------------------------------------------------------------------------------- comparison

def test_integers_and_booleans_compare_exactly_whatever_the_tolerance():
    far = numerics.compare([np.array([1_000_005], np.int32)], [np.array([1_000_000], np.int32)], rtol=1e-3, atol=10)
    assert not far and "got 1000005, expected 1000000" in far.detail and "integers must match exactly" in far.detail
    assert far.max_abs == 5
    big = np.iinfo(np.int64).max  # differences beyond float64's 53 bits are still seen, and exact
    assert not numerics.compare([np.array([big], np.int64)], [np.array([big - 1], np.int64)], rtol=1)
    wrap = numerics.compare([np.array([2**64 - 1], np.uint64)], [np.array([0], np.uint64)])
    assert not wrap and wrap.max_abs == float(2**64 - 1)
    assert not numerics.compare([np.array([True, False])], [np.array([True, True])], rtol=1, atol=1)
    assert not numerics.compare([np.array([3], ml_dtypes.int4)], [np.array([2], ml_dtypes.int4)], atol=5)
    assert numerics.compare([np.array([-8, 7], ml_dtypes.int4)], [np.array([-8, 7], ml_dtypes.int4)])
    scalar = numerics.compare([np.array(-2**31, np.int32)], [np.array(2**31 - 1, np.int32)])
    assert not scalar and scalar.max_abs == 2**32 - 1 and "differs at []" in scalar.detail


def test_float_specials_and_signed_zeros():
    a = [np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], np.float32)]
    same = numerics.compare(a, [np.array([np.nan, np.inf, -np.inf, -0.0, 0.0], np.float32)], rtol=0, atol=0)
    assert same and same.max_abs == same.max_rel == 0
    zeros = numerics.compare(a, [np.array([np.nan, np.inf, -np.inf, -0.0, 0.0], np.float32)], rtol=0, atol=0,
                             signed_zeros=True)
    assert not zeros and "differs at [3]" in zeros.detail
    assert not numerics.compare([np.array([np.inf])], [np.array([-np.inf])], rtol=1, atol=1e300)
    assert not numerics.compare([np.array([np.inf])], [np.array([1e308])], rtol=1, atol=1)
    assert not numerics.compare([np.array([np.nan])], [np.array([np.inf])])
    bf = numerics.compare([np.array([1.0, 2.0], ml_dtypes.bfloat16)], [np.array([1.0, 2.015625], ml_dtypes.bfloat16)],
                          rtol=1e-2)
    assert bf and bf.max_abs == pytest.approx(0.015625)


def test_complex_compares_as_two_floats():
    assert numerics.compare([np.array([1 + 1j], np.complex64)], [np.array([1 + 1j + 1e-7j], np.complex64)])
    imag = numerics.compare([np.array([1 + 1j, 2 + 2j], np.complex64)], [np.array([1 + 1j, 2 + 2.5j], np.complex64)])
    assert not imag and "differs at [1]" in imag.detail and "imaginary part" in imag.detail
    nan_real = np.array([complex(np.nan, 1.0)], np.complex128)
    assert numerics.compare([nan_real], [nan_real.copy()], rtol=0, atol=0)
    assert not numerics.compare([nan_real], [np.array([complex(np.nan, 2.0)])], rtol=0, atol=0)


@pytest.mark.parametrize("bad", [float("nan"), -1e-9, float("inf"), "x", None, True])
def test_tolerances_are_finite_and_not_negative(bad):
    with pytest.raises(hp.HloError, match="rtol must be a finite number >= 0"):
        numerics.compare([np.zeros(1)], [np.zeros(1)], rtol=bad)
    with pytest.raises(hp.HloError, match="atol must be a finite number >= 0"):
        numerics.check_same(ir.parse(NEG), ir.parse(NEG), atol=bad)
    with pytest.raises(hp.HloError, match=r"--rtol must be a finite number >= 0"):
        NumericsCheck(rtol=bad)


def test_numerics_check_settings_are_checked_up_front(monkeypatch):
    with pytest.raises(hp.HloError, match=r"--seed must be an integer >= 0, got -1"):
        NumericsCheck(seed=-1)
    for bad in (0, -5, float("nan"), "soon"):
        with pytest.raises(hp.HloError, match=r"--numerics-timeout must be a number of seconds > 0"):
            NumericsCheck(timeout=bad)
    with pytest.raises(hp.HloError, match="--numerics-inputs must be one of typical, edges, float-edges"):
        NumericsCheck(input_mode="all")
    monkeypatch.setenv(numerics.TIMEOUT_ENV, "-3")
    with pytest.raises(hp.HloError, match=r"\$HLO_OPT_NUMERICS_TIMEOUT must be a number of seconds > 0"):
        NumericsCheck()
    monkeypatch.setenv(numerics.TIMEOUT_ENV, "12.5")
    assert NumericsCheck().timeout == 12.5 and NumericsCheck(timeout=float("inf")).timeout == float("inf")
    monkeypatch.delenv(numerics.TIMEOUT_ENV)
    assert NumericsCheck().timeout == numerics.DEFAULT_TIMEOUT


# ----------------------------------------------------------------------------------- inputs

@pytest.mark.parametrize("dtype", ["i8", "ui8", "i16", "i32", "ui32", "i64", "ui64", "i4"])
def test_edge_inputs_hold_every_edge_of_the_dtype(dtype):
    module = ir.parse(func(f"  return %x : tensor<256x{dtype}>", f"%x: tensor<256x{dtype}>",
                           f"tensor<256x{dtype}>"))
    (typical,), (edged,) = numerics.random_inputs(module, 5), numerics.random_inputs(module, 5, edges=True)
    np_type = ir.np_dtype(ir.mlir.RankedTensorType(numerics.entry_function(module).arguments[0].type).element_type)
    info = ml_dtypes.iinfo(np_type)
    edges = set(numerics.int_edge_values(np_type).tolist())
    assert {info.min, info.max, 0, 1} <= edges and (info.min == 0 or -1 in edges)
    assert all(info.min <= v <= info.max for v in edges)
    if info.bits >= 16:
        assert {127, 128, 255, 256} <= edges
    if info.bits >= 32:
        assert {2**15, 2**16, 2**24 + 1, info.max} <= edges and (info.min == 0 or -2**31 in edges)
    assert set(edged.tolist()) >= edges  # 256 elements: every edge appears
    changed = edged != typical
    assert 0 < changed.sum() <= 64  # about a quarter; the rest stay the typical small values
    assert ((typical >= 0) & (typical < 8)).all()
    assert np.array_equal(edged, numerics.random_inputs(module, 5, edges=True)[0])  # seeded


def test_scalars_are_edges_in_about_a_quarter_of_the_seeds():
    module = ir.parse(func("  return %x : tensor<i32>", "%x: tensor<i32>", "tensor<i32>"))
    hits = sum(int(numerics.random_inputs(module, s, edges=True)[0]) != int(numerics.random_inputs(module, s)[0])
               for s in range(200))
    assert 25 <= hits <= 75


def test_float_edges_are_finite_and_optional():
    module = ir.parse(func("  return %x, %c : tensor<512xf32>, tensor<64xcomplex<f32>>",
                           "%x: tensor<512xf32>, %c: tensor<64xcomplex<f32>>",
                           "(tensor<512xf32>, tensor<64xcomplex<f32>>)"))
    plain, _ = numerics.random_inputs(module, 0, edges=True)
    assert np.array_equal(plain, numerics.random_inputs(module, 0)[0])  # integer edges leave floats alone
    x, c = numerics.random_inputs(module, 0, float_edges=True)
    assert np.isfinite(x).all() and np.isfinite(c).all()
    values = set(x.tolist())
    info = np.finfo(np.float32)
    assert {float(info.max), -float(info.max), float(info.tiny), float(info.smallest_subnormal), 1.0} <= values
    assert (np.signbit(x) & (x == 0)).any()  # -0.0
    edges = numerics.float_edge_values(np.float32)
    assert np.isin(c.real, edges).sum() == np.isin(c.imag, edges).sum() == 64 // 8  # both parts get edges
    assert len(numerics.input_sets(module, 0)) == 1  # no integer argument: the typical set only
    assert [label for label, _ in numerics.input_sets(module, 0, "float-edges")] == ["typical", "edge"]


def test_edge_inputs_catch_what_typical_inputs_miss():
    """Dropping an i32 -> i8 -> i32 round trip is right for 0..7 and wrong at 128 and beyond."""
    before, after = ir.parse(NARROW), ir.parse(IDENTITY)
    assert numerics.check_same(before, after, input_mode="typical", isolate=False)
    caught = numerics.check_same(before, after, isolate=False)
    assert not caught and caught.detail.startswith("on the edge inputs, output 0 differs")


# ----------------------------------------------------------------------------------- checked inputs

def test_inputs_must_match_the_signature():
    module = ir.parse(NEG)
    with pytest.raises(hp.HloError, match=r"argument 0 of main: expected float32\[3\], given int32\[3\]"):
        numerics.execute(module, [np.array([1, 2, 3], np.int32)])
    with pytest.raises(hp.HloError, match=r"argument 0 of main: expected float32\[3\], given float32\[1, 3\]"):
        numerics.execute(module, [np.zeros((1, 3), np.float32)], isolate=False)


def test_from_numpy_checks_the_type_against_the_array():
    with ir.make_context(), ir.mlir.Location.unknown():
        f32x4 = ir.mlir.RankedTensorType.get([4], ir.mlir.F32Type.get())
        assert ir.to_numpy(ir.from_numpy(np.arange(4, dtype=np.float32), type=f32x4)).tolist() == [0, 1, 2, 3]
        with pytest.raises(hp.HloError, match=r"type tensor<4xf32> does not fit a int32 array of shape \[4\]"):
            ir.from_numpy(np.arange(4, dtype=np.int32), type=f32x4)
        with pytest.raises(hp.HloError, match=r"does not fit a float32 array of shape \[2, 2\]"):
            ir.from_numpy(np.zeros((2, 2), np.float32), type=f32x4)
        with pytest.raises(hp.HloError, match="does not fit"):
            ir.from_numpy(np.zeros(3, np.float32), type=f32x4, resource="blob")


# ----------------------------------------------------------------------------------- the worker

def _alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _gone(pid: int, within: float = 10.0) -> bool:
    end = time.monotonic() + within
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.05)
    return not _alive(pid)


def _reap(pid: int) -> None:
    """A test that failed must not leave an endless worker behind."""
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (FileNotFoundError, ProcessLookupError):
                pass
    return found


def _worker_of(pid: int, within: float = 30.0) -> int:
    """The numerics worker that process `pid` started, once it runs."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        for child in _children(pid):
            try:
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    if b"hlo_passes.numerics" in f.read():
                        return child
            except FileNotFoundError:
                pass
        time.sleep(0.1)
    raise AssertionError("no numerics worker started")


def test_an_endless_loop_times_out_and_the_next_run_gets_a_fresh_worker():
    numerics.execute(ir.parse(NEG), [np.zeros(3, np.float32)])  # a warm worker: the 2 s are XLA's alone
    old = numerics._worker.proc.pid
    start = time.monotonic()
    with pytest.raises(hp.HloError, match=r"XLA CPU did not finish running the module within 2 s "
                                          r"\(--numerics-timeout"):
        numerics.execute(ir.parse(LOOP), [np.array(1, np.int32)], timeout=2)
    assert time.monotonic() - start < 10
    assert _gone(old)
    (out,) = numerics.execute(ir.parse(NEG), [np.array([1, -2, 3], np.float32)])
    assert out.tolist() == [-1, 2, -3] and numerics._worker.proc.pid != old


def test_a_killed_worker_is_reported_by_its_signal_not_as_a_division_by_zero():
    numerics.execute(ir.parse(NEG), [np.zeros(3, np.float32)])
    pid = numerics._worker.proc.pid
    threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(hp.HloError) as info:
        numerics.execute(ir.parse(LOOP), [np.array(1, np.int32)], timeout=60)
    assert "killed (SIGKILL)" in info.value.message and "division" not in info.value.message
    assert numerics.execute(ir.parse(NEG), [np.ones(3, np.float32)])[0].tolist() == [-1, -1, -1]


def test_death_messages_say_only_what_the_signal_tells():
    assert "integer division by zero" in numerics.death_message(-signal.SIGFPE)
    for sig in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
        text = numerics.death_message(-sig)
        assert sig.name in text and "division" not in text
    assert "exited with status 3" in numerics.death_message(3)


def _hlo_opt_on_loop(tmp_path):
    src = tmp_path / "loop.mlir"
    src.write_text(LOOP)
    env = dict(os.environ, **{numerics.TIMEOUT_ENV: "600"})
    return subprocess.Popen([HLO_OPT, str(src), "--pass", "cse", "--check-numerics", "-o", str(tmp_path / "out.mlir")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)  # its own process group, as a terminal's job


def test_ctrl_c_interrupts_once_without_a_traceback_and_stops_the_worker(tmp_path):
    proc = _hlo_opt_on_loop(tmp_path)
    worker = _worker_of(proc.pid)
    try:
        time.sleep(1.5)  # well inside the endless reference run
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "KeyboardInterrupt" not in err
        assert err.count("interrupted") == 1
        assert _gone(worker)
        assert not (tmp_path / "out.mlir").exists()
    finally:
        _reap(worker)
        if proc.poll() is None:
            proc.kill()


def test_the_worker_dies_with_its_parent(tmp_path):
    """A parent killed outright (no atexit, no signal handler) while its worker runs an endless loop: the
    kernel's parent-death signal must stop the worker."""
    script = tmp_path / "parent.py"
    script.write_text(f"""
import numpy as np
from hlo_passes import ir, numerics
numerics.execute(ir.parse({NEG!r}), [np.zeros(3, np.float32)])
print(numerics._worker.proc.pid, flush=True)
numerics.execute(ir.parse({LOOP!r}), [np.array(1, np.int32)], timeout=600)
""")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(proc.stdout.readline())
    try:
        time.sleep(1.0)  # the request is sent right after the print: the worker is in the loop by now
        assert _alive(worker)
        proc.kill()
        proc.wait(timeout=30)
        assert _gone(worker)
    finally:
        _reap(worker)
