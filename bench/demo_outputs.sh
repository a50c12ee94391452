#!/usr/bin/env bash
# Runs the offline demo of each checkout given, in turn, in the same work directory, and prints
# the files of models/ and selected_tokens/ that differ between the first checkout's run and each
# other's. Name a checkout twice to see which files differ from one run to the next of the same
# code (TensorFlow writes fresh fingerprints, and the preprocessor's graph, each time).
#
#   bench/demo_outputs.sh OLD_CHECKOUT OLD_CHECKOUT NEW_CHECKOUT
set -euo pipefail
work="${DEMO_WORKDIR:-/tmp/demo_outputs_workdir}"
repos=("$@")
sums=()
for repo in "${repos[@]}"; do
  rm -rf "$work"
  (cd "$repo" && ./run_pipeline.sh --demo --workdir="$work" > /dev/null)
  out="$(mktemp)"
  (cd "$work" && find models selected_tokens -type f | LC_ALL=C sort | xargs sha256sum) > "$out"
  sums+=("$out")
  echo "$repo: $(wc -l < "$out") files"
done
for i in "${!sums[@]}"; do
  [ "$i" = 0 ] && continue
  echo "--- run 1 (${repos[0]}) vs run $((i + 1)) (${repos[$i]}): files that differ"
  join -j 2 <(sort -k2 "${sums[0]}") <(sort -k2 "${sums[$i]}") | awk '$2 != $3 {print "  " $1}'
  echo "  ($(join -j 2 <(sort -k2 "${sums[0]}") <(sort -k2 "${sums[$i]}") | awk '$2 == $3' | wc -l) identical)"
done
rm -rf "$work" "${sums[@]}"
