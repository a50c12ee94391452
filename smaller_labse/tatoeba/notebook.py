"""What notebooks/evaluate_tatoeba.ipynb calls: models from any source, the device, charts.

The notebook holds parameters and calls; the evaluation itself is `tatoeba.evaluate`.
Models come from local TF Hub-format directories (the pipeline's `models/`,
`downloads/labse-2`), TF Hub / Kaggle handles (resolved and cached by
`tensorflow_hub.resolve`), or Sentence Transformers export directories (modules.json).
matplotlib is imported only by the chart functions.
"""

import dataclasses
import os
import subprocess
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from smaller_labse import downloads, languages, tatoeba
from smaller_labse.errors import InputError

LABSE_PREPROCESS_HANDLE = ("https://tfhub.dev/google/universal-sentence-encoder-cmlm/"
                           "multilingual-preprocess/2")
# Padded tokens per batch on a GPU: LaBSE's activations for 32k tokens take about 0.5 GB.
GPU_MAX_BATCH_TOKENS = 32768
# The README snippet's two sentences, then two sentences in four languages.
HEATMAP_SENTENCES = [
    "Hello, world!", "Bonjour tout le monde\u202f!",
    "The cat is sleeping on the sofa.", "Le chat dort sur le canapé.",
    "Die Katze schläft auf dem Sofa.", "Кошка спит на диване.",
    "I drink my coffee without sugar.", "Je bois mon café sans sucre.",
    "Ich trinke meinen Kaffee ohne Zucker.", "Я пью кофе без сахара.",
]
_SCRIPT = "download_tatoeba_dataset.sh"


def resolve_workdir(workdir: Optional[str]) -> str:
  """`workdir`, or by default the project root when the notebook runs in notebooks/."""
  if workdir:
    return os.path.abspath(workdir)
  cwd = os.getcwd()
  if os.path.basename(cwd) == "notebooks" and os.path.isfile(os.path.join(cwd, "..", _SCRIPT)):
    return os.path.dirname(cwd)
  return cwd


def device() -> Tuple[str, bool]:
  """(description of what TensorFlow runs on, True when that is a GPU)."""
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return f"GPU: {', '.join(names)}", True
  return f"CPU: {os.cpu_count()} cores (no GPU visible to TensorFlow)", False


def max_batch_tokens(on_gpu: bool) -> int:
  """Padded tokens per batch for the device: large batches keep a GPU busy."""
  return GPU_MAX_BATCH_TOKENS if on_gpu else tatoeba.DEFAULT_MAX_BATCH_TOKENS


def fetch_tatoeba(langs: Sequence[str], data_dir: str) -> None:
  """Downloads the missing Tatoeba pairs with download_tatoeba_dataset.sh (shipped in the
  package; complete pairs are skipped without any network access)."""
  subprocess.run(downloads.command("tatoeba", [f"--langs={','.join(langs)}",
                                               f"--output_dir={data_dir}"]), check=True)


def _is_handle(spec: str) -> bool:
  return "://" in spec or spec.startswith(("gs://", "tfhub.dev/", "kaggle.com/", "www.kaggle.com/"))


def _local(spec: str) -> str:
  """A local directory for a path or a TF Hub / Kaggle handle (downloaded and cached)."""
  if not _is_handle(spec):
    return spec
  import tensorflow_hub as hub  # pylint: disable=import-outside-toplevel
  return hub.resolve(spec)


def default_preprocess(encoder: str) -> Optional[str]:
  """Where this project (and the original release) keep an encoder's preprocessor:
  'models/LaBSE_x/1' -> 'models/LaBSE_x_preprocess/1' (handles alike, e.g.
  '.../smaller_LaBSE_15lang/1' -> '.../smaller_LaBSE_15lang_preprocess/1');
  'downloads/labse-2' -> 'downloads/labse-2-preprocess'; LaBSE/2's handle -> its
  preprocessor's handle. None when no local candidate exists."""
  spec = encoder.rstrip("/")
  head, tail = spec.rsplit("/", 1) if "/" in spec else ("", spec)
  if _is_handle(spec):
    if spec.lower().endswith("labse/2"):
      return LABSE_PREPROCESS_HANDLE
    return f"{head}_preprocess/{tail}" if tail.isdigit() else None
  candidates = [os.path.join(head + "_preprocess", tail)] if tail.isdigit() else []
  candidates += [spec + "-preprocess", spec + "_preprocess"]
  return next((c for c in candidates if os.path.isdir(c)), None)


