"""hlo-opt and its files: inputs read once, outputs complete or absent, never over the input, and every
failure of the OS (disk full, read-only, closed streams) one line with exit status 1.

The full and read-only file systems are real: a 64 KiB tmpfs (this runs as root). Where mounting is not
possible the same failures come from the kernel by other means: a file-size limit (RLIMIT_FSIZE, EFBIG)
for "full", /proc for "read-only".
"""

import contextlib
import os
import resource
import signal
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import EXAMPLES, HLO_OPT

from hlo_passes import files
from hlo_passes.diagnostics import HloError, shorten

INPUTS = Path(__file__).resolve().parent.parent / "lit_tests" / "Inputs"
PLUGIN = INPUTS / "test_passes.py"
ATTENTION = EXAMPLES / "attention.mlir"


def hlo_opt(*args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", 120)
    return subprocess.run([HLO_OPT, *map(str, args)], **kw)


def one_error(done, *needles):
    """Failed with exit status 1 and exactly one stderr line holding every needle, no traceback."""
    err = done.stderr.decode() if isinstance(done.stderr, bytes) else done.stderr
    assert done.returncode == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], err
    return lines[0]


def no_temporaries(folder: Path):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


@pytest.fixture(scope="module")
def expected():
    return hlo_opt(ATTENTION, "--pass", "cse", check=True).stdout


# --------------------------------------------------------------------------------------- read once

def test_stdin_named_as_a_path_is_read_once(expected):
    """`hlo-opt /dev/stdin` fed by a pipe used to print `module {}`: the bytes went to the sniffing read."""
    done = hlo_opt("/dev/stdin", "--pass", "cse", input=ATTENTION.read_bytes())
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected


def test_fifo_input_is_read_once(tmp_path, expected):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(ATTENTION.read_bytes()))
    writer.start()
    done = hlo_opt(fifo, "--pass", "cse", timeout=60)  # it used to hang, reopening the drained FIFO
    writer.join()
    assert done.returncode == 0, done.stderr
    assert done.stdout == expected


def test_endless_input_stops_at_the_size_cap():
    done = hlo_opt("/dev/zero", "--max-input-size", "1M", timeout=60)
    one_error(done, "input /dev/zero is larger than 1048576 bytes", "--max-input-size")


def test_regular_file_over_the_cap(tmp_path):
    one_error(hlo_opt(ATTENTION, "--max-input-size", "1k"), "larger than 1024 bytes")


def test_size_parsing():
    assert files.parse_size("4G") == 4 << 30 and files.parse_size("512k") == 512 << 10
    assert files.parse_size("1000") == 1000 and files.parse_size("2MiB") == 2 << 20
    for bad in ("", "-1", "0", "lots", "4X"):
        with pytest.raises(HloError):
            files.parse_size(bad)


def test_utf8_text_keeps_the_file_name_in_locations(tmp_path):
    src = tmp_path / "héllo.mlir"
    src.write_text("// größe\nfunc.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {\n"
                   "  %0 = stablehlo.add %a, %a : tensor<4xf32>\n  return %0 : tensor<4xf32>\n}\n")
    done = hlo_opt(src, "--print-debuginfo", text=True)
    assert done.returncode == 0, done.stderr
    assert 'llo.mlir":3:8)' in done.stdout and 'loc("-"' not in done.stdout  # (MLIR escapes the é)
    broken = hlo_opt(src, "--load-pass-plugin", PLUGIN, "--pass", "test-invalid", text=True)
    assert broken.returncode == 1 and broken.stderr.startswith(f"{src}:2:1: error:"), broken.stderr


# ------------------------------------------------------------------------------ never over the input

@pytest.fixture
def src(tmp_path):
    path = tmp_path / "in.mlir"
    path.write_bytes(ATTENTION.read_bytes())
    return path


