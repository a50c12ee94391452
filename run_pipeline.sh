#!/usr/bin/env bash
# Runs the whole smaller-LaBSE pipeline: download -> stage 1 -> 2 -> 3 -> 4.
#
#   ./run_pipeline.sh [--langs=en,fr,...] [--workdir=DIR] [--full_dumps]   real run (internet)
#   ./run_pipeline.sh --demo [--workdir=DIR]                offline demo, a tiny model (not LaBSE)
#
# Artifacts go under the work directory (default: the current directory) in the
# original layout: downloads/ data/ tokens_freqs/ selected_tokens/ models/ results/.
# Rerunning skips each stage whose outputs are newer than its inputs. Only the first
# 1,000,000 lines longer than 5 characters of each Wikipedia dump are downloaded (what
# stage 2 reads); --full_dumps downloads whole dumps.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage() { sed -n '2,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

demo=0
langs="en,fr,es,de,zh,ar,zh_classical,it,ja,ko,nl,pl,pt,th,tr,ru"
workdir=""
max_lines=1000000  # select_vocab.py --max_sentences (its default, used below)
dump_args=(--max_lines="$max_lines")
for arg in "$@"; do
  case "$arg" in
    --demo) demo=1 ;;
    --full_dumps) dump_args=(--full) ;;
    --langs=*) langs="${arg#--langs=}" ;;
    --workdir=*) workdir="${arg#--workdir=}" ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$demo" = 1 ]; then
  workdir="${workdir:-demo_workdir}"
  langs="en,fr,de"  # The demo's corpora also hold Russian, which the smaller model drops.
  corpus_langs="en,fr,de,ru"
else
  workdir="${workdir:-.}"
  corpus_langs="$langs"
fi

PY="$("$root/tools/ensure_venv.sh" "$root/requirements.txt")"
export SMALLER_LABSE_PYTHON="$PY"  # The download scripts check models with it.
# TensorFlow's log chatter is off unless a script gets --verbosity/-v (smaller_labse/quiet.py).
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$workdir" && cd "$workdir"
step() { printf '\n=== %s\n' "$*"; }
# up_to_date OUTPUT INPUT...: OUTPUT exists and is newer than every INPUT.
up_to_date() {
  local out="$1"; shift
  [ -e "$out" ] || return 1
  for input in "$@"; do [ "$out" -nt "$input" ] || return 1; done
}

model_name="LaBSE_${langs//,/-}"
tatoeba_langs="$("$PY" -c "
import sys
from smaller_labse import languages
print(','.join(languages.tatoeba_langs_for(sys.argv[1].split(','))))
" "$corpus_langs")"

if [ "$demo" = 1 ]; then
  step "demo inputs: a tiny dictionary-built model in LaBSE/2's format, small corpora (en fr de ru), parallel sentences"
  if up_to_date downloads/labse-2/saved_model.pb "$root/smaller_labse/demo_data.py"; then
    echo "up to date"
  else
    "$PY" -m smaller_labse.demo --workdir=.
  fi
  demo_note="NOTE: the demo model is not LaBSE and was not trained: a bag-of-words encoder in LaBSE/2's format whose word vectors come from a small hand-written en/fr/de/ru dictionary (smaller_labse/demo_data.py). Its accuracies show what pruning does, not LaBSE's quality."
  echo "$demo_note"
else
  step "downloads"
  "$root/download_model.sh"
  "$root/download_dataset.sh" --langs="$corpus_langs" "${dump_args[@]}"
  "$root/download_tatoeba_dataset.sh" --langs="$tatoeba_langs"
fi

step "stage 1: save_as_weight_from_saved_model.py"
if up_to_date models/labse/source.json downloads/labse-2/saved_model.pb \
    && up_to_date models/labse_st/model.safetensors downloads/labse-2/saved_model.pb; then
  echo "up to date"
else
  "$PY" "$root/save_as_weight_from_saved_model.py" --overwrite
fi

step "stage 2: select_vocab.py --langs=$corpus_langs"
selections=()
for lang in ${corpus_langs//,/ }; do selections+=("selected_tokens/selected_${lang}_tokens.txt"); done
stale=0
for lang in ${corpus_langs//,/ }; do
  up_to_date "selected_tokens/selected_${lang}_tokens.txt" "data/$lang.txt" models/labse/source.json \
    || stale=1
done
if [ "$stale" = 0 ]; then echo "up to date"; else "$PY" "$root/select_vocab.py" --langs="$corpus_langs"; fi

step "stage 3: make_smaller_labse.py --langs=$langs"
if up_to_date "models/$model_name/1/saved_model.pb" "${selections[@]}" models/labse/source.json \
    && up_to_date "models/${model_name}_st/model.safetensors" "${selections[@]}" \
      models/labse/source.json; then
  echo "up to date"
else
  "$PY" "$root/make_smaller_labse.py" --langs="$langs" --overwrite
fi

step "stage 4: evaluate_tatoeba.py --langs=$tatoeba_langs (original model as baseline)"
"$PY" "$root/evaluate_tatoeba.py" --langs="$tatoeba_langs" \
  --model="models/$model_name/1" --preprocess="models/${model_name}_preprocess/1" \
  --name="$model_name" \
  --baseline_model=downloads/labse-2 --baseline_preprocess=downloads/labse-2-preprocess \
  --baseline_name=LaBSE --output=results/tatoeba.json

step "summary"
cat "models/$model_name/parameters.md"
if [ "$demo" = 1 ]; then
  echo "$demo_note"
  echo "Kept languages (fr, de) keep every digit of their accuracy; Russian, dropped, falls to chance: its words became [UNK]."
fi
