# shellcheck shell=bash
# Shared helpers of download_model.sh, download_dataset.sh and download_tatoeba_dataset.sh.
# Source it from a script running under `set -euo pipefail`.
#
# What every download gets:
#   - a temporary name next to the target (`X.part`) kept across runs, resumed with an HTTP
#     Range request (`curl -C -`); a server that ignores Range makes it start over;
#   - retries of transient failures (HTTP 408/425/429/5xx, connection refused/reset, a cut or
#     stalled transfer) with exponential backoff;
#   - a check of the complete file (the caller's verify function) before it is renamed onto
#     `X`; a file that fails it is downloaded once more from scratch (a stale partial or a
#     transfer truncated without the server saying so), and a second failure is an error;
#   - one clear `error: ...` line naming the URL, and exit status 1, on a 404 or another
#     permanent HTTP error, on a corrupt file, or when the retries run out.
#
# Environment (all optional):
#   DOWNLOAD_RETRIES          attempts per file before giving up (default 5)
#   DOWNLOAD_RETRY_DELAY      first backoff delay in seconds, doubled after each failure (default 2)
#   DOWNLOAD_RETRY_MAX_DELAY  upper bound of the backoff delay in seconds (default 60)
#   DOWNLOAD_CONNECT_TIMEOUT  seconds to wait for a connection (default 30)
#   DOWNLOAD_STALL_SECONDS    abort (then retry, resuming) a transfer that stays below 1 KB/s
#                             for this many seconds (default 120)

DL_RETRIES="${DOWNLOAD_RETRIES:-5}"
DL_RETRY_DELAY="${DOWNLOAD_RETRY_DELAY:-2}"
DL_RETRY_MAX_DELAY="${DOWNLOAD_RETRY_MAX_DELAY:-60}"
DL_CONNECT_TIMEOUT="${DOWNLOAD_CONNECT_TIMEOUT:-30}"
DL_STALL_SECONDS="${DOWNLOAD_STALL_SECONDS:-120}"

# Exit (running the scripts' EXIT traps, which remove temporaries) on Ctrl-C or a kill.
trap 'exit 130' INT
trap 'exit 143' TERM

# Set by verify functions to say why a file was rejected.
DL_VERIFY_ERROR=""

dl_log() { printf '%s\n' "$*" >&2; }

# One line on stderr, exit 1.
dl_die() {
  printf 'error: %s\n' "$(printf '%s' "$*" | tr '\n' ' ')" >&2
  exit 1
}

dl_require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || dl_die "'$tool' is required but not installed"
  done
}

_dl_check_number() {  # name value
  case "$2" in
    ''|*[!0-9.]*|*.*.*) dl_die "$1 must be a non-negative number, got '$2'" ;;
  esac
}
_dl_check_number DOWNLOAD_RETRY_DELAY "$DL_RETRY_DELAY"
_dl_check_number DOWNLOAD_RETRY_MAX_DELAY "$DL_RETRY_MAX_DELAY"
_dl_check_number DOWNLOAD_CONNECT_TIMEOUT "$DL_CONNECT_TIMEOUT"
case "$DL_RETRIES" in ''|*[!0-9]*|0) dl_die "DOWNLOAD_RETRIES must be a positive integer, got '$DL_RETRIES'" ;; esac
case "$DL_STALL_SECONDS" in ''|*[!0-9]*|0) dl_die "DOWNLOAD_STALL_SECONDS must be a positive integer, got '$DL_STALL_SECONDS'" ;; esac

_dl_size() { if [ -f "$1" ]; then wc -c < "$1" | tr -d ' '; else echo 0; fi; }

# Lines in a file, counting a last line without '\n' too.
dl_count_lines() { awk 'END { print NR }' "$1"; }

