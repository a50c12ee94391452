"""Stage 2 end to end (select_vocab.py, `smaller-labse select`, `smaller_labse.select`): each
language's counts (from its corpus, or from count files), the selection, its files, and the
fidelity report on evaluation text.

The strategies are selection.py's and the counting tf_counting.py's; this module resolves the
settings, runs them in order, writes the outputs (counts, then selections, only once every
language is done) and prints what the command prints.
"""

import dataclasses
import glob
import os
import re
from typing import Dict, List, Mapping, Optional, Sequence, Set, Tuple

from absl import logging

from smaller_labse import files
from smaller_labse.formats import store, tf_hub_check
from smaller_labse.tokenizers.base import Tokenizer
from smaller_labse.vocabulary import fidelity, selection, token_counts
from smaller_labse.model.config import EncoderConfig, infer_config
from smaller_labse.errors import InputError
from smaller_labse.languages import corpus_langs
from smaller_labse.tokenizers.vocab import (read_token_file, selected_tokens_path,
    write_token_file)

# LABEL:VALUE, as --corpus and --eval_files entries are written.
LABELLED = re.compile(r"([A-Za-z0-9_-]+):(.+)")


@dataclasses.dataclass(frozen=True)
class Settings:
  """How stage 2 counts and selects: select_vocab.py's flags, with their defaults (see its
  --help). strategy None: 'vocab_size' when vocab_size is given, else 'doc_frequency';
  keep_chars None: 'used' (every strategy); lower_case None: the model's do_lower_case;
  batch_size None: the tokenizer's own."""
  data_dir: str = "data"
  counts_dir: str = "tokens_freqs"
  selected_dir: str = "selected_tokens"
  from_counts: bool = False
  strategy: Optional[str] = None
  threshold: float = selection.DEFAULT_THRESHOLD
  vocab_size: Optional[int] = None
  char_coverage: bool = True
  keep_chars: Optional[str] = None
  lower_case: Optional[bool] = None
  min_chars: int = token_counts.DEFAULT_MIN_CHARS
  max_sentences: int = token_counts.DEFAULT_MAX_SENTENCES
  batch_size: Optional[int] = None  # None: the tokenizer's own (Tokenizer.count_corpus)
  exact_only: bool = False
  report_dir: Optional[str] = None  # Default: selected_dir.


@dataclasses.dataclass(frozen=True)
class Model:
  """The full model's vocabulary (in model order) and configuration, and where the
  configuration came from (config.json, a SavedModel, or LaBSE/2's shape)."""
  vocab_file: str
  vocab: List[str]
  config: EncoderConfig
  config_source: str

  def lower_case(self, settings: Settings) -> bool:
    return self.config.do_lower_case if settings.lower_case is None else settings.lower_case

  def tokenizer(self, settings: Settings) -> Tokenizer:
    """The model's own tokenizer: stage 1's store's (of any kind), else BertTokenizer on a
    WordPiece vocab file, as LaBSE/2's preprocessor (store.open_tokenizer)."""
    return store.open_tokenizer(self.vocab_file, self.lower_case(settings))


@dataclasses.dataclass
class Selection:
  """What stage 2 wrote, per language (dicts keyed by language code, in the order given).

  Attributes:
    strategy: 'doc_frequency' or 'vocab_size'.
    selected: the selected_{lang}_tokens.txt files.
    lines: lines counted (None for counts without line frequencies).
    tokens: tokens counted.
    kept: tokens selected.
    vocab_size: tokens of the smaller vocab stage 3 builds, special tokens included.
    report: the fidelity report (fidelity.fidelity_report: sizes, parameters, the character
      guarantee, per eval label the lines tokenized identically and those gaining [UNK]) when
      evaluation text was given, else None.
  """
  strategy: str
  selected: Dict[str, str]
  lines: Dict[str, Optional[int]]
  tokens: Dict[str, int]
  kept: Dict[str, int]
  vocab_size: int
  report: Optional[Dict[str, object]] = None


