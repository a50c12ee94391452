#!/usr/bin/env bash
# Counts the Python interpreters a command starts (default: the whole suite, ./run_tests.sh) and
# times it. Every process the command starts is traced for execve only (strace -f, seccomp-bpf:
# the rest of each process runs untraced); a process counts as Python when the last program it
# executed is a python binary, whatever started it (pytest workers, the scripts, pip, bash).
#
#   bench/count_suite_processes.sh                       # the suite, from the checkout's root
#   PYTEST_WORKERS=1 bench/count_suite_processes.sh ./run_tests.sh tests/test_stage3.py
#
# Prints the wall time, the number of Python processes, and the programs they ran, most first.
# Needs strace (apt-get install strace); the trace is kept in $COUNT_LOG (default: a temp file).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log="${COUNT_LOG:-$(mktemp -t suite-execve.XXXXXX)}"
[ "$#" -gt 0 ] || set -- ./run_tests.sh
start=$(date +%s)
status=0
strace -f -qq --seccomp-bpf -e trace=execve -e signal=none -s 200 -o "$log" "$@" || status=$?
end=$(date +%s)
python3 - "$log" <<'EOF'
import collections, os, re, sys
last = {}  # pid -> (program, argv) of its last successful execve
for line in open(sys.argv[1], errors="replace"):
  m = re.match(r'(\d+)\s+execve\("([^"]*)", \[(.*)\], .*\) = 0$', line.strip())
  if m:
    last[m.group(1)] = (m.group(2), re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(3)))
what = collections.Counter()
for program, argv in last.values():
  if not re.fullmatch(r"python[0-9.]*", os.path.basename(program)):
    continue
  args = argv[1:]
  if args[:1] == ["-m"]:
    key = "-m " + args[1] if len(args) > 1 else "-m"
  elif args[:1] == ["-c"]:
    key = "-c (snippet)"
  elif args:
    key = os.path.basename(args[0])
  else:
    key = "(no arguments)"
  what[key] += 1
print(f"python processes: {sum(what.values())}")
for key, n in what.most_common():
  print(f"{n:6d}  {key}")
EOF
echo "wall time: $((end - start)) s (exit status $status); trace: $log"
exit "$status"
