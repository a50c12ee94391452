#!/usr/bin/env bash
# Downloads the 2018 Wikipedia plain-text dumps (LINDAT/CLARIAH-CZ, handle 11234/1-2735) that
# the original smaller-LaBSE used, into data/{lang}.txt: by default only the lines stage 2 reads.
set -euo pipefail

readonly DEFAULT_LANGS="en fr es de zh ar zh_classical it ja ko nl pl pt th tr ru"
readonly DEFAULT_BASE_URL="https://lindat.mff.cuni.cz/repository/xmlui/bitstream/handle/11234/1-2735"
readonly DEFAULT_MAX_LINES=1000000  # select_vocab.py --max_sentences
readonly DEFAULT_MIN_CHARS=5  # select_vocab.py --min_chars

usage() {
  cat <<EOF
Usage: $(basename "$0") [--langs=en,fr,...] [--data_dir=DIR] [--max_lines=N | --full [--keep_gz]]
                           [--min_chars=M] [--list_sizes] [LANG ...]

Downloads the 2018 Wikipedia plain-text dumps into DIR/{lang}.txt (one paragraph per line),
for the languages given as arguments or with --langs (default, the original 16:
$DEFAULT_LANGS).

By default only what stage 2 reads is downloaded: each {lang}.txt.gz is streamed
(curl | gzip -dc) and the transfer stops as soon as the text holds N lines of more than M
characters (--max_lines=$DEFAULT_MAX_LINES, --min_chars=$DEFAULT_MIN_CHARS: select_vocab.py's
--max_sentences and --min_chars). Characters are counted exactly as select_vocab.py counts
them (tf.data.TextLineDataset lines, a final '\\r' removed, tf.strings.length in UTF-8
characters: the bytes that are not UTF-8 continuation bytes), so the file ends with the N-th
such line and stage 2 reads the same lines from it as from the whole dump. The text goes to a
temporary name, renamed to DIR/{lang}.txt once complete; a cut connection starts that language
over from its first byte (retries as below). A dump with fewer such lines is kept whole.

--full downloads whole dumps (gigabytes for en/de/fr): DIR/{lang}.txt.gz.part (resumed if
interrupted), checked with 'gzip -t', decompressed to a temporary name and renamed to
DIR/{lang}.txt; the .gz is deleted unless --keep_gz.

Each DIR/{lang}.txt gets a sidecar DIR/{lang}.txt.json: url, lines (in the file), long_lines
(those of more than min_chars characters), min_chars, bytes (the file's size), prefix (true: the
file is the beginning of the dump only) and max_lines (the request; null for --full). A
language is skipped when its file serves the request: the whole dump, or a prefix with at least
N long lines for the same min_chars and URL. A DIR/{lang}.txt without a sidecar (cut by hand,
or made by an older version) is used as it is; delete it to download again.

Options:
  --langs=LIST     comma-separated language codes (dump file names, e.g. en, zh_classical)
  --data_dir=DIR   output directory (default: \$DATA_DIR or ./data)
  --max_lines=N    stop each dump after N lines of more than --min_chars characters
                   (default $DEFAULT_MAX_LINES)
  --min_chars=M    a long line has more than M characters (default $DEFAULT_MIN_CHARS)
  --full           download whole dumps instead
  --keep_gz        with --full: keep DIR/{lang}.txt.gz after decompressing
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
full=0
max_lines="$DEFAULT_MAX_LINES"
max_lines_given=0
min_chars="$DEFAULT_MIN_CHARS"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --langs=*) langs_arg="$langs_arg ${1#--langs=}" ;;
    --langs) [ $# -ge 2 ] || { echo "error: --langs needs a value" >&2; exit 2; }; langs_arg="$langs_arg $2"; shift ;;
    --data_dir=*) data_dir="${1#--data_dir=}" ;;
    --data_dir) [ $# -ge 2 ] || { echo "error: --data_dir needs a value" >&2; exit 2; }; data_dir="$2"; shift ;;
    --max_lines=*) max_lines="${1#--max_lines=}"; max_lines_given=1 ;;
    --min_chars=*) min_chars="${1#--min_chars=}" ;;
    --full) full=1 ;;
    --keep_gz) keep_gz=1 ;;
    --list_sizes) list_sizes=1 ;;
    -*) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) langs_arg="$langs_arg $1" ;;
  esac
  shift