def test_output_over_the_input_through_links_is_refused(src, tmp_path):
    (tmp_path / "sym.mlir").symlink_to(src)
    os.link(src, tmp_path / "hard.mlir")
    for out in ("sym.mlir", "hard.mlir", "in.mlir"):
        one_error(hlo_opt(src, "--pass", "cse", "-o", tmp_path / out),
                  "refusing to write the output over the input file")
    with open(src, "rb") as stdin:  # `hlo-opt < in.mlir -o in.mlir` is the same thing
        one_error(hlo_opt("--pass", "cse", "-o", src, stdin=stdin), "over the input file <stdin>")
    with open(src, "ab") as stdout:  # and so is `hlo-opt in.mlir >> in.mlir`
        done = subprocess.run([HLO_OPT, src, "--pass", "cse"], stdout=stdout, stderr=subprocess.PIPE)
        one_error(done, f"over the input file {src} (stdout is that file; use -o)")
    assert src.read_bytes() == ATTENTION.read_bytes()


def test_reproducer_over_the_input_is_refused_up_front(src, tmp_path):
    (tmp_path / "link.mlir").symlink_to(src)
    one_error(hlo_opt(src, "--load-pass-plugin", PLUGIN, "--pass", "test-raise", "--reproducer",
                      tmp_path / "link.mlir"), "refusing to write the reproducer over the input file")
    assert src.read_bytes() == ATTENTION.read_bytes()


def test_dump_dir_over_the_input_is_refused_up_front(tmp_path):
    dump = tmp_path / "dump"
    assert hlo_opt(ATTENTION, "--pass", "cse", "--dump-dir", dump, "-o", os.devnull).returncode == 0
    before = {p.name: p.read_bytes() for p in dump.iterdir()}
    for name in ("00-input.mlir", "01-cse.mlir"):
        one_error(hlo_opt(dump / name, "--pass", "cse", "--dump-dir", dump, "-o", os.devnull),
                  f"refusing to dump into {dump}: {name} there is the input file")
    assert {p.name: p.read_bytes() for p in dump.iterdir()} == before
    # a dump into the same folder that does not collide with the input is fine
    assert hlo_opt(dump / "01-cse.mlir", "--pass", "canonicalize", "--dump-dir", dump, "-o", os.devnull,
                   ).returncode == 0
    assert (dump / "01-canonicalize.mlir").exists() and (dump / "01-cse.mlir").read_bytes() == before["01-cse.mlir"]


def test_protected_inputs_are_refused_by_write_atomic_itself(src, tmp_path):
    files.protect(src)
    try:
        with pytest.raises(HloError, match="it is the input file"):
            files.write_atomic(tmp_path / "in.mlir", b"x")
    finally:
        files.unprotect_all()
    files.write_atomic(tmp_path / "in.mlir", b"x")  # unprotected: an ordinary overwrite
    assert src.read_bytes() == b"x"


# ------------------------------------------------------------------------------- modes and symlinks

def _umask(mask):
    def set_mask():
        os.umask(mask)
    return set_mask


def test_output_modes_follow_umask_and_existing_file(tmp_path):
    out = tmp_path / "out.mlir"
    assert hlo_opt(ATTENTION, "-o", out, preexec_fn=_umask(0o027)).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # 0666 & ~027, not mkstemp's 0600
    out.chmod(0o604)
    assert hlo_opt(ATTENTION, "--pass", "cse", "-o", out, preexec_fn=_umask(0o077)).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o604  # an existing file keeps its mode


def test_output_through_a_symlink_replaces_its_target(tmp_path, expected):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "out.mlir"
    target.write_text("old")
    link = tmp_path / "out.mlir"
    link.symlink_to(target)
    assert hlo_opt(ATTENTION, "--pass", "cse", "-o", link).returncode == 0
    assert link.is_symlink() and target.read_bytes() == expected
    assert no_temporaries(tmp_path) and no_temporaries(tmp_path / "real")


# --------------------------------------------------------------------------- disk full, read-only

