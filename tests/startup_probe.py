"""Runs a program as a user starts it and, at its exit, writes which heavy libraries it imported.

  python tests/startup_probe.py OUT.json SCRIPT.py ARGS...
  python tests/startup_probe.py OUT.json -m MODULE ARGS...

The program runs as __main__ in this process (runpy), so its exit status, stdout and stderr are
its own; at exit (sys.exit included) OUT.json gets the sorted list of HEAVY modules in
sys.modules. tests/test_startup.py runs every entry point through it.
"""

import atexit
import json
import runpy
import sys

HEAVY = ("tensorflow", "torch", "transformers", "sentence_transformers")


def main() -> None:
  out, target, args = sys.argv[1], sys.argv[2], sys.argv[3:]

  def report() -> None:
    with open(out, "w", encoding="utf-8") as f:
      json.dump(sorted(m for m in HEAVY if m in sys.modules), f)

  atexit.register(report)
  if target == "-m":
    sys.argv = [args[0], *args[1:]]
    runpy.run_module(args[0], run_name="__main__", alter_sys=True)
  else:
    sys.argv = [target, *args]
    sys.path[0] = __import__("os").path.dirname(target)
    runpy.run_path(target, run_name="__main__")


if __name__ == "__main__":
  main()