def known_langs(corpora: Mapping[str, Sequence[str]], counts_dir: str, from_counts: bool
                ) -> List[str]:
  """The language codes stage 2 takes: languages.corpus_langs(), those given a corpus, and
  with `from_counts` those `counts_dir` holds {lang}_freqs.json of."""
  known = corpus_langs() + [lang for lang in corpora if lang not in corpus_langs()]
  if from_counts and os.path.isdir(counts_dir):
    for name in sorted(os.listdir(counts_dir)):
      if name.endswith("_freqs.json") and not name.endswith("_doc_freqs.json"):
        if name[:-len("_freqs.json")] not in known:
          known.append(name[:-len("_freqs.json")])
  return known


def eval_label(path: str) -> str:
  """'tatoeba.fra-eng.fra' -> 'fra'; 'en.txt' -> 'en'."""
  name = os.path.basename(path)
  if name.endswith(".txt"):
    return name[:-4]
  return name.rsplit(".", 1)[-1]


def read_eval_files(entries: Sequence[str]) -> Dict[str, List[bytes]]:
  """Reads the --eval_files entries: label -> lines (split on '\\n', a final '\\n' ends the last)."""
  sets: Dict[str, List[bytes]] = {}
  for entry in entries:
    match = LABELLED.fullmatch(entry)
    label, pattern = (match.group(1), match.group(2)) if match else (None, entry)
    paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    if not paths:
      raise InputError(f"{pattern}: no evaluation file matches")
    for path in paths:
      lines = files.split_lines(files.read_bytes(path, "evaluation file"))
      sets.setdefault(label or eval_label(path), []).extend(lines)
  return sets


def model_config(vocab: Sequence[str], vocab_file: str) -> Tuple[EncoderConfig, str]:
  """The model's config and where it came from: config.json beside the vocab, the SavedModel
  whose asset the vocab is, else LaBSE/2's shape (do_lower_case false)."""
  config_path = os.path.join(os.path.dirname(vocab_file), "config.json")
  if os.path.exists(config_path):
    return EncoderConfig.load(config_path), config_path
  model_dir = os.path.dirname(os.path.dirname(vocab_file))  # SavedModel/assets/cased_vocab.txt
  if os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
    shapes = tf_hub_check.variable_shapes(model_dir)
    return infer_config(shapes, bool(tf_hub_check.do_lower_case(model_dir))), model_dir
  return EncoderConfig(vocab_size=len(vocab)), "LaBSE/2 (no config.json beside the vocab)"


def load_model(vocab_file: str) -> Model:
  vocab = store.read_vocab_file(vocab_file)
  config, source = model_config(vocab, vocab_file)
  return Model(vocab_file, vocab, config, source)


def resolve_strategy(settings: Settings, tokenizer: Tokenizer, vocab_file: str) -> str:
  strategy = settings.strategy or ("vocab_size" if settings.vocab_size is not None
                                   else "doc_frequency")
  if strategy == "doc_frequency" and settings.vocab_size is not None:
    raise InputError("--vocab_size needs --strategy=vocab_size (or no --strategy)")
  if strategy == "vocab_size":
    if settings.vocab_size is None:
      raise InputError("--strategy=vocab_size needs --vocab_size=N")
    specials = len(tokenizer.special_rows())
    if settings.vocab_size <= specials:
      raise InputError(f"--vocab_size={settings.vocab_size} is too small: {vocab_file} has "
                       f"{specials} special tokens, which the smaller vocab keeps, plus at least "
                       "one token")
  return strategy


def load_counts(settings: Settings, langs: Sequence[str], vocab: Sequence[str], strategy: str
                ) -> Dict[str, token_counts.TokenCounts]:
  index = {t: i for i, t in enumerate(vocab)}
  result = {}
  for lang in langs:
    counts = token_counts.read_counts(settings.counts_dir, lang)
    token_counts.check_counts_vocab(token_counts.freqs_path(settings.counts_dir, lang), counts,
                                    index)
    if strategy == "doc_frequency" and counts.doc_freqs is None:
      raise InputError(f"{token_counts.doc_freqs_path(settings.counts_dir, lang)}: not found; "
                       "--strategy=doc_frequency needs line frequencies, which the original "
                       "release's counts lack: count again, or use --vocab_size=N")
    result[lang] = counts
  return result


