#!/usr/bin/env bash
# Downloads the Tatoeba v1 test pairs of facebookresearch/LASER (pinned commit) into
# data/tatoeba/v1/tatoeba.{xxx}-eng.{xxx,eng}.
set -euo pipefail

readonly DEFAULT_LANGS="fra spa deu cmn ara ita jpn kor nld pol por tha tur rus"
readonly LASER_COMMIT="2aa9cf8242f1030282be23a9cfa906fd011c4b2d"
readonly DEFAULT_BASE_URL="https://raw.githubusercontent.com/facebookresearch/LASER/$LASER_COMMIT/data/tatoeba/v1"

usage() {
  cat <<EOF
Usage: $(basename "$0") [--langs=fra,spa,...] [--output_dir=DIR] [LANG ...]

Downloads the Tatoeba v1 test sets (facebookresearch/LASER at commit $LASER_COMMIT)
into DIR/tatoeba.{xxx}-eng.{xxx,eng}, for the ISO 639-3 codes given as arguments or with
--langs (default, the 14 evaluated: $DEFAULT_LANGS).

Both sides of a pair are downloaded to temporary names (.part, resumed if interrupted) and
renamed only when they have the same number of lines; otherwise the script stops with an
error and leaves no file of that pair. Pairs already complete are skipped.

Options:
  --langs=LIST       comma-separated ISO 639-3 codes (not eng)
  --output_dir=DIR   output directory (default: \$TATOEBA_DIR or ./data/tatoeba/v1)
  -h, --help         show this help

Environment:
  TATOEBA_BASE_URL   base URL (default: $DEFAULT_BASE_URL);
                     files are \$TATOEBA_BASE_URL/tatoeba.{xxx}-eng.{xxx,eng}
  TATOEBA_DIR        default of --output_dir
  DOWNLOAD_RETRIES, DOWNLOAD_RETRY_DELAY, DOWNLOAD_RETRY_MAX_DELAY, DOWNLOAD_CONNECT_TIMEOUT,
  DOWNLOAD_STALL_SECONDS   retry/backoff/timeout settings (see tools/download_lib.sh)
EOF
}

# shellcheck source=tools/download_lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tools/download_lib.sh"

langs_arg=""
out_dir="${TATOEBA_DIR:-data/tatoeba/v1}"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --langs=*) langs_arg="$langs_arg ${1#--langs=}" ;;
    --langs) [ $# -ge 2 ] || { echo "error: --langs needs a value" >&2; exit 2; }; langs_arg="$langs_arg $2"; shift ;;
    --output_dir=*) out_dir="${1#--output_dir=}" ;;
    --output_dir) [ $# -ge 2 ] || { echo "error: --output_dir needs a value" >&2; exit 2; }; out_dir="$2"; shift ;;
    -*) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) langs_arg="$langs_arg $1" ;;
  esac
  shift
done
[ -n "$out_dir" ] || { echo "error: --output_dir is empty" >&2; exit 2; }

mapfile -t langs < <(dl_split_langs "${langs_arg:-$DEFAULT_LANGS}")
[ "${#langs[@]}" -gt 0 ] || { echo "error: no language given" >&2; exit 2; }
for lang in "${langs[@]}"; do
  if [[ ! "$lang" =~ ^[a-z]{3}$ ]] || [ "$lang" = eng ]; then
    echo "error: invalid Tatoeba language code '$lang' (expected an ISO 639-3 code other than eng, e.g. fra)" >&2
    exit 2
  fi
done

dl_require curl awk
base_url="${TATOEBA_BASE_URL:-$DEFAULT_BASE_URL}"
base_url="${base_url%/}"
mkdir -p -- "$out_dir"

for lang in "${langs[@]}"; do
  pair="tatoeba.$lang-eng"
  xxx="$out_dir/$pair.$lang"
  eng="$out_dir/$pair.eng"
  if [ -f "$xxx" ] && [ -f "$eng" ] && [ "$(dl_count_lines "$xxx")" = "$(dl_count_lines "$eng")" ]; then
    dl_log "$out_dir/$pair.{$lang,eng} already complete, skipping"
    continue
  fi
  # A pair is renamed into place together; one side alone is left over from an interrupted
  # rename or is stale: fetch both again (the .part files are what resumes).
  rm -f -- "$xxx" "$eng"
  # Each side is staged under a hidden name (dl_download renames X.part onto X); on an error
  # the staged sides of this pair are removed, so no half of a pair is ever left.
  staged=("$out_dir/.$pair.$lang.verified" "$out_dir/.$pair.eng.verified")
  trap 'rm -f -- "${staged[@]}"' EXIT
  for side in "$lang" eng; do
    dl_download "$base_url/$pair.$side" "$out_dir/.$pair.$side.verified" dl_verify_nonempty
  done
  n_xxx="$(dl_count_lines "${staged[0]}")"
  n_eng="$(dl_count_lines "${staged[1]}")"
  if [ "$n_xxx" != "$n_eng" ]; then
    rm -f -- "${staged[@]}"
    dl_die "$pair: $base_url/$pair.$lang has $n_xxx lines but $base_url/$pair.eng has $n_eng; a parallel test set needs the same number on both sides (nothing was kept)"
  fi
  mv -f -- "${staged[0]}" "$xxx"
  mv -f -- "${staged[1]}" "$eng"
  trap - EXIT
  dl_log "$out_dir/$pair.{$lang,eng}: $n_xxx pairs"
done
dl_log "Tatoeba ready in $out_dir: ${langs[*]}"
