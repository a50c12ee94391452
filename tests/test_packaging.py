"""pyproject.toml: `pip install .` / `pip install git+URL` builds the smaller_labse package."""

import glob
import os
import zipfile

from conftest import ROOT


def test_wheel_holds_the_package_the_command_and_the_requirements(wheel):
  with zipfile.ZipFile(wheel) as archive:
    names = set(archive.namelist())
    metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt")))
    shell = {n: archive.read(n) for n in names if n.endswith(".sh")}
  modules = {os.path.relpath(p, ROOT).replace(os.sep, "/")
             for p in glob.glob(os.path.join(ROOT, "smaller_labse", "**", "*.py"), recursive=True)}
  assert {"smaller_labse/vocabulary/tf_counting.py", "smaller_labse/tatoeba/__init__.py",
          "smaller_labse/tatoeba/hub_model.py", "smaller_labse/commands/select.py"} <= modules <= names
  assert "smaller-labse = smaller_labse.cli:main" in entry_points.decode()
  # The download scripts, as files (not links), with what they source.
  for script in ("download_model.sh", "download_dataset.sh", "download_tatoeba_dataset.sh",
                 "tools/download_lib.sh"):
    with open(os.path.join(ROOT, script), "rb") as f:
      assert shell[f"smaller_labse/shell/{script}"] == f.read()
  requires = [line.split(":", 1)[1].strip() for line in metadata.decode().splitlines()
              if line.startswith("Requires-Dist:")]
  wanted = [line.strip() for line in open(os.path.join(ROOT, "requirements.txt"))
            if line.strip() and not line.startswith("#")]
  # Same requirements (the metadata may reorder a specifier's clauses).
  assert [r.split("=")[0].split("<")[0].split(">")[0] for r in requires] == \
         [w.split("=")[0].split("<")[0].split(">")[0] for w in wanted]
