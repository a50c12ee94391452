#!/usr/bin/env python3
"""Run time of notebooks/evaluate_tatoeba.ipynb, executed headless as the test does.

Needs a work directory holding an original and a smaller model in LaBSE/2's format, e.g.
the demo's (`./run_pipeline.sh --demo --workdir=/tmp/demo`) or the full-size stand-in
that bench/bench_stages.py leaves in its --workdir:

  python bench/bench_notebook.py --workdir=/tmp/demo --langs=fra,deu,rus \\
      --smaller=models/LaBSE_en-fr-de/1 --data_dir=data/tatoeba/v1
  python bench/bench_notebook.py --workdir=/tmp/bench_stages \\
      --data_dir=$PWD/../shared/data/tatoeba_dev

Prints the notebook's own outputs (table, sentences/s, its run time) and the wall time of
the whole execution, kernel start included.
"""

import os
import sys
import time

from absl import app, flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string("workdir", "/tmp/bench_stages", "The notebook's WORKDIR.")
flags.DEFINE_string("original", "downloads/labse-2", "ORIGINAL (relative to --workdir).")
flags.DEFINE_string("smaller", "models/LaBSE_en-fr-es-de-zh-ar-zh_classical-it-ja-ko-nl-pl-pt-th-"
                    "tr-ru/1", "SMALLER (relative to --workdir).")
flags.DEFINE_string("langs", "fra,spa,deu,cmn,ara,ita,jpn,kor,nld,pol,por,tha,tur,rus", "LANGS.")
flags.DEFINE_string("data_dir", "data/tatoeba/v1", "DATA_DIR (complete pairs; no download).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import nbclient  # pylint: disable=import-outside-toplevel
  import nbformat  # pylint: disable=import-outside-toplevel
  notebook = nbformat.read(os.path.join(ROOT, "notebooks", "evaluate_tatoeba.ipynb"), 4)
  (index,) = [i for i, cell in enumerate(notebook.cells)
              if "parameters" in cell.metadata.get("tags", [])]
  parameters = (f"ORIGINAL = {FLAGS.original!r}\nSMALLER = {FLAGS.smaller!r}\n"
                f"LANGS = {FLAGS.langs!r}\nDATA_DIR = {FLAGS.data_dir!r}\nDOWNLOAD = False\n"
                f"WORKDIR = {os.path.abspath(FLAGS.workdir)!r}\n")
  notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(parameters))
  start = time.perf_counter()
  nbclient.NotebookClient(notebook, kernel_name="python3", timeout=3600,
                          resources={"metadata": {"path": os.path.join(ROOT, "notebooks")}}
                          ).execute()
  wall = time.perf_counter() - start
  for cell in notebook.cells:
    for output in cell.get("outputs", []):
      if output.get("name") == "stdout":
        sys.stdout.write(output["text"])
  print(f"notebook executed in {wall:.1f} s (kernel start included)")


if __name__ == "__main__":
  app.run(main)
