#!/usr/bin/env bash
# Downloads google/LaBSE/2 (encoder) and its preprocessor
# (universal-sentence-encoder-cmlm/multilingual-preprocess/2) from TF Hub (now served by
# Kaggle Models) and unpacks them into downloads/labse-2 and downloads/labse-2-preprocess;
# or, given hub repositories (owner/name), downloads those BERT / Sentence Transformers
# models from Hugging Face into downloads/owner/name (smaller_labse/downloads/hf_hub.py).
set -euo pipefail

readonly DEFAULT_BASE_URL="https://tfhub.dev"
readonly ENCODER_HANDLE="google/LaBSE/2"
readonly PREPROCESS_HANDLE="google/universal-sentence-encoder-cmlm/multilingual-preprocess/2"

usage() {
  cat <<EOF
Usage: $(basename "$0") [--output_dir=DIR]
       $(basename "$0") [--output_dir=DIR] [--revision=REV] OWNER/NAME [OWNER/NAME ...]

Without a repository, downloads the TF Hub models the pipeline starts from:
  $ENCODER_HANDLE -> DIR/labse-2             (encoder, ~1.8 GB)
  $PREPROCESS_HANDLE -> DIR/labse-2-preprocess   (preprocessor)
as compressed archives (\$TFHUB_BASE_URL/{handle}?tf-hub-format=compressed; tfhub.dev redirects
to Kaggle Models, redirects are followed). Each archive is downloaded to DIR/{name}.tar.gz.part
(resumed if interrupted), its tar listing checked (complete gzip, a SavedModel at the root, no
absolute paths, '..' or links), unpacked into a temporary directory, checked to be the expected
SavedModel (the encoder's variables, e.g. word_embeddings/embeddings, and a vocab of
\$LABSE_VOCAB_SIZE tokens), and only then renamed into place; the archive is then deleted.
A model directory that already exists is checked and kept (nothing is downloaded).

With repositories (e.g. sentence-transformers/LaBSE, setu4993/LaBSE, setu4993/LEALLA-small,
or your fine-tuned model), downloads each from the Hugging Face hub into DIR/OWNER/NAME:
only what a BERT / Sentence Transformers model needs (config.json, the PyTorch weights,
preferring safetensors, the tokenizer, the Sentence Transformers modules; not the TF, Flax,
ONNX, OpenVINO, Rust or Core ML copies), all from the commit REV points at. Files are
downloaded with huggingface_hub into DIR/OWNER/.NAME.partial (kept across runs: an
interrupted download resumes), each checked against the hub's listing (size, SHA-256 of LFS
files, git blob id of the others), the model checked (config.json with model_type "bert",
weights, tokenizer), and only then renamed into place. A model directory that already
exists is checked and kept (nothing is downloaded).

Options:
  --output_dir=DIR   where to put the models (default: \$LABSE_DOWNLOAD_DIR or ./downloads)
  --revision=REV     branch, tag or commit of the hub repositories (default: main)
  -h, --help         show this help

Environment:
  TFHUB_BASE_URL         base URL of the handles (default: $DEFAULT_BASE_URL)
  LABSE_VOCAB_SIZE       expected vocabulary size of the encoder (default: 501153)
  LABSE_DOWNLOAD_DIR     default of --output_dir
  SMALLER_LABSE_PYTHON   Python with TensorFlow used for the check (default: the project's
                         .venv, created by tools/ensure_venv.sh when missing)
  DOWNLOAD_RETRIES, DOWNLOAD_RETRY_DELAY, DOWNLOAD_RETRY_MAX_DELAY, DOWNLOAD_CONNECT_TIMEOUT,
  DOWNLOAD_STALL_SECONDS   retry/backoff/timeout settings (see tools/download_lib.sh; hub
                         downloads use the first three)
  HF_ENDPOINT            the Hugging Face hub or a mirror (default: https://huggingface.co)
  HF_TOKEN               token for private and gated repositories (default: huggingface_hub's
                         saved login, if any)
  HF_HUB_ETAG_TIMEOUT, HF_HUB_DOWNLOAD_TIMEOUT   huggingface_hub's timeouts in seconds
EOF
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/download_lib.sh
source "$root/tools/download_lib.sh"

out_dir="${LABSE_DOWNLOAD_DIR:-downloads}"
revision=""
repos=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --output_dir=*) out_dir="${1#--output_dir=}" ;;
    --output_dir) [ $# -ge 2 ] || { echo "error: --output_dir needs a value" >&2; exit 2; }; out_dir="$2"; shift ;;
    --revision=*) revision="${1#--revision=}"; [ -n "$revision" ] || { echo "error: --revision is empty" >&2; exit 2; } ;;
    --revision) [ $# -ge 2 ] && [ -n "$2" ] || { echo "error: --revision needs a value" >&2; exit 2; }; revision="$2"; shift ;;
    -*) echo "error: unexpected argument '$1' (see --help)" >&2; exit 2 ;;
    *) repos+=("$1") ;;
  esac
  shift
