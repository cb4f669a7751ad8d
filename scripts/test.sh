#!/usr/bin/env bash
# Every test: ruff (lint), lit + FileCheck (lit_tests/), then pytest (tests/). Installs what it needs into .venv.
source "$(dirname "$0")/_venv.sh"
ruff check .
lit -sv lit_tests
python -m pytest -q tests