# dl_fetch URL PART
# Downloads URL into PART, resuming what PART already holds. Returns when curl has finished
# the transfer (or the server says PART is already complete); exits on permanent errors.
dl_fetch() {
  local url="$1" part="$2" attempt=0 delay="$DL_RETRY_DELAY" rc out code msg reason resume
  local -a progress=(--silent)
  # A progress bar for people watching; curl then prints its own error lines too.
  if [ -t 2 ]; then progress=(--progress-bar); fi
  while :; do
    attempt=$((attempt + 1))
    rc=0
    out="$(curl --location --fail --max-redirs 10 --continue-at - \
      --connect-timeout "$DL_CONNECT_TIMEOUT" \
      --speed-limit 1024 --speed-time "$DL_STALL_SECONDS" \
      "${progress[@]}" --output "$part" \
      --write-out '%{http_code} %{errormsg}' -- "$url")" || rc=$?
    code="${out%% *}"
    msg="${out#* }"
    case "$rc" in
      0) return 0 ;;
      22)
        case "$code" in
          416)
            # Range not satisfiable: PART already holds the whole file (or is stale);
            # the caller's verification decides.
            dl_log "$url: the server has nothing past byte $(_dl_size "$part"); checking what was downloaded"
            return 0 ;;
          408|425|429|5??) reason="HTTP $code" ;;
          *) dl_die "$url: HTTP $code${msg:+ ($msg)}; check the URL or the base URL variable" ;;
        esac ;;
      33|36)
        # The server ignores Range requests: start over.
        dl_log "$url: the server cannot resume downloads; starting over"
        rm -f -- "$part"
        reason="cannot resume" ;;
      5|6|7|16|18|28|35|52|55|56|92) reason="${msg:-curl exit $rc}" ;;
      23) dl_die "$url: cannot write $part (disk full or not writable?)" ;;
      *) dl_die "$url: download failed (curl exit $rc${msg:+: $msg})" ;;
    esac
    if [ "$attempt" -ge "$DL_RETRIES" ]; then
      dl_die "$url: giving up after $attempt attempts (last: $reason)"
    fi
    resume=""
    if [ -s "$part" ]; then resume=", resuming at byte $(_dl_size "$part")"; fi
    dl_log "$url: $reason; retrying in ${delay}s (attempt $((attempt + 1)) of $DL_RETRIES$resume)"
    sleep "$delay"
    delay="$(awk -v d="$delay" -v m="$DL_RETRY_MAX_DELAY" 'BEGIN { d *= 2; if (d > m) d = m; print d }')"
  done
}

# dl_download URL DEST VERIFY_FUNCTION
# Makes DEST a complete, verified copy of URL. Skips when DEST exists (only ever created by
# the rename below). VERIFY_FUNCTION FILE returns non-zero and sets DL_VERIFY_ERROR when FILE
# is not a complete, valid download.
dl_download() {
  local url="$1" dest="$2" verify="$3" part="$2.part" try
  if [ -e "$dest" ]; then
    dl_log "$dest is already complete, skipping"
    return 0
  fi
  mkdir -p -- "$(dirname -- "$dest")"
  for try in 1 2; do
    if [ -s "$part" ]; then
      dl_log "resuming $url -> $dest ($(_dl_size "$part") bytes already downloaded)"
    else
      dl_log "downloading $url -> $dest"
    fi
    dl_fetch "$url" "$part"
    DL_VERIFY_ERROR=""
    if "$verify" "$part"; then
      mv -f -- "$part" "$dest"
      return 0
    fi
    rm -f -- "$part"
    if [ "$try" = 1 ]; then
      dl_log "$url: the downloaded file failed verification (${DL_VERIFY_ERROR:-invalid}); downloading it again from scratch"
    fi
  done
  dl_die "$url: corrupt download (${DL_VERIFY_ERROR:-invalid}); nothing was kept"
}

# Verify functions for dl_download.
dl_verify_nonempty() {
  if [ ! -s "$1" ]; then DL_VERIFY_ERROR="empty file"; return 1; fi
}

dl_verify_gzip() {
  if [ ! -s "$1" ]; then DL_VERIFY_ERROR="empty file"; return 1; fi
  local err
  if ! err="$(gzip -t -- "$1" 2>&1)"; then
    DL_VERIFY_ERROR="not a valid gzip file: $(printf '%s' "$err" | head -n 1 | sed "s|$1: ||; s|^gzip: ||")"
    return 1
  fi
}

# dl_split_langs "en,fr de" -> one code per line; empty items dropped.
dl_split_langs() { printf '%s\n' "$*" | tr ', ' '\n\n' | sed '/^$/d'; }
