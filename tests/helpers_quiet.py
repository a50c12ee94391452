"""What the quiet-output tests share (test_quiet.py, test_pipeline_demo.py): TensorFlow's and
absl's log chatter, which a run without --verbosity must not print."""

import re

CHATTER = ["Sharding callback duration", "Assets written to", "which will be renamed",
           "cuInit", "Writing fingerprint", "oneDNN", "INFO:tensorflow", "WARNING:tensorflow"]
# glog/absl C++ lines ('I1126 09:04:42.41 ...', 'W0000 00:00:...') and TF's C++ lines
# ('2026-11-26 09:04:39.27: I tensorflow/...').
LOG_LINE = re.compile(r"^([IWE]\d{4} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWE] )",
                      re.M)


def assert_no_chatter(output: str) -> None:
  found = [c for c in CHATTER if c in output] + LOG_LINE.findall(output)
  assert not found, (found, output[-3000:])
