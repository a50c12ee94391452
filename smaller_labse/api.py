"""The Python API: `trim` makes a smaller model in one call; `convert`, `select` and `make` are
its three stages, and `evaluate` compares models on Tatoeba. Each runs the code of the
matching command (`smaller-labse convert|select|make|evaluate`) and prints what it prints.

`trim` lays out `output_dir` as the pipeline's work directory, so the commands can go on from
it: models/labse/ (the full model's weights), tokens_freqs/, selected_tokens/, and
models/vocab-{langs}.txt, models/{name}_{langs}/1, models/{name}_{langs}_preprocess/1,
models/{name}_{langs}_st/ ({name}: LaBSE for TF Hub's LaBSE/2, else the source directory's).
"""

import dataclasses
import os
from typing import TYPE_CHECKING, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from smaller_labse import languages, quiet, tatoeba
from smaller_labse.formats import parse_formats, store
from smaller_labse.formats import sentence_transformers as st_layout
from smaller_labse.stages import vocab_selection
from smaller_labse.tokenizers import vocab as vocab_lib
from smaller_labse.model.config import BUDGET_FACTOR, EncoderConfig

# TensorFlow's modules (conversion, pruning, the notebook's) are imported by the function that
# runs them: `import smaller_labse` and its API's names stay light.
if TYPE_CHECKING:
  from smaller_labse.model import verification
  from smaller_labse.tatoeba import notebook

Paths = Union[str, Sequence[str]]  # One text file, or several.


@dataclasses.dataclass(frozen=True)
class SmallerModel:
  """What stage 3 wrote and its proofs.

  Attributes:
    vocab: the smaller vocab file (special tokens, then the kept tokens in vocab order).
    encoder: the encoder SavedModel in LaBSE/2's TF Hub format ("" without 'tfhub').
    preprocess: its preprocessor SavedModel ("" without 'tfhub').
    st: the Sentence Transformers / Hugging Face directory ("" without 'st').
    verification: {'sentences': verification sentences whose tokenization the smaller vocab
      keeps, 'pruned_sentences': those it changes, 'pooled_output': the largest absolute
      difference between the smaller and the original model's pooled_output [B, H] on the
      former (float32; 0 when the rows are copied exactly)}.
    st_figures: the Sentence Transformers export's proof against the TF model ({'sentences',
      'layers': largest relative difference of a layer's output, 'pooled_output',
      'sentence_embedding': largest absolute difference of the normalised embeddings}), or
      None without 'st'.
    parameters: {'original'|'smaller': {'transformer', 'word_embedding', 'model': parameter
      counts, 'vocab_size': tokens}}.
    parameter_table: the same as the README's Markdown table (also written beside the
      encoder as parameters.md).
  """
  vocab: str
  encoder: str
  preprocess: str
  st: str
  verification: Dict[str, float]
  st_figures: Optional[Dict[str, float]]
  parameters: Dict[str, Dict[str, int]]
  parameter_table: str

  @property
  def paths(self) -> List[str]:
    """Every file or directory written."""
    return [p for p in (self.vocab, self.encoder, self.preprocess, self.st) if p]


@dataclasses.dataclass(frozen=True)
class TrimResult:
  """What `trim` wrote, and the figures that prove it.

  Attributes:
    weights_dir: stage 1's weight store (store.py: config.json, vocab.txt, source.json, ...).
    proof: stage 1's layer-by-layer proof that the rebuilt encoder computes the source's
      function (verification.Proof: `holds`, `checks` per block, `end_to_end`).
    selection: stage 2's vocab_selection.Selection (per language the selection file, lines
      and tokens counted and tokens kept; the smaller vocab's size; `report`, the fidelity
      report on `eval_files`, else None).
    model: stage 3's SmallerModel (paths, verification, parameter counts).
  """
  weights_dir: str
  proof: "verification.Proof"
  selection: vocab_selection.Selection
  model: SmallerModel

  @property
  def paths(self) -> List[str]:
    """Every output written: the weight store, the selections, the smaller model."""
    return [self.weights_dir, *self.selection.selected.values(), *self.model.paths]


