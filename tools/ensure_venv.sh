#!/usr/bin/env bash
# Creates or reuses ./.venv from the requirements files; prints the venv's python.
# Usage: source-free: PY=$(tools/ensure_venv.sh [requirements file])
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
req="${1:-$root/requirements.txt}"
venv="${SMALLER_LABSE_VENV:-$root/.venv}"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "error: Python 3.10+ is required (found: $("$python" --version 2>&1))" >&2
  exit 2
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "creating virtual environment in $venv" >&2
  "$python" -m venv "$venv" >&2
fi
# Reinstall only when the requirements change.
stamp="$venv/.requirements-$(basename "$req").sha256"
want="$(cat "$root"/requirements*.txt | sha256sum | cut -d' ' -f1)"
dev_stamp="$venv/.requirements-requirements-dev.txt.sha256"  # dev includes requirements.txt
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] && [ "$(cat "$dev_stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing $(basename "$req") into $venv" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
