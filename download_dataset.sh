#!/usr/bin/env bash
# Downloads the 2018 Wikipedia plain-text dumps (LINDAT/CLARIAH-CZ, handle 11234/1-2735) that
# the original smaller-LaBSE used, into data/{lang}.txt.
set -euo pipefail

readonly DEFAULT_LANGS="en fr es de zh ar zh_classical it ja ko nl pl pt th tr ru"
readonly DEFAULT_BASE_URL="https://lindat.mff.cuni.cz/repository/xmlui/bitstream/handle/11234/1-2735"

usage() {
  cat <<EOF
Usage: $(basename "$0") [--langs=en,fr,...] [--data_dir=DIR] [--keep_gz] [--list_sizes] [LANG ...]

Downloads the 2018 Wikipedia plain-text dumps into DIR/{lang}.txt (one paragraph per line),
for the languages given as arguments or with --langs (default, the original 16:
$DEFAULT_LANGS).

Each {lang}.txt.gz is downloaded to DIR/{lang}.txt.gz.part (resumed if interrupted), checked
with 'gzip -t', then decompressed to a temporary name and renamed to DIR/{lang}.txt; the .gz
is deleted unless --keep_gz. Languages whose DIR/{lang}.txt exists are skipped.
The dumps are large (gigabytes for en/de/fr); the pipeline reads only the first
--max_sentences (1,000,000) lines of each, so 'head -n 2000000' of a file is enough.

Options:
  --langs=LIST     comma-separated language codes (dump file names, e.g. en, zh_classical)
  --data_dir=DIR   output directory (default: \$DATA_DIR or ./data)
  --keep_gz        keep DIR/{lang}.txt.gz after decompressing
  --list_sizes     only print the size of each .txt.gz (HTTP HEAD), download nothing
  -h, --help       show this help

Environment:
  WIKI_BASE_URL    base URL of the dumps (default: $DEFAULT_BASE_URL);
                   the file of a language is \$WIKI_BASE_URL/{lang}.txt.gz
  DATA_DIR         default of --data_dir
  DOWNLOAD_RETRIES, DOWNLOAD_RETRY_DELAY, DOWNLOAD_RETRY_MAX_DELAY, DOWNLOAD_CONNECT_TIMEOUT,
  DOWNLOAD_STALL_SECONDS   retry/backoff/timeout settings (see tools/download_lib.sh)
EOF
}

# shellcheck source=tools/download_lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tools/download_lib.sh"

langs_arg=""
data_dir="${DATA_DIR:-data}"
keep_gz=0
list_sizes=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --langs=*) langs_arg="$langs_arg ${1#--langs=}" ;;
    --langs) [ $# -ge 2 ] || { echo "error: --langs needs a value" >&2; exit 2; }; langs_arg="$langs_arg $2"; shift ;;
    --data_dir=*) data_dir="${1#--data_dir=}" ;;
    --data_dir) [ $# -ge 2 ] || { echo "error: --data_dir needs a value" >&2; exit 2; }; data_dir="$2"; shift ;;
    --keep_gz) keep_gz=1 ;;
    --list_sizes) list_sizes=1 ;;
    -*) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) langs_arg="$langs_arg $1" ;;
  esac
  shift
done
[ -n "$data_dir" ] || { echo "error: --data_dir is empty" >&2; exit 2; }

mapfile -t langs < <(dl_split_langs "${langs_arg:-$DEFAULT_LANGS}")
[ "${#langs[@]}" -gt 0 ] || { echo "error: no language given" >&2; exit 2; }
for lang in "${langs[@]}"; do
  case "$lang" in
    *[!a-z_-]*) echo "error: invalid language code '$lang' (expected e.g. en, zh_classical)" >&2; exit 2 ;;
  esac
done

dl_require curl gzip awk
base_url="${WIKI_BASE_URL:-$DEFAULT_BASE_URL}"
base_url="${base_url%/}"

if [ "$list_sizes" = 1 ]; then
  total=0
  for lang in "${langs[@]}"; do
    url="$base_url/$lang.txt.gz"
    # The last Content-Length of the redirect chain is the file's.
    size="$(curl --silent --head --location --fail --max-redirs 10 \
      --connect-timeout "$DL_CONNECT_TIMEOUT" --max-time 60 -- "$url" \
      | tr -d '\r' | awk 'tolower($1) == "content-length:" { v = $2 } END { print v }')" || size=""
    if [ -n "$size" ]; then
      total=$((total + size))
      printf '%-13s %15s bytes  %s\n' "$lang" "$size" "$url"
    else
      printf '%-13s %15s        %s\n' "$lang" "unknown" "$url"
    fi
  done
  printf '%-13s %15s bytes compressed (decompressed text is several times larger)\n' total "$total"
  exit 0
fi

mkdir -p -- "$data_dir"
tmp=""
trap 'if [ -n "$tmp" ]; then rm -f -- "$tmp"; fi' EXIT

for lang in "${langs[@]}"; do
  txt="$data_dir/$lang.txt"
  gz="$data_dir/$lang.txt.gz"
  if [ -e "$txt" ]; then
    dl_log "$txt is already complete, skipping"
    continue
  fi
  dl_download "$base_url/$lang.txt.gz" "$gz" dl_verify_gzip
  dl_log "decompressing $gz -> $txt"
  tmp="$data_dir/.$lang.txt.tmp"
  if ! gzip -dc -- "$gz" > "$tmp"; then
    rm -f -- "$tmp"
    dl_die "$gz: decompression failed (disk full?); delete it to download again"
  fi
  mv -f -- "$tmp" "$txt"
  if [ "$keep_gz" = 0 ]; then rm -f -- "$gz"; fi
  dl_log "$txt: $(wc -c < "$txt" | tr -d ' ') bytes"
done
dl_log "Wikipedia dumps ready in $data_dir: ${langs[*]}"