done
[ -n "$data_dir" ] || { echo "error: --data_dir is empty" >&2; exit 2; }
case "$max_lines" in
  ''|*[!0-9]*|0) echo "error: --max_lines must be a positive integer, got '$max_lines'" >&2; exit 2 ;;
esac
case "$min_chars" in
  ''|*[!0-9]*) echo "error: --min_chars must be a non-negative integer, got '$min_chars'" >&2; exit 2 ;;
esac
if [ "$full" = 1 ] && [ "$max_lines_given" = 1 ]; then
  echo "error: --full and --max_lines exclude each other" >&2; exit 2
fi
if [ "$keep_gz" = 1 ] && [ "$full" = 0 ]; then
  echo "error: --keep_gz needs --full (a streamed dump is never stored compressed)" >&2; exit 2
fi

mapfile -t langs < <(dl_split_langs "${langs_arg:-$DEFAULT_LANGS}")
[ "${#langs[@]}" -gt 0 ] || { echo "error: no language given" >&2; exit 2; }
for lang in "${langs[@]}"; do
  case "$lang" in
    *[!a-z_-]*) echo "error: invalid language code '$lang' (expected e.g. en, zh_classical)" >&2; exit 2 ;;
  esac
done

dl_require curl gzip awk sed
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

# count_lines MAX MIN_CHARS STATS PROGRESS < text > text
# Copies lines until MAX lines of more than MIN_CHARS characters are copied (MAX=0: all of them),
# and stops when it reads the line after the last one needed: that one was then whole (ended by
# '\n'), even if the stream is cut right after it. Characters are counted as select_vocab.py
# counts them: TextLineDataset drops a final '\r', tf.strings.length(unit="UTF8_CHAR") counts
# the bytes that are not UTF-8 continuation bytes (0x80-0xBF), invalid UTF-8 included; awk runs
# bytewise (LC_ALL=C). A last line without '\n' gets one. Writes "LINES LONG_LINES REACHED" to
# STATS (REACHED=1: it stopped before the end of its input).
count_lines() {
  LC_ALL=C awk -v max="$1" -v min="$2" -v stats="$3" -v progress="$4" '
    max > 0 && long >= max { reached = 1; exit }
    {
      line = $0
      sub(/\r$/, "", line)
      n = length(line)
      n -= gsub(/[\200-\277]/, "", line)
      if (n > min) long++
      print
      lines++
      if (progress && lines % 100000 == 0) printf "\r  %d lines, %d long", lines, long > "/dev/stderr"
    }
    END {
      if (progress && lines >= 100000) printf "\n" > "/dev/stderr"
      printf "%d %d %d\n", lines, long, reached > stats
    }'
}

_json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

# write_sidecar PATH URL LINES LONG_LINES MIN_CHARS BYTES PREFIX(true|false) MAX_LINES(N|null)
write_sidecar() {
  printf '{\n  "bytes": %s,\n  "lines": %s,\n  "long_lines": %s,\n  "max_lines": %s,\n  "min_chars": %s,\n  "prefix": %s,\n  "url": %s\n}\n' \
    "$6" "$3" "$4" "$8" "$5" "$7" "$(_json_string "$2")" > "$1.tmp"
  mv -f -- "$1.tmp" "$1"
}

# sidecar_value PATH KEY: a value write_sidecar wrote (a string unquoted).
sidecar_value() {
  sed -n "s/^  \"$2\": \(.*\)\$/\1/p" "$1" | sed 's/,$//; s/^"\(.*\)"$/\1/; s/\\"/"/g; s/\\\\/\\/g'
}