def test_dev_full_and_closed_stdout_are_clean_errors(tmp_path):
    one_error(hlo_opt(ATTENTION, "-o", "/dev/full"), "cannot write /dev/full: No space left on device")
    with open("/dev/full", "wb") as full:
        one_error(subprocess.run([HLO_OPT, ATTENTION], stdout=full, stderr=subprocess.PIPE), "cannot write to standard output: No space left on device")
    closed = subprocess.run(f"{HLO_OPT} {ATTENTION} >&-", shell=True, capture_output=True, text=True)
    one_error(closed, "standard output is closed")
    listing = subprocess.run(f"{HLO_OPT} --list-passes >&-", shell=True, capture_output=True, text=True)
    one_error(listing, "standard output is closed")
    helped = subprocess.run(f"{HLO_OPT} --help >&-", shell=True, capture_output=True, text=True)
    one_error(helped, "cannot write to standard output: it is closed")
    with open("/dev/full", "wb") as full:  # --help is output too: not a silent exit 0
        one_error(subprocess.run([HLO_OPT, "--help"], stdout=full, stderr=subprocess.PIPE), "No space left")
    # stdout and stderr both closed, output to a file: the work is done, exit 0
    out = tmp_path / "out.mlir"
    done = subprocess.run(f"{HLO_OPT} {ATTENTION} -o {out} >&- 2>&-", shell=True)
    assert done.returncode == 0 and b"func.func public @main" in out.read_bytes()


@contextlib.contextmanager
def _tmpfs(folder: Path, options: str):
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def _fsize_limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 10, 16 << 10))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # then write() fails with EFBIG instead of a kill


@pytest.fixture
def full_dir(tmp_path):
    """(a folder where writing more than a few KB fails, the preexec_fn that makes it so, the error)."""
    folder = tmp_path / "full"
    with _tmpfs(folder, "size=64k") as mounted:
        if mounted:
            (folder / "filler").write_bytes(b"\0" * (60 << 10))
            yield folder, None, "No space left on device"
        else:
            yield folder, _fsize_limit, "File too large"


@pytest.fixture
def big_module(tmp_path):
    """A module whose text is ~100 KB: too big for the full folder."""
    rows = "\n".join(f"  %{i + 1} = stablehlo.add %{i}, %a : tensor<4xf32>" for i in range(1200))
    path = tmp_path / "big.mlir"
    path.write_text("func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {\n  %0 = stablehlo.negate %a :"
                    f" tensor<4xf32>\n{rows}\n  return %1200 : tensor<4xf32>\n}}\n")
    return path


def test_disk_full_output(full_dir, big_module):
    folder, preexec, why = full_dir
    out = folder / "out.mlir"
    out.write_text("ORIGINAL")
    line = one_error(hlo_opt(big_module, "-o", out, preexec_fn=preexec), f"cannot write {out}: {why}")
    assert "internal error" not in line
    assert out.read_text() == "ORIGINAL" and no_temporaries(folder)


def test_disk_full_dump_dir_and_reproducer(full_dir, big_module):
    folder, preexec, why = full_dir
    one_error(hlo_opt(big_module, "--pass", "cse", "--dump-dir", folder / "dump", "-o", os.devnull,
                      preexec_fn=preexec), "cannot write", why)
    assert no_temporaries(folder / "dump")
    # the pass's own error stays the error; the missing reproducer is a note saying why
    done = hlo_opt(big_module, "--load-pass-plugin", PLUGIN, "--pass", "test-raise", "--reproducer",
                   folder / "repro.mlir", preexec_fn=preexec, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0] == "hlo-opt: error: pass 'test-raise' raised ZeroDivisionError: integer division or modulo by zero"
    assert lines[-1].startswith("  note: no reproducer: cannot write") and why in lines[-1], done.stderr
    assert not (folder / "repro.mlir").exists() and no_temporaries(folder)


def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    with _tmpfs(folder, "ro,size=64k") as mounted:
        target = folder if mounted else Path("/proc")
        out = target / "out.mlir"
        line = one_error(hlo_opt(ATTENTION, "-o", out), f"cannot write {out}:")
        assert (("Read-only file system" in line) if mounted else True)
        one_error(hlo_opt(ATTENTION, "--pass", "cse", "--dump-dir", target / "dump", "-o", os.devnull),
                  "cannot create dump directory")
        done = hlo_opt(ATTENTION, "--load-pass-plugin", PLUGIN, "--pass", "test-raise", "--reproducer",
                       target / "r.mlir", text=True)
        assert done.returncode == 1 and "note: no reproducer: cannot write" in done.stderr, done.stderr


