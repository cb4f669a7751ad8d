#!/usr/bin/env bash
# Every test: lit + FileCheck (lit_tests/), then pytest (tests/). Installs what it needs into .venv.
source "$(dirname "$0")/_venv.sh"
lit -sv lit_tests
python -m pytest -q tests