done
[ -n "$out_dir" ] || { echo "error: --output_dir is empty" >&2; exit 2; }

python_for_check() {
  if [ -n "${SMALLER_LABSE_PYTHON:-}" ]; then
    printf '%s\n' "$SMALLER_LABSE_PYTHON"
  else
    "$root/tools/ensure_venv.sh" "$root/requirements.txt"
  fi
}

if [ "${#repos[@]}" -gt 0 ]; then
  # Hugging Face hub repositories: smaller_labse/downloads/hf_hub.py does it all (exit 1 on a
  # download problem, 2 on a bad repository id).
  repo_flags=()
  for repo in "${repos[@]}"; do repo_flags+=("--repo=$repo"); done
  py="$(python_for_check)"
  PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" exec "$py" -m smaller_labse.downloads.hf_hub \
    --output_dir="$out_dir" --revision="${revision:-main}" --retries="$DL_RETRIES" \
    --retry_delay="$DL_RETRY_DELAY" --retry_max_delay="$DL_RETRY_MAX_DELAY" "${repo_flags[@]}"
fi
if [ -n "$revision" ]; then
  echo "error: --revision goes with hub repositories (OWNER/NAME), not with TF Hub's LaBSE/2" >&2
  exit 2
fi
vocab_size="${LABSE_VOCAB_SIZE:-501153}"
case "$vocab_size" in ''|*[!0-9]*) echo "error: LABSE_VOCAB_SIZE must be a number, got '$vocab_size'" >&2; exit 2 ;; esac

dl_require curl gzip tar awk
base_url="${TFHUB_BASE_URL:-$DEFAULT_BASE_URL}"
base_url="${base_url%/}"
mkdir -p -- "$out_dir"

# Temporary directories of this run, removed on any exit (the renamed ones are gone by then).
tmp_dirs=()
cleanup() { if [ "${#tmp_dirs[@]}" -gt 0 ]; then rm -rf -- "${tmp_dirs[@]}"; fi; }
trap cleanup EXIT

TAR_LISTING=""
# verify_tar ARCHIVE: a complete tar.gz whose members stay inside the target directory and
# which holds a SavedModel at its root or inside one top-level directory.
verify_tar() {
  local archive="$1" names verbose bad
  if ! dl_verify_gzip "$archive"; then return 1; fi
  if ! names="$(tar -tzf "$archive" 2>&1)"; then
    DL_VERIFY_ERROR="not a valid tar archive: $(printf '%s' "$names" | head -n 1)"
    return 1
  fi
  TAR_LISTING="$names"
  bad="$(printf '%s\n' "$names" | awk '/^\// || /(^|\/)\.\.(\/|$)/' | head -n 1)"
  if [ -n "$bad" ]; then
    DL_VERIFY_ERROR="unsafe path in archive: $bad"
    return 1
  fi
  verbose="$(tar -tvzf "$archive" 2>/dev/null)"
  bad="$(printf '%s\n' "$verbose" | awk '/^[lhbcp]/' | head -n 1)"
  if [ -n "$bad" ]; then
    DL_VERIFY_ERROR="archive holds a link or special file: $bad"
    return 1
  fi
  if [ -z "$(saved_model_root "$names")" ]; then
    DL_VERIFY_ERROR="no saved_model.pb at the top of the archive (not a TF Hub SavedModel archive)"
    return 1
  fi
}

# saved_model_root LISTING: prints the directory of saved_model.pb inside the archive: "." at
# the root, or one top-level directory; nothing when there is none.
saved_model_root() {
  printf '%s\n' "$1" | sed 's|^\./||' | awk '
    $0 == "saved_model.pb" { print "."; found = 1; exit }
    /^[^\/]+\/saved_model\.pb$/ && !top { top = substr($0, 1, index($0, "/") - 1) }
    END { if (!found && top != "") print top }'
}