# ------------------------------------------------------------------------------------- stderr gone

def test_closed_stderr_pipe_does_not_stop_the_work(tmp_path, expected):
    """`hlo-opt ... --print-ir-after-all -o out 2>&1 | head -1` used to exit 0 without writing out."""
    out = tmp_path / "out.mlir"
    proc = subprocess.Popen([HLO_OPT, ATTENTION, "--pass", "cse", "--pass", "cse", "--print-ir-after-all",
                             "--timing", "-o", out], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc.stderr.close()  # the reader is gone before the first dump
    assert proc.wait(timeout=120) == 0
    assert out.read_bytes() == expected
    # and a failing run still fails
    proc = subprocess.Popen([HLO_OPT, ATTENTION, "--pass", "nope", "-o", out], stderr=subprocess.PIPE)
    proc.stderr.close()
    assert proc.wait(timeout=120) == 1


# ---------------------------------------------------------------------------------------- messages

@pytest.mark.parametrize("args, needle", [
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["-o", "a.mlir", "-o", "b.mlir"], "-o/--output given more than once"),
    (["--emit", "text", "--emit", "bytecode"], "--emit given more than once"),
    (["-o", ""], "argument -o/--output: empty file name"),
    ([""], "empty file name"),
    (["--check-numerics", "--seed", "-5"], "argument --seed: expected a whole number >= 0, got '-5'"),
    (["--rtol", "nan"], "argument --rtol: expected a finite number >= 0"),
    (["--atol", "-1"], "argument --atol: expected a finite number >= 0"),
    (["--max-input-size", "0"], "a size must be positive"),
    (["--pass", "cse", "--print-ir-after=cs"], "--print-ir-after: unknown pass 'cs' (did you mean 'cse'?)"),
    (["--print-ir-before", "cse,fuse-sdpaa"], "unknown pass 'fuse-sdpaa' (did you mean 'fuse-sdpa'?)"),
    (["--load-pass-plugin", str(ATTENTION)], "is not a Python file"),
    (["--run-reproducer", str(ATTENTION)], "not an hlo-opt reproducer"),
])
def test_bad_command_lines_are_one_line(args, needle, tmp_path):
    done = hlo_opt(*([ATTENTION] if "" not in args and "--run-reproducer" not in args else []), *args,
                   cwd=tmp_path, text=True)
    line = one_error(done, needle)
    assert line.startswith("hlo-opt: error: ")
    assert not list(tmp_path.iterdir())  # nothing written


def test_long_notes_are_shortened(tmp_path):
    """A verifier error on a big function carries the whole function as a note: keep its first lines."""
    rows = "\n".join(f"  %{i + 1} = stablehlo.add %{i}, %a : tensor<4xf32>" for i in range(3000))
    src = tmp_path / "big.mlir"
    src.write_text("func.func @main(%a: tensor<4xf32>) -> tensor<4xf32> {\n  %0 = stablehlo.negate %a :"
                   f" tensor<4xf32>\n{rows}\n  return %3000 : tensor<4xf32>\n}}\n")
    done = hlo_opt(src, "--load-pass-plugin", PLUGIN, "--pass", "test-invalid", "--reproducer",
                   tmp_path / "r.mlir", text=True)
    assert done.returncode == 1
    assert len(done.stderr) < 5000 and "more lines)" in done.stderr, done.stderr[:3000]
    assert done.stderr.strip().splitlines()[-1].startswith("  note: reproducer written to")


def test_shorten():
    assert shorten("a\nb") == "a\nb"
    text = "\n".join(map(str, range(100)))
    assert shorten(text, max_lines=3) == "0\n1\n2\n... (97 more lines)"
    assert shorten("x" * 50, max_chars=10) == "x" * 10 + "... (40 more characters)"
    assert str(HloError("y" * 10_000)) == "error: " + "y" * 2000 + "... (8000 more characters)"
    notes = tuple(f"n{i}" for i in range(30))
    shown = str(HloError("m", notes=notes)).splitlines()
    assert len(shown) == 22 and shown[-1] == "  note: n29" and "(10 more notes)" in shown[-2]