def _quiet() -> None:
  """As the commands are: TensorFlow's log chatter off (see quiet.py)."""
  quiet.quiet_after_flags(verbosity_given=False)


def _path_list(paths: Paths) -> List[str]:
  return [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)


def _corpora(corpus: Optional[Mapping[str, Paths]]) -> Dict[str, List[str]]:
  return {lang: _path_list(paths) for lang, paths in (corpus or {}).items()}


def _langs(langs: Sequence[str], corpora: Mapping[str, Sequence[str]], counts_dir: str,
           from_counts: bool) -> List[str]:
  """`langs`, checked: known codes (or given a corpus or counts), no duplicates."""
  return languages.parse_lang_list(
      ",".join(langs), vocab_selection.known_langs(corpora, counts_dir, from_counts))


def convert(source: str, output_dir: str, preprocess: Optional[str] = None,
            st_dir: Optional[str] = None, overwrite: bool = False,
            budget_factor: float = BUDGET_FACTOR,
            st_max_seq_length: int = st_layout.DEFAULT_MAX_SEQ_LENGTH) -> "verification.Proof":
  """Stage 1 (`smaller-labse convert`): rebuilds the encoder of `source` in this project's code,
  proves it layer by layer against the source, and writes its weight store.

  Args:
    source: the model to trim: an encoder SavedModel in LaBSE/2's TF Hub format (e.g.
      downloads/labse-2), a Sentence Transformers directory or a Hugging Face BERT directory
      (e.g. downloads/sentence-transformers/LaBSE).
    output_dir: the weight store to write (e.g. models/labse).
    preprocess: the original preprocessor, to check our tokenization against (default: the
      one beside `source`, e.g. downloads/labse-2-preprocess, when there is one).
    st_dir: for a TF Hub source, also write the full model there in the Sentence Transformers
      format.
    overwrite: replace an `output_dir` (or `st_dir`) that holds another model.
    budget_factor: each block's float32 error budget, in units of the rounding model's error.
    st_max_seq_length: the Sentence Transformers export's max_seq_length.

  Returns:
    The proof. Raises verification.VerificationError when a block differs beyond its budget.
  """
  # pylint: disable=import-outside-toplevel
  from smaller_labse.stages import conversion
  from smaller_labse.tatoeba import notebook
  _quiet()
  preprocess = preprocess or notebook.default_preprocess(source)
  return conversion.convert(source, output_dir, preprocess, budget_factor, overwrite, st_dir,
                            st_max_seq_length)


def select(model_dir: str, langs: Sequence[str], output_dir: str = ".",
           corpus: Optional[Mapping[str, Paths]] = None, vocab_size: Optional[int] = None,
           from_counts: bool = False, counts_dir: Optional[str] = None,
           eval_files: Optional[Mapping[str, Paths]] = None, data_dir: str = "data",
           **settings) -> vocab_selection.Selection:
  """Stage 2 (`smaller-labse select`): counts the tokens each language's text uses and selects
  the vocabulary to keep.

  Args:
    model_dir: stage 1's weight store (its vocab.txt and config.json are read).
    langs: language codes (Wikipedia's: 'en', 'zh_classical'...; or any given a corpus).
    output_dir: where tokens_freqs/ and selected_tokens/ are written.
    corpus: lang -> text file(s) to count (default: DATA_DIR/{lang}.txt, a Wikipedia dump).
    vocab_size: the smaller vocab's size, special tokens included (the budget strategy);
      None: the original's document-frequency threshold.
    from_counts: select from the counts in `counts_dir` without reading any text.
    counts_dir: where counts are written and read (default: output_dir/tokens_freqs).
    eval_files: label -> text file(s) to measure the smaller vocab's fidelity on (lines
      tokenized identically, lines gaining [UNK]); writes report.json and report.md.
    data_dir: where the default corpora are.
    **settings: any other field of vocab_selection.Settings (threshold, keep_chars, strategy,
      char_coverage, lower_case, min_chars, max_sentences, batch_size, exact_only).

  Returns:
    What was written and counted (vocab_selection.Selection).
  """
  _quiet()
  corpora = _corpora(corpus)
  counts_dir = counts_dir or os.path.join(output_dir, "tokens_freqs")
  chosen = _langs(langs, corpora, counts_dir, from_counts)
  config = vocab_selection.Settings(
      data_dir=data_dir, counts_dir=counts_dir,
      selected_dir=os.path.join(output_dir, "selected_tokens"), from_counts=from_counts,
      vocab_size=vocab_size, **settings)
  eval_sets = vocab_selection.read_eval_files(
      [f"{label}:{path}" for label, paths in (eval_files or {}).items()
       for path in _path_list(paths)])
  model = vocab_selection.load_model(os.path.join(model_dir, store.VOCAB_FILE))
  return vocab_selection.run(config, model, chosen, corpora, eval_sets)


