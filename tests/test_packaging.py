"""pyproject.toml: `pip install .` / `pip install git+URL` builds the smaller_labse package."""

import glob
import os
import shutil
import subprocess
import sys
import zipfile

from conftest import ROOT


def test_wheel_holds_the_package_and_the_requirements(tmp_path):
  # Built from a copy: an in-tree build would leave build/ and *.egg-info in the checkout.
  src = tmp_path / "src"
  src.mkdir()
  for name in ("pyproject.toml", "requirements.txt", "README.md"):
    shutil.copy(os.path.join(ROOT, name), src)
  shutil.copytree(os.path.join(ROOT, "smaller_labse"), src / "smaller_labse",
                  ignore=shutil.ignore_patterns("__pycache__"))
  # Offline: the build backend comes from this environment, as --no-build-isolation says.
  result = subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps",
                           "--no-build-isolation", "--no-index", "-q", "-w", str(tmp_path / "dist")],
                          cwd=src, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  (wheel,) = glob.glob(str(tmp_path / "dist" / "smaller_labse-*.whl"))
  with zipfile.ZipFile(wheel) as archive:
    names = set(archive.namelist())
    metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
  modules = {os.path.relpath(p, ROOT).replace(os.sep, "/")
             for p in glob.glob(os.path.join(ROOT, "smaller_labse", "**", "*.py"), recursive=True)}
  assert {"smaller_labse/counting.py", "smaller_labse/tatoeba/__init__.py",
          "smaller_labse/tatoeba/hub_model.py"} <= modules <= names
  requires = [line.split(":", 1)[1].strip() for line in metadata.decode().splitlines()
              if line.startswith("Requires-Dist:")]
  wanted = [line.strip() for line in open(os.path.join(ROOT, "requirements.txt"))
            if line.strip() and not line.startswith("#")]
  # Same requirements (the metadata may reorder a specifier's clauses).
  assert [r.split("=")[0].split("<")[0].split(">")[0] for r in requires] == \
         [w.split("=")[0].split("<")[0].split(">")[0] for w in wanted]
