"""Running a benchmark's command under /usr/bin/time -v: its wall time and peak RSS."""

import re
import subprocess
from typing import List, Mapping, Optional, Tuple


def run_timed(command: List[str], env: Mapping[str, str], cwd: Optional[str] = None,
              name: Optional[str] = None) -> Tuple[str, float, int]:
  """Runs `command` under /usr/bin/time -v: (stdout, wall seconds, peak RSS bytes).

  Exits with the tail of its stderr, headed by `name` (default: the command), if it fails.
  """
  result = subprocess.run(["/usr/bin/time", "-v", *command], cwd=cwd, env=dict(env),
                          capture_output=True, text=True)
  if result.returncode != 0:
    raise SystemExit(f"{name or ' '.join(command)} failed:\n{result.stderr[-3000:]}")
  wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", result.stderr)[1]
  seconds = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall.split(":"))))
  rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)[1]) * 1024
  return result.stdout, seconds, rss
