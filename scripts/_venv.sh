# Sourced by the scripts here: make .venv (once) and install the project with its test and torch extras
# (torch==2.13.0 is the local CPU wheel; the torch front end's tests need it) into it,
# again only when pyproject.toml has changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.hlo_passes-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing hlo_passes and its test dependencies into .venv (log: .venv/install.log)" >&2
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e ".[test,torch]"; } \
      > .venv/install.log 2>&1; then
    tail -30 .venv/install.log >&2
    echo "error: installing into .venv failed (whole log: .venv/install.log)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
export TF_CPP_MIN_LOG_LEVEL=2