# enough_for_request TXT URL MAX_LINES(0: the whole dump) MIN_CHARS
# True (saying why) when TXT serves the request as it is; false when it must be downloaded.
enough_for_request() {
  local txt="$1" url="$2" max="$3" min="$4" meta="$1.json" have min_have
  [ -e "$txt" ] || return 1
  if [ ! -e "$meta" ]; then
    dl_log "$txt exists without a sidecar ($meta): used as it is (delete it to download again)"
    return 0
  fi
  if [ "$(sidecar_value "$meta" bytes)" != "$(_dl_size "$txt")" ]; then
    dl_log "$txt does not match its sidecar $meta: downloading again"
    return 1
  fi
  if [ "$(sidecar_value "$meta" url)" != "$url" ]; then
    dl_log "$txt came from $(sidecar_value "$meta" url), not $url: downloading again"
    return 1
  fi
  if [ "$(sidecar_value "$meta" prefix)" = false ]; then
    dl_log "$txt is already complete (the whole dump), skipping"
    return 0
  fi
  have="$(sidecar_value "$meta" long_lines)"
  min_have="$(sidecar_value "$meta" min_chars)"
  if [ "$max" -gt 0 ] && [ "$min_have" = "$min" ] && [ "$have" -ge "$max" ]; then
    dl_log "$txt is already complete ($have lines of more than $min characters, $max requested), skipping"
    return 0
  fi
  if [ "$max" = 0 ]; then
    dl_log "$txt is the beginning of the dump only; --full: downloading the whole dump"
  else
    dl_log "$txt holds $have lines of more than $min_have characters, $max of more than $min requested: downloading again"
  fi
  return 1
}

# finish_stream URL TXT LINES LONG_LINES MIN_CHARS PREFIX MAX_LINES
# The sidecar, then the text ($tmp) into place: a sidecar without its text is harmless.
finish_stream() {
  local bytes
  bytes="$(_dl_size "$tmp")"
  write_sidecar "$2.json" "$1" "$3" "$4" "$5" "$bytes" "$6" "$7"
  mv -f -- "$tmp" "$2"
  rm -f -- "$tmp.stats" "$tmp.curl" "$tmp.gzip"
  if [ "$6" = true ]; then
    dl_log "$2: $bytes bytes, the dump's first $3 lines ($4 of more than $5 characters)"
  else
    dl_log "$2: $bytes bytes, $3 lines: the whole dump ($4 of more than $5 characters)"
  fi
}

