"""The README's pass table is the registry's: every pass and pipeline has its row, with its options and
defaults as `--list-passes` knows them (scripts/pass_table.py makes the table; `--write` puts it in)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import pass_table  # noqa: E402


def test_readme_pass_table_is_made_from_the_registry():
    readme = (ROOT / "README.md").read_text()
    assert pass_table.BEGIN in readme and pass_table.END in readme
    current = readme.split(pass_table.BEGIN, 1)[1].split(pass_table.END, 1)[0].strip()
    assert current == pass_table.table(readme), "README's pass table is stale: run scripts/pass_table.py --write"


def test_a_pass_without_a_row_gets_one_from_its_summary():
    """The generator itself: a registered pass the README does not mention gets a row (so the test above
    fails until the README is regenerated), and a row's hand-written prose survives regeneration."""
    readme = (ROOT / "README.md").read_text()
    made = pass_table.table(readme.replace("| `fuse-rms-norm`", "| `no-such-pass`"))
    row = next(line for line in made.splitlines() if line.startswith("| `fuse-rms-norm`"))
    import hlo_passes as hp

    assert hp.registered_passes()["fuse-rms-norm"].summary in row
    assert "no-such-pass" not in made


def test_the_script_prints_the_table():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "pass_table.py")], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("| pass | what it does |")