def count_all(settings: Settings, langs: Sequence[str], corpora: Mapping[str, Sequence[str]],
              vocab: Sequence[str], tokenizer) -> Dict[str, token_counts.TokenCounts]:
  """Counts each language's corpus with the model's own tokenizer (`Tokenizer.count_corpus`)."""
  paths = {lang: list(corpora.get(lang) or [os.path.join(settings.data_dir, f"{lang}.txt")])
           for lang in langs}
  for lang in langs:  # fail before counting anything
    token_counts.check_corpus_files(paths[lang])
  # Each tokenizer counts in batches of its own benchmarked size unless one is asked for.
  batch = {} if settings.batch_size is None else {"batch_size": settings.batch_size}
  return {lang: tokenizer.count_corpus(paths[lang], vocab, exact_only=settings.exact_only,
                                       min_chars=settings.min_chars,
                                       max_sentences=settings.max_sentences, desc=lang, **batch)
          for lang in langs}


def resolve_keep_chars(settings: Settings, strategy: str) -> str:
  """--keep_chars: 'used' unless given, with every strategy ('none' with doc_frequency is the
  original release's method)."""
  del strategy  # The same default for both.
  return selection.KEEP_CHARS_USED if settings.keep_chars is None else settings.keep_chars


def select(settings: Settings, langs: Sequence[str], counts: Dict[str, token_counts.TokenCounts],
           vocab: Sequence[str], strategy: str, tokenizer: Tokenizer, hidden_size: int
           ) -> Dict[str, List[str]]:
  keep_chars = resolve_keep_chars(settings, strategy)
  if strategy == "doc_frequency":
    chosen = {lang: selection.select_doc_frequency(
        counts[lang], settings.threshold, token_counts.freqs_path(settings.counts_dir, lang))
        for lang in langs}
    chosen, guaranteed = selection.add_guaranteed(chosen, keep_chars, counts, vocab,
                                                  tokenizer=tokenizer)
    if guaranteed:
      print(f"--keep_chars={keep_chars}: {guaranteed:,} character tokens added to the selections")
    return chosen
  result = selection.select_budget(counts, vocab, settings.vocab_size, settings.char_coverage,
                                   keep_chars, tokenizer=tokenizer)
  logging.info("vocab_size: %d of %d candidate tokens kept (cut-off score %.3g)",
               len(result.kept), result.candidates, result.cutoff)
  if result.guaranteed:
    print(f"--keep_chars={keep_chars}: {result.guaranteed_kept:,} of {result.guaranteed:,} "
          f"character tokens kept first ({result.guaranteed_kept * hidden_size / 1e6:.1f}M "
          f"parameters at hidden size {hidden_size})")
  if result.guaranteed_kept < result.guaranteed:
    logging.warning("--vocab_size=%d cannot hold the %d character tokens --keep_chars=%s "
                    "guarantees: kept the %d best-scored; words holding the others can gain "
                    "[UNK]", settings.vocab_size, result.guaranteed, keep_chars,
                    result.guaranteed_kept)
  if len(result.kept) < settings.vocab_size - len(tokenizer.special_rows()):
    logging.warning("only %d tokens were ever counted: the vocab will be smaller than %d",
                    result.candidates, settings.vocab_size)
  return {lang: result.per_lang[lang] for lang in langs}


def add_prompt_pieces(selections: Mapping[str, List[str]], prompts: Mapping[str, str],
                      tokenizer: Tokenizer) -> Dict[str, List[str]]:
  """Each selection plus the pieces of the source's prompts (config_sentence_transformers.json:
  e5's "query: ", "passage: "), which prefix every input the model sees. A prompt ends with a
  space or punctuation that the pre-tokenizer splits at, so its pieces are the same alone as
  before any text."""
  texts = sorted({p for p in prompts.values() if p.strip()})
  if not texts:
    return dict(selections)
  specials = set(tokenizer.specials())
  pieces = {t for tokens in tokenizer.tokenize(texts) for t in tokens if t not in specials}
  added = {lang: sorted(set(tokens) | pieces) for lang, tokens in selections.items()}
  print(f"the source's prompts ({', '.join(repr(t) for t in texts)}): their {len(pieces)} "
        "pieces are kept")
  return added


