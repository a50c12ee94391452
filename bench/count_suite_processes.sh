#!/usr/bin/env bash
# Counts the Python interpreters a command starts (default: the whole suite, ./run_tests.sh) and
# times it. Every process the command starts is traced for execve only (strace -f, seccomp-bpf:
# the rest of each process runs untraced); a process counts as Python when the last program it
# executed is a python binary, whatever started it (pytest workers, the scripts, pip, bash).
#
#   bench/count_suite_processes.sh                       # the suite, from the checkout's root
#   PYTEST_WORKERS=1 bench/count_suite_processes.sh ./run_tests.sh tests/test_stage3.py
#
#   bench/count_suite_processes.sh --log TRACE             # count an earlier run's trace again
#
# Prints the wall time, the number of Python processes, and the programs they ran, most first.
# A script run directly counts when its #! line names python (an installed console script such
# as smaller-labse counts by that name, in case its environment is gone).
# Needs strace (apt-get install strace); the trace is kept in $COUNT_LOG (default: a temp file).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
if [ "${1:-}" = "--log" ]; then
  log="$2"
else
  log="${COUNT_LOG:-$(mktemp -t suite-execve.XXXXXX)}"
  [ "$#" -gt 0 ] || set -- ./run_tests.sh
  start=$(date +%s)
  strace -f -qq --seccomp-bpf -e trace=execve -e signal=none -s 200 -o "$log" "$@" || status=$?
  echo "wall time: $(($(date +%s) - start)) s (exit status $status)"
fi
python3 - "$log" <<'EOF'
import collections, os, re, sys
last = {}  # pid -> (program, argv) of its last successful execve
for line in open(sys.argv[1], errors="replace"):
  m = re.match(r'(\d+)\s+execve\("([^"]*)", \[(.*)\], .*\) = 0$', line.strip())
  if m:
    last[m.group(1)] = (m.group(2), re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(3)))
def is_python(program):
  name = os.path.basename(program)
  if re.fullmatch(r"python[0-9.]*", name) or name == "smaller-labse":
    return True
  try:  # A script run directly: its #! line.
    with open(program, "rb") as f:
      first = f.readline(200)
  except OSError:
    return False
  return first.startswith(b"#!") and b"python" in first and b"sh" not in first.split(b"/")[-1]

what = collections.Counter()
for program, argv in last.values():
  if not is_python(program):
    continue
  if not re.fullmatch(r"python[0-9.]*", os.path.basename(program)):
    argv = [program] + argv  # The script is the interpreter's first argument.
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
echo "trace: $log"
exit "$status"