# stream_prefix URL TXT MAX_LINES MIN_CHARS
# Makes TXT the dump's lines up to its MAX_LINES-th line of more than MIN_CHARS characters (the
# whole dump when it has fewer), stopping the transfer there, with its sidecar. A failed
# transfer starts over from the first byte: a gzip stream cannot be resumed midway. Retries and
# backoff as dl_fetch (tools/download_lib.sh); a stream that is not valid gzip is fetched once
# more, then reported as corrupt.
stream_prefix() {
  local url="$1" txt="$2" max="$3" min="$4" attempt=0 corrupt=0 delay="$DL_RETRY_DELAY"
  local progress=0 reason out code msg n_lines n_long reached curl_rc gzip_rc awk_rc
  local -a status
  if [ -t 2 ]; then progress=1; fi
  while :; do
    attempt=$((attempt + 1))
    dl_log "streaming $url -> $txt (until $max lines of more than $min characters)"
    rm -f -- "$tmp" "$tmp.stats"
    set +e
    curl --location --fail --max-redirs 10 --silent \
      --connect-timeout "$DL_CONNECT_TIMEOUT" \
      --speed-limit 1024 --speed-time "$DL_STALL_SECONDS" \
      --write-out '%{stderr}%{http_code} %{errormsg}' -- "$url" 2> "$tmp.curl" \
      | gzip -dc 2> "$tmp.gzip" \
      | count_lines "$max" "$min" "$tmp.stats" "$progress" > "$tmp"
    status=("${PIPESTATUS[@]}")
    set -e
    curl_rc="${status[0]}" gzip_rc="${status[1]}" awk_rc="${status[2]}"
    n_lines=0 n_long=0 reached=0
    if [ -s "$tmp.stats" ]; then read -r n_lines n_long reached < "$tmp.stats"; fi
    if [ "$awk_rc" != 0 ]; then
      dl_die "$url: cannot write $tmp (disk full or not writable?)"
    fi
    # Stopping early closes the pipe: curl then exits 23 and gzip dies of SIGPIPE (or fails
    # to write). Both are expected once the last line needed was read whole.
    if [ "$reached" = 1 ]; then
      finish_stream "$url" "$txt" "$n_lines" "$n_long" "$min" true "$max"
      return 0
    fi
    if [ "$curl_rc" = 0 ] && [ "$gzip_rc" = 0 ]; then
      finish_stream "$url" "$txt" "$n_lines" "$n_long" "$min" false "$max"
      return 0
    fi
    out="$(cat -- "$tmp.curl")"
    code="${out%% *}"
    msg="${out#* }"
    case "$curl_rc" in
      0|23)  # the whole body came (or gzip gave up first): it is not a valid gzip stream
        reason="not a valid gzip stream: $(head -n 1 -- "$tmp.gzip" | sed 's/^gzip: //; s/^stdin: //')"
        if [ "$corrupt" = 1 ]; then
          rm -f -- "$tmp"
          dl_die "$url: corrupt download ($reason); nothing was kept"
        fi
        corrupt=1 ;;
      22)
        case "$code" in
          408|425|429|5??) reason="HTTP $code" ;;
          *) rm -f -- "$tmp"; dl_die "$url: HTTP $code${msg:+ ($msg)}; check the URL or the base URL variable" ;;
        esac ;;
      5|6|7|16|18|28|35|52|55|56|92) reason="${msg:-curl exit $curl_rc}" ;;
      *) rm -f -- "$tmp"; dl_die "$url: download failed (curl exit $curl_rc${msg:+: $msg})" ;;
    esac
    if [ "$attempt" -ge "$DL_RETRIES" ]; then
      rm -f -- "$tmp"
      dl_die "$url: giving up after $attempt attempts (last: $reason)"
    fi
    dl_log "$url: $reason after $n_lines lines; starting over in ${delay}s (attempt $((attempt + 1)) of $DL_RETRIES)"
    sleep "$delay"
    delay="$(awk -v d="$delay" -v m="$DL_RETRY_MAX_DELAY" 'BEGIN { d *= 2; if (d > m) d = m; print d }')"
  done
}

mkdir -p -- "$data_dir"
tmp=""
trap 'if [ -n "$tmp" ]; then rm -f -- "$tmp" "$tmp.stats" "$tmp.curl" "$tmp.gzip"; fi' EXIT

for lang in "${langs[@]}"; do
  txt="$data_dir/$lang.txt"
  gz="$data_dir/$lang.txt.gz"
  url="$base_url/$lang.txt.gz"
  tmp="$data_dir/.$lang.txt.tmp"
  if [ "$full" = 1 ]; then request=0; else request="$max_lines"; fi
  if enough_for_request "$txt" "$url" "$request" "$min_chars"; then
    continue
  fi
  # An insufficient file goes first, with its sidecar, so that a sidecar never describes
  # another file than the one beside it.
  rm -f -- "$txt.json" "$txt"
  if [ "$full" = 0 ]; then
    stream_prefix "$url" "$txt" "$max_lines" "$min_chars"
    continue
  fi
  dl_download "$url" "$gz" dl_verify_gzip
  dl_log "decompressing $gz -> $txt"
  if ! gzip -dc -- "$gz" | count_lines 0 "$min_chars" "$tmp.stats" 0 > "$tmp"; then
    rm -f -- "$tmp"
    dl_die "$gz: decompression failed (disk full?); delete it to download again"
  fi
  read -r n_lines n_long _ < "$tmp.stats"
  finish_stream "$url" "$txt" "$n_lines" "$n_long" "$min_chars" false null
  if [ "$keep_gz" = 0 ]; then rm -f -- "$gz"; fi
done
dl_log "Wikipedia dumps ready in $data_dir: ${langs[*]}"
