#!/usr/bin/env bash
# Evaluates on the 14 Tatoeba languages of the original release, as the original
# evaluate_tatoeba.sh did, but in one run: each model is loaded and run once for all
# languages. Arguments are forwarded to evaluate_tatoeba.py, e.g.
#   ./evaluate_tatoeba.sh
#   ./evaluate_tatoeba.sh \
#       --model models/LaBSE_en-fr-es-de-zh-ar-zh_classical-it-ja-ko-nl-pl-pt-th-tr-ru/1/ \
#       --preprocess models/LaBSE_en-fr-es-de-zh-ar-zh_classical-it-ja-ko-nl-pl-pt-th-tr-ru_preprocess/1/
set -euo pipefail

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  cat <<USAGE
Usage: $(basename "$0") [evaluate_tatoeba.py flags...]

Runs evaluate_tatoeba.py once on the 14 Tatoeba languages of the original release
(fra spa deu cmn ara ita jpn kor nld pol por tha tur rus) and prints the accuracy table.
Every argument is forwarded (a --langs or --lang given here replaces the 14). Paths are relative to
the current directory (defaults: --model=downloads/labse-2
--preprocess=downloads/labse-2-preprocess --data_dir=data/tatoeba/v1).
Python: \$PYTHON if set, else the project's .venv (created when missing).
See: python evaluate_tatoeba.py --help
USAGE
  exit 0
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
langs=""
for lang in "fra" "spa" "deu" "cmn" "ara" "ita" "jpn" "kor" "nld" "pol" "por" "tha" "tur" "rus"; do
  langs="${langs:+$langs,}$lang"
done
if [ -n "${PYTHON:-}" ]; then
  py="$PYTHON"
else
  py="$("$root/tools/ensure_venv.sh" "$root/requirements.txt")"
fi
# Later flags win in absl, so the caller's own --langs overrides this list; a --lang
# (the original's one-language form) replaces it.
for arg in "$@"; do
  case "$arg" in --lang|--lang=*) exec "$py" "$root/evaluate_tatoeba.py" "$@" ;; esac
done
exec "$py" "$root/evaluate_tatoeba.py" --langs="$langs" "$@"