def load(spec: str, preprocess: Optional[str] = None, name: Optional[str] = None,
         torch_device: Optional[str] = None):
  """A model to evaluate, from a local path, a TF Hub / Kaggle handle or a Sentence
  Transformers directory.

  Args:
    spec: encoder directory or handle, or a Sentence Transformers (modules.json) or Hugging
      Face (config.json) directory.
    preprocess: its preprocessor (default: `default_preprocess(spec)`); unused for
      Sentence Transformers.
    name: row label (default: the directory name).
    torch_device: for Sentence Transformers ('cuda', 'cpu'; None picks).

  Returns:
    tatoeba.Model or tatoeba.SentenceTransformerModel.
  """
  if not _is_handle(spec) and tatoeba.is_pytorch_model_dir(spec):
    return tatoeba.load_pytorch_model(spec, name, torch_device)
  preprocess = preprocess or default_preprocess(spec)
  if preprocess is None:
    raise InputError(f"{spec}: give its preprocessor (none found beside it)")
  name = name or tatoeba.default_model_name(spec.rstrip("/") if _is_handle(spec) else spec)
  return tatoeba.load_model(_local(spec), _local(preprocess), name)


@dataclasses.dataclass
class Evaluation:
  """One side-by-side run: results, identical shares, per-model encoding stats."""
  results: List[tatoeba.Result]
  identical: Dict[str, Dict[str, float]]
  names: List[str]
  stats: List[tatoeba.EmbedStats]
  seconds: float

  def table(self) -> str:
    return tatoeba.results_table(self.results)

  def identical_table(self) -> str:
    if not self.identical:
      return ""
    return tatoeba.identical_table(self.identical, self.names[1], self.names[0])

  def markdown(self) -> str:
    """The results table and, for two models, the identical-embeddings one (as
    evaluate_tatoeba.py prints them)."""
    return tatoeba.markdown_report(self.results, self.identical, "cosine", self.names)

  def speed(self) -> str:
    return "\n".join(f"{name}: {s.sentences:,} distinct sentences in {s.seconds:.2f} s, "
                     f"{s.sentences_per_second:,.0f} sentences/s"
                     for name, s in zip(self.names, self.stats))


def evaluate(models: Sequence, langs: Sequence[str], data_dir: str,
             batch_tokens: int = tatoeba.DEFAULT_MAX_BATCH_TOKENS) -> Evaluation:
  """Tatoeba in both directions for every model (`tatoeba.evaluate`), timed."""
  pairs = [tatoeba.load_pair(data_dir, lang) for lang in langs]
  stats: List[tatoeba.EmbedStats] = []
  start = time.perf_counter()
  results, identical = tatoeba.evaluate(models, pairs, max_batch_tokens=batch_tokens,
                                        stats=stats)
  return Evaluation(results, identical, [m.name for m in models], stats,
                    time.perf_counter() - start)


def accuracy_chart(evaluation: Evaluation):
  """Bars per language, one per model, for en→xx, xx→en and the identical-embeddings share.

  Returns:
    a matplotlib Figure.
  """
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  langs = list(dict.fromkeys(r.lang for r in evaluation.results))
  labels = [languages.short_code(lang) for lang in langs]
  x = np.arange(len(langs))
  panels = 3 if evaluation.identical else 2
  fig, axes = plt.subplots(1, panels, figsize=(5 * panels + max(0, len(langs) - 6) * 0.8, 4),
                           squeeze=False)
  width = 0.8 / len(evaluation.names)
  for ax, direction in zip(axes[0], tatoeba.DIRECTIONS):
    for i, name in enumerate(evaluation.names):
      acc = {r.lang: r.accuracy for r in evaluation.results
             if r.model == name and r.direction == direction}
      ax.bar(x + (i - (len(evaluation.names) - 1) / 2) * width, [acc[l] for l in langs], width,
             label=name)
    ax.set(title=f"Tatoeba {direction}", ylabel="accuracy (%)", ylim=(0, 105))
    ax.set_xticks(x, labels)
  handles, names = axes[0][0].get_legend_handles_labels()
  fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize="small")
  if evaluation.identical:
    ax = axes[0][2]
    ax.bar(x, [evaluation.identical[l]["percent"] for l in langs], 0.6, color="gray")
    ax.set(title=f"Identical embeddings\n{evaluation.names[1]} vs {evaluation.names[0]}",
           ylabel="sentences (%)", ylim=(0, 105))
    ax.set_xticks(x, labels)
  fig.tight_layout(rect=(0, 0.07, 1, 1))  # Room for the legend below.
  return fig


def similarity_heatmap(models: Sequence, sentences: Sequence[str] = tuple(HEATMAP_SENTENCES)):
  """Cosine similarities of `sentences` under each model, one heat map per model.

  Returns:
    a matplotlib Figure.
  """
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 6), squeeze=False)
  short = [s if len(s) <= 28 else s[:27] + "…" for s in sentences]
  for ax, model in zip(axes[0], models):
    embeddings = tatoeba.embed(model, list(sentences))
    sims = embeddings @ embeddings.T
    image = ax.imshow(sims, vmin=-1, vmax=1, cmap="RdBu_r")
    for i in range(len(sentences)):
      for j in range(len(sentences)):
        ax.text(j, i, f"{sims[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(sentences)), short, rotation=90, fontsize=8)
    ax.set_yticks(range(len(sentences)), short, fontsize=8)
    ax.set_title(model.name)
    fig.colorbar(image, ax=ax, fraction=0.046)
  fig.tight_layout()
  return fig