def test_broken_portable_artifact_is_one_message(tmp_path):
    bad = tmp_path / "bad.mlirbc"
    bad.write_bytes(b"ML\xefR\x01StableHLO_v1.0\x00garbage")
    line = one_error(hlo_opt(bad, text=True), f"{bad}:1:1: error: cannot read portable artifact")
    assert 'loc("-"' not in line and "invalid section ID" in line  # C++'s reason, folded into the one line
    with open(bad, "rb") as stdin:
        one_error(hlo_opt(stdin=stdin, text=True), "<stdin>:1:1: error: cannot read portable artifact")


def test_read_input_directly(tmp_path):
    path = tmp_path / "m.mlir"
    path.write_bytes(b"x" * 100)
    assert files.read_input(str(path)) == b"x" * 100
    with pytest.raises(HloError, match="larger than 99 bytes"):
        files.read_input(str(path), 99)
    with pytest.raises(HloError, match="no such file"):
        files.read_input(str(tmp_path / "nope"))
    with pytest.raises(HloError, match="is a directory"):
        files.read_input(str(tmp_path))
    with pytest.raises(HloError, match="standard input is closed"):
        files.read_input("-", stdin=None)
    with open("/dev/zero", "rb") as zero:
        with pytest.raises(HloError, match="larger than 5000 bytes"):
            files.read_input("-", 5000, stdin=zero)


def test_one_cap_for_every_reader(tmp_path, monkeypatch):
    """--max-input-size applies to the library's readers too: a raised cap is not undone by ir.load's own."""
    from hlo_passes import ir

    monkeypatch.setattr(files, "MAX_INPUT_BYTES", 1000)
    with pytest.raises(HloError, match="larger than 1000 bytes"):
        ir.load(ATTENTION)
    monkeypatch.setattr(files, "MAX_INPUT_BYTES", 1 << 20)
    assert ir.load(ATTENTION) is not None
    big = tmp_path / "big.mlir"  # 5 MB of comment: over the 4 MB cap given, under the one raised on the CLI
    big.write_bytes(b"// " + b"x" * (5 << 20) + b"\n" + ATTENTION.read_bytes())
    one_error(hlo_opt(big, "--max-input-size", "4M", "-o", os.devnull), "larger than 4194304 bytes")
    assert hlo_opt(big, "--max-input-size", "6M", "-o", os.devnull).returncode == 0


def test_output_to_standard_streams_by_name(tmp_path, expected):
    """`-o -` and `-o /dev/stdout` (a symlink to a pipe) write to stdout; nothing is created on disk."""
    for name in ("-", "/dev/stdout"):
        done = hlo_opt(ATTENTION, "--pass", "cse", "-o", name, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout == expected
    assert list(tmp_path.iterdir()) == []


def test_output_through_a_dangling_symlink_creates_its_target(tmp_path, expected):
    link = tmp_path / "out.mlir"
    link.symlink_to("real/out.mlir")
    one_error(hlo_opt(ATTENTION, "-o", link), "no such directory")
    (tmp_path / "real").mkdir()
    assert hlo_opt(ATTENTION, "--pass", "cse", "-o", link).returncode == 0
    assert link.is_symlink() and (tmp_path / "real" / "out.mlir").read_bytes() == expected


def test_replaced_file_keeps_its_owner(tmp_path):
    """Run as root over a user's file (as `cp` would), the new file keeps the user as owner."""
    out = tmp_path / "out.mlir"
    out.write_text("old")
    os.chown(out, 4321, 4321)
    files.write_atomic(out, b"new")
    assert out.read_bytes() == b"new" and (out.stat().st_uid, out.stat().st_gid) == (4321, 4321)
    real = os.umask(0o077)
    os.umask(real)
    assert files._umask() == real  # read from /proc, the same as the real one