def report(settings: Settings, model: Model, target: Sequence[str],
           eval_sets: Dict[str, List[bytes]], used: Optional[Set[str]] = None,
           tokenizer=None) -> Dict[str, object]:
  """Writes and prints the fidelity report of `target` against the full vocab; returns it.
  `tokenizer`: the model's (default: model.tokenizer(settings))."""
  result = fidelity.fidelity_report(model.vocab, target, eval_sets, model.config,
                                    config_source=model.config_source, used=used,
                                    tokenizer=tokenizer or model.tokenizer(settings))
  json_path, md_path = fidelity.write_report(settings.report_dir or settings.selected_dir,
                                              result)
  print(fidelity.report_markdown(result))
  print(f"wrote {json_path} and {md_path}")
  return result


def report_only(settings: Settings, model: Model, langs: Sequence[str],
                eval_sets: Dict[str, List[bytes]], eval_vocab: Optional[str] = None
                ) -> Dict[str, object]:
  """--eval_only: the fidelity report of `eval_vocab`, or of the selections in selected_dir."""
  if not eval_sets:
    raise InputError("--eval_only needs --eval_files")
  tokenizer = model.tokenizer(settings)
  if eval_vocab:
    target = read_token_file(eval_vocab)
  else:
    target = selection.target_vocab(model.vocab, [
        read_token_file(selected_tokens_path(settings.selected_dir, lang)) for lang in langs],
        tokenizer)
  return report(settings, model, target, eval_sets, tokenizer=tokenizer)


def run(settings: Settings, model: Model, langs: Sequence[str],
        corpora: Mapping[str, Sequence[str]], eval_sets: Dict[str, List[bytes]]) -> Selection:
  """Counts (or reads the counts of) `langs`, selects, writes the counts and the selections,
  and the fidelity report when `eval_sets` (label -> lines) are given.

  Args:
    settings: how to count and select.
    model: the full model (load_model).
    langs: language codes, in order.
    corpora: lang -> text files to count (default: settings.data_dir/{lang}.txt).
    eval_sets: label -> lines (bytes) to measure the smaller vocab's fidelity on.
  """
  tokenizer = model.tokenizer(settings)
  strategy = resolve_strategy(settings, tokenizer, model.vocab_file)
  if settings.from_counts:
    counts = load_counts(settings, langs, model.vocab, strategy)
  else:
    counts = count_all(settings, langs, corpora, model.vocab, tokenizer)
  selections = select(settings, langs, counts, model.vocab, strategy, tokenizer,
                      model.config.hidden_size)
  selections = add_prompt_pieces(selections, store.source_prompts(model.vocab_file), tokenizer)
  target = selection.target_vocab(model.vocab, list(selections.values()),
                                  tokenizer)  # checks first
  if not settings.from_counts:
    for lang in langs:
      token_counts.write_counts(settings.counts_dir, lang, counts[lang])
  result = Selection(strategy, {}, {}, {}, {}, len(target))
  for lang in langs:
    path = selected_tokens_path(settings.selected_dir, lang)
    write_token_file(path, selections[lang])
    result.selected[lang], result.lines[lang] = path, counts[lang].num_lines
    result.tokens[lang], result.kept[lang] = counts[lang].num_tokens, len(selections[lang])
    print(f"{lang}: {counts[lang].num_lines or '-'} lines, {counts[lang].num_tokens} tokens, "
          f"{len(selections[lang])} selected -> {path}")
  specials = len(tokenizer.special_rows())
  print(f"strategy {strategy}: the smaller vocab will have {len(target):,} tokens "
        f"({specials} special + {len(target) - specials:,})")
  if eval_sets:
    index = {t: i for i, t in enumerate(model.vocab)}
    used = set().union(*(selection.used_char_tokens(counts[lang], index, tokenizer)
                         for lang in langs))
    result.report = report(settings, model, target, eval_sets, used, tokenizer)
  return result
