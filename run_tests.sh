#!/usr/bin/env bash
# Runs the test suite in ./.venv (created from requirements-dev.txt when missing).
# Extra arguments go to pytest, e.g. ./run_tests.sh -k vocab -x
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
PY="$(tools/ensure_venv.sh requirements-dev.txt)"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# Two workers: the suite is mostly single-threaded tracing and start-up, and CI has 2 cores.
exec "$PY" -m pytest -q -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