# fetch_and_unpack NAME URL: downloads URL and unpacks it into a new temporary directory
# (removed on exit unless renamed into place); sets UNPACKED to the SavedModel's directory.
UNPACKED=""
fetch_and_unpack() {
  local name="$1" url="$2" archive tmp root_in_archive
  archive="$out_dir/$name.tar.gz"
  TAR_LISTING=""
  dl_download "$url" "$archive" verify_tar
  tmp="$(mktemp -d "$out_dir/.$name.tmp-XXXXXX")"
  tmp_dirs+=("$tmp")
  dl_log "unpacking $archive"
  if ! tar -xzf "$archive" -C "$tmp" --no-same-owner --no-same-permissions; then
    dl_die "$archive (from $url): unpacking failed (disk full?)"
  fi
  # The listing verify_tar made (or, for an archive verified by an earlier run, a new one).
  if [ -z "$TAR_LISTING" ]; then TAR_LISTING="$(tar -tzf "$archive")"; fi
  root_in_archive="$(saved_model_root "$TAR_LISTING")"
  if [ "$root_in_archive" = "." ]; then UNPACKED="$tmp"; else UNPACKED="$tmp/$root_in_archive"; fi
}

encoder_dest="$out_dir/labse-2"
preprocess_dest="$out_dir/labse-2-preprocess"
encoder_url="$base_url/$ENCODER_HANDLE?tf-hub-format=compressed"
preprocess_url="$base_url/$PREPROCESS_HANDLE?tf-hub-format=compressed"

# An existing directory that is plainly not a SavedModel: say so before downloading anything.
for dest in "$encoder_dest" "$preprocess_dest"; do
  if [ -e "$dest" ] && [ ! -f "$dest/saved_model.pb" ]; then
    dl_die "$dest exists but is not a SavedModel (no saved_model.pb); delete it to download again"
  fi
done

# What to check: the fresh temporary directories, or the directories already in place.
encoder_dir="$encoder_dest"; encoder_source="$encoder_dest (already downloaded; delete it to download again)"
preprocess_dir="$preprocess_dest"; preprocess_source="$preprocess_dest (already downloaded; delete it to download again)"
if [ -e "$encoder_dest" ]; then
  dl_log "$encoder_dest exists, checking it"
else
  fetch_and_unpack labse-2 "$encoder_url"
  encoder_dir="$UNPACKED"
  encoder_source="$encoder_url"
fi
if [ -e "$preprocess_dest" ]; then
  dl_log "$preprocess_dest exists, checking it"
else
  fetch_and_unpack labse-2-preprocess "$preprocess_url"
  preprocess_dir="$UNPACKED"
  preprocess_source="$preprocess_url"
fi

py="$(python_for_check)"
dl_log "checking the SavedModels"
if ! TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}" PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}" \
    "$py" -m smaller_labse.formats.tf_hub_check \
    --encoder="$encoder_dir" --encoder_source="$encoder_source" \
    --preprocess="$preprocess_dir" --preprocess_source="$preprocess_source" \
    --vocab_size="$vocab_size" >&2; then
  # The check printed one 'error:' line naming the directory and where it came from. The
  # archives are complete (their listing was checked): keep them, so that a rerun after fixing
  # a setting such as LABSE_VOCAB_SIZE does not download gigabytes again.
  for archive in "$out_dir/labse-2.tar.gz" "$out_dir/labse-2-preprocess.tar.gz"; do
    if [ -f "$archive" ]; then
      dl_log "note: kept $archive (a complete download); delete it to download it again"
    fi
  done
  exit 1
fi

if [ "$encoder_dir" != "$encoder_dest" ]; then
  mv -- "$encoder_dir" "$encoder_dest"
  rm -f -- "$out_dir/labse-2.tar.gz"
  dl_log "$encoder_dest ready"
fi
if [ "$preprocess_dir" != "$preprocess_dest" ]; then
  mv -- "$preprocess_dir" "$preprocess_dest"
  rm -f -- "$out_dir/labse-2-preprocess.tar.gz"
  dl_log "$preprocess_dest ready"
fi
dl_log "models ready in $out_dir"
