#!/usr/bin/env bash
# Runs the whole smaller-LaBSE pipeline: download -> stage 1 -> 2 -> 3 -> 4.
#
#   ./run_pipeline.sh [--langs=en,fr,...] [--workdir=DIR] [--full_dumps]   real run (internet)
#   ./run_pipeline.sh --demo [--workdir=DIR]                offline demo, a tiny model (not LaBSE)
#
# The pipeline is smaller_labse/stages/pipeline.py (`smaller-labse run` and `smaller-labse demo` once
# the package is installed). Any Python 3 answers --help and checks the arguments; the stages
# then run in the project's .venv, made or reused by tools/ensure_venv.sh.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
SMALLER_LABSE_ENSURE_VENV="$root/tools/ensure_venv.sh" exec "${PYTHON:-python3}" -m smaller_labse.stages.pipeline "$@"