def _parameters(config: EncoderConfig) -> Dict[str, int]:
  return dict(config.parameter_counts(), vocab_size=config.vocab_size)


def make(model_dir: str, langs: Sequence[str], output_dir: str = "models",
         selected_dir: str = "selected_tokens", formats: Optional[Sequence[str]] = None,
         overwrite: bool = False, tolerance: float = 1e-6,
         st_max_seq_length: Optional[int] = None, name: Optional[str] = None) -> SmallerModel:
  """Stage 3 (`smaller-labse make`): the smaller model of `langs`' selections, exported and
  proven to give the original's embedding to every sentence whose tokenization it keeps.

  Args:
    model_dir: stage 1's weight store.
    langs: the languages whose selections (SELECTED_DIR/selected_{lang}_tokens.txt) are kept.
    output_dir: where vocab-{langs}.txt and the models go.
    selected_dir: stage 2's selections.
    formats: 'tfhub' (encoder + preprocessor SavedModels) and/or 'st' (Sentence Transformers);
      None: both, or 'st' alone for a source whose tokenizer has no TF Hub preprocessor
      (XLM-R's SentencePiece), which refuses 'tfhub'.
    overwrite: replace outputs that hold another model.
    tolerance: the largest pooled_output difference accepted.
    st_max_seq_length: the Sentence Transformers export's max_seq_length (None: a Sentence
      Transformers source's own, else 128).
    name: the outputs' name, {name}_{langs} (None: the source's; 'LaBSE' for TF Hub's).
  """
  from smaller_labse.stages import pruning  # pylint: disable=import-outside-toplevel
  _quiet()
  if formats is not None:
    formats = parse_formats(formats if isinstance(formats, str) else ",".join(formats))
  paths, table, figures, st_figures = pruning.make_smaller_labse(
      model_dir, selected_dir, list(langs), output_dir, overwrite, tolerance, formats,
      st_max_seq_length, name)
  config = EncoderConfig.load(os.path.join(model_dir, store.CONFIG_FILE))
  small = config.with_vocab_size(len(vocab_lib.read_token_file(paths.vocab)))
  return SmallerModel(paths.vocab, paths.encoder, paths.preprocess,
                      paths.st if st_figures else "",
                      figures, st_figures,
                      {"original": _parameters(config), "smaller": _parameters(small)}, table)


def trim(source: str, langs: Sequence[str], output_dir: str,
         corpus: Optional[Mapping[str, Paths]] = None, vocab_size: Optional[int] = None,
         formats: Optional[Sequence[str]] = None,
         eval_files: Optional[Mapping[str, Paths]] = None, from_counts: bool = False,
         counts_dir: Optional[str] = None, preprocess: Optional[str] = None,
         overwrite: bool = False, **settings) -> TrimResult:
  """A smaller model of `source` that keeps the vocabulary `langs` use: stages 1, 2 and 3.

  Args:
    source: the model to cut: an encoder SavedModel in LaBSE/2's TF Hub format
      (downloads/labse-2), a Sentence Transformers directory or a Hugging Face BERT directory
      (sentence-transformers/LaBSE, setu4993/LEALLA-small, a model fine-tuned from them).
    langs: language codes whose vocabulary is kept, e.g. ["en", "de"].
    output_dir: the work directory written (see the module's docstring).
    corpus: lang -> text file(s) whose tokens are counted (default: data/{lang}.txt, the
      Wikipedia dumps of download_dataset.sh). Ignored with `from_counts`.
    vocab_size: the smaller vocab's size, special tokens included; None: the original
      method (tokens found in at least 0.005% of the lines).
    formats: 'tfhub' and/or 'st' (see `make`).
    eval_files: label -> text file(s) to measure the smaller vocab's fidelity on.
    from_counts, counts_dir: select from existing counts (see `select`).
    preprocess: `source`'s preprocessor (default: found beside it).
    overwrite: replace outputs that hold another model.
    **settings: more stage 2 settings (see `select`).

  Returns:
    TrimResult: the paths written, stage 1's proof, stage 2's selection and fidelity report,
    stage 3's verification, Sentence Transformers figures and parameter counts.
  """
  _langs(langs, _corpora(corpus), counts_dir or os.path.join(output_dir, "tokens_freqs"),
         from_counts)  # Before stage 1's work.
  weights_dir = os.path.join(output_dir, "models", "labse")
  proof = convert(source, weights_dir, preprocess, overwrite=overwrite)
  selection = select(weights_dir, langs, output_dir, corpus, vocab_size, from_counts,
                     counts_dir, eval_files, **settings)
  model = make(weights_dir, langs, os.path.join(output_dir, "models"),
               os.path.join(output_dir, "selected_tokens"), formats, overwrite)
  return TrimResult(weights_dir, proof, selection, model)


def evaluate(models: Sequence[Union[str, Tuple[str, str]]], langs: Sequence[str],
             data_dir: str = tatoeba.DEFAULT_DATA_DIR, names: Optional[Sequence[str]] = None,
             output: Optional[str] = None) -> "notebook.Evaluation":
  """Tatoeba bitext retrieval (`smaller-labse evaluate`), both directions, for each model.

  Args:
    models: each an encoder directory or TF Hub handle (its preprocessor found beside it),
      an (encoder, preprocessor) pair, or a Sentence Transformers or Hugging Face directory
      (run by sentence_transformers / transformers). With two, the
      second is compared with the first: the share of identical embeddings.
    langs: Tatoeba languages, ISO 639-3 ('fra') or 639-1 ('fr').
    data_dir: where tatoeba.{xxx}-eng.{xxx,eng} are (download_tatoeba_dataset.sh).
    names: row labels (default: the directory names).
    output: also write the results to this .json file and the tables beside it (.md).

  Returns:
    notebook.Evaluation: `results` (tatoeba.Result: model, lang, direction, accuracy in %,
    n), `identical`, `markdown()` (the README's tables), per-model encoding `stats`.
  """
  from smaller_labse.tatoeba import notebook  # pylint: disable=import-outside-toplevel
  _quiet()
  loaded = []
  for i, spec in enumerate(models):
    encoder, preprocess = (spec, None) if isinstance(spec, str) else spec
    loaded.append(notebook.load(encoder, preprocess, names[i] if names else None))
  evaluation = notebook.evaluate(loaded, languages.parse_tatoeba_langs(",".join(langs)),
                                 data_dir, notebook.max_batch_tokens(notebook.device()[1]))
  if output:
    tatoeba.write_outputs(output, evaluation.results, evaluation.identical, "cosine",
                          evaluation.names)
  return evaluation
