"""Stage 2: count the tokens each language uses and select the vocabulary to keep.

  python select_vocab.py                        # the original method, 16 languages
  python select_vocab.py --from_counts --vocab_size=205000 \\
      --eval_files='fra:tatoeba.fra-eng.fra,eng:tatoeba.fra-eng.eng'

Counting reads `data/{lang}.txt` (or `--corpus={lang}:PATH[,PATH...]`): the first
`--max_sentences` lines longer than `--min_chars` characters, tokenized exactly
as the model's preprocessor does. It writes `tokens_freqs/{lang}_freqs.json`
({token: occurrences}, the original format) and `tokens_freqs/{lang}_doc_freqs.json`
(line frequencies, lines counted). Selection writes
`selected_tokens/selected_{lang}_tokens.txt`, one token per line.

Strategies:
  doc_frequency (default): the original method; keep the tokens found in at
    least int(lines * --threshold / 100) of the lines counted (>=). Needs line
    frequencies: with the original release's counts (occurrences only) use
    --vocab_size.
  vocab_size (--vocab_size=N): the final vocab, special tokens included, has N
    tokens; tokens ranked by their largest relative frequency over the
    languages, character tokens raised to cover the text (--char_coverage).
    Works with our counts and with the original release's.

--keep_chars: character tokens ('x', '##x') kept before anything else. used
(default with --vocab_size): those the counted text needs to spell its tokens
character by character; all: every one text can reach (no word made of
characters of the vocab can gain [UNK]); none (default with doc_frequency).

Before stage 1 has written models/labse/vocab.txt, the vocab is read where the
original read it: downloads/labse-2/assets/cased_vocab.txt, with that
SavedModel's do_lower_case.

Installed with pip, `smaller-labse select` is the same command.
"""

import glob
import os
import re
from typing import Dict, List, Optional, Sequence, Set, Tuple

from absl import flags, logging

from smaller_labse import counting, files, savedmodel_check, selection
from smaller_labse.config import EncoderConfig, infer_config
from smaller_labse.errors import InputError
from smaller_labse.languages import DEFAULT_WIKI_LANGS, corpus_langs, parse_lang_list
from smaller_labse.vocab import (read_token_file, read_vocab, selected_tokens_path,
                                 special_tokens, write_token_file)

FLAGS = flags.FLAGS
flags.DEFINE_list("langs", list(DEFAULT_WIKI_LANGS), "Languages to select for, e.g. en,fr.")
flags.DEFINE_string("vocab_file", os.path.join("models", "labse", "vocab.txt"),
                    "The full model's WordPiece vocab (stage 1 writes it). Left at its default "
                    "while it does not exist: downloads/labse-2's assets/cased_vocab.txt, with "
                    "that SavedModel's do_lower_case, as the original read it.")
flags.DEFINE_boolean("lower_case", None, "Lower-case before tokenizing. Default: `do_lower_case` "
                     "of config.json beside --vocab_file, else false (LaBSE is cased).")
flags.DEFINE_string("data_dir", "data", "Where {lang}.txt corpora are read from.")
flags.DEFINE_multi_string("corpus", [], "LANG:PATH[,PATH...] text files to count for LANG "
                          "instead of DATA_DIR/LANG.txt; repeatable. Without --langs, the "
                          "languages are those given here.")
flags.DEFINE_integer("min_chars", counting.DEFAULT_MIN_CHARS,
                     "Count lines of more than this many characters.", lower_bound=0)
flags.DEFINE_integer("max_sentences", counting.DEFAULT_MAX_SENTENCES,
                     "Count at most this many lines per language.", lower_bound=1)
flags.DEFINE_integer("batch_size", counting.DEFAULT_BATCH_SIZE, "Lines per tokenizer call.",
                     lower_bound=1)
flags.DEFINE_boolean("exact_only", False, "Tokenize every line with BertTokenizer (slower; "
                     "the default routes only lines FastBertTokenizer could get wrong).")
flags.DEFINE_string("counts_dir", "tokens_freqs", "Where counts are written (and read).")
flags.DEFINE_boolean("from_counts", False, "Select from COUNTS_DIR's files without reading any "
                     "corpus (also the original release's {lang}_freqs.json, with --vocab_size).")
flags.DEFINE_string("selected_dir", "selected_tokens", "Where selections are written.")
flags.DEFINE_enum("strategy", None, ["doc_frequency", "vocab_size"],
                  "Selection strategy (default doc_frequency, or vocab_size when --vocab_size "
                  "is given).")
flags.DEFINE_float("threshold", selection.DEFAULT_THRESHOLD, "doc_frequency: keep tokens found "
                   "in at least int(lines * THRESHOLD / 100) of the lines counted (percent).",
                   lower_bound=0.0)
flags.DEFINE_integer("vocab_size", None, "vocab_size: the final vocab's size, special tokens "
                     "included, as make_smaller_labse.py builds it.")
flags.DEFINE_boolean("char_coverage", True, "vocab_size: rank each single-character token at "
                     "least as high as its character's frequency, so pruned words do not "
                     "become [UNK].")
flags.DEFINE_enum("keep_chars", None, list(selection.KEEP_CHARS),
                  "Character tokens kept before anything else. used: every 'x'/'##x' the counted "
                  "text needs to spell its tokens character by character; all: every one text "
                  "can reach (no word made of characters of the vocab can gain [UNK]); none. "
                  "Default: used with --vocab_size, none with doc_frequency (the original method).")
flags.DEFINE_list("eval_files", [], "[LABEL:]PATH entries (globs allowed) of text to measure "
                  "fidelity on: per label, the share of lines tokenized identically and the lines "
                  "gaining [UNK]. LABEL defaults to the last extension (tatoeba.fra-eng.fra: fra) "
                  "or the name without .txt. Writes REPORT_DIR/report.json and report.md.")
flags.DEFINE_boolean("eval_only", False, "Only write the fidelity report, for the selections in "
                     "SELECTED_DIR (or --eval_vocab).")
flags.DEFINE_string("eval_vocab", None, "With --eval_only: evaluate this vocab file instead of "
                    "the selections (e.g. a published smaller vocab).")
flags.DEFINE_string("report_dir", None, "Where report.json/.md go (default: SELECTED_DIR).")

ORIGINAL_MODEL_DIR = os.path.join("downloads", "labse-2")
_LABELLED = re.compile(r"([A-Za-z0-9_-]+):(.+)")


def parse_corpus_flags(values: Sequence[str]) -> Dict[str, List[str]]:
  """['en:a.txt,b.txt', 'fr:c.txt'] -> {'en': ['a.txt', 'b.txt'], 'fr': ['c.txt']} (in order)."""
  corpora: Dict[str, List[str]] = {}
  for value in values:
    match = _LABELLED.fullmatch(value)
    if not match:
      raise InputError(f"--corpus={value!r}: expected LANG:PATH[,PATH...]")
    paths = [p for p in match.group(2).split(",") if p]
    if not paths:
      raise InputError(f"--corpus={value!r}: no path given")
    corpora.setdefault(match.group(1), []).extend(paths)
  return corpora


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
    match = _LABELLED.fullmatch(entry)
    label, pattern = (match.group(1), match.group(2)) if match else (None, entry)
    paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    if not paths:
      raise InputError(f"{pattern}: no evaluation file matches")
    for path in paths:
      lines = files.split_lines(files.read_bytes(path, "evaluation file"))
      sets.setdefault(label or eval_label(path), []).extend(lines)
  return sets


def resolve_langs(corpora: Dict[str, List[str]]) -> List[str]:
  known = corpus_langs() + [lang for lang in corpora if lang not in corpus_langs()]
  if FLAGS.from_counts and os.path.isdir(FLAGS.counts_dir):
    for name in sorted(os.listdir(FLAGS.counts_dir)):
      if name.endswith("_freqs.json") and not name.endswith("_doc_freqs.json"):
        if name[:-len("_freqs.json")] not in known:
          known.append(name[:-len("_freqs.json")])
  if corpora and not FLAGS["langs"].present:
    return list(corpora)
  langs = parse_lang_list(",".join(FLAGS.langs), known)
  extra = [lang for lang in corpora if lang not in langs]
  if extra:
    raise InputError(f"--corpus given for {', '.join(extra)}, which --langs does not list")
  return langs


def resolve_vocab_file() -> str:
  """--vocab_file; by default, where the original read it when stage 1 has not run yet."""
  if FLAGS["vocab_file"].present or os.path.exists(FLAGS.vocab_file):
    return FLAGS.vocab_file
  if not os.path.isfile(os.path.join(ORIGINAL_MODEL_DIR, "saved_model.pb")):
    raise InputError(f"{FLAGS.vocab_file}: token file not found, nor the downloaded model "
                     f"{ORIGINAL_MODEL_DIR} (run download_model.sh, or give --vocab_file)")
  return savedmodel_check.encoder_vocab_file(ORIGINAL_MODEL_DIR)


def model_config(vocab: Sequence[str], vocab_file: str) -> Tuple[EncoderConfig, str]:
  """The model's config and where it came from: config.json beside the vocab, the SavedModel
  whose asset the vocab is, else LaBSE/2's shape (do_lower_case false)."""
  config_path = os.path.join(os.path.dirname(vocab_file), "config.json")
  if os.path.exists(config_path):
    return EncoderConfig.load(config_path), config_path
  model_dir = os.path.dirname(os.path.dirname(vocab_file))  # SavedModel/assets/cased_vocab.txt
  if os.path.isfile(os.path.join(model_dir, "saved_model.pb")):
    shapes = savedmodel_check.variable_shapes(model_dir)
    return infer_config(shapes, bool(savedmodel_check.do_lower_case(model_dir))), model_dir
  return EncoderConfig(vocab_size=len(vocab)), "LaBSE/2 (no config.json beside the vocab)"


def resolve_strategy(vocab: Sequence[str], vocab_file: str) -> str:
  strategy = FLAGS.strategy or ("vocab_size" if FLAGS.vocab_size is not None else "doc_frequency")
  if strategy == "doc_frequency" and FLAGS.vocab_size is not None:
    raise InputError("--vocab_size needs --strategy=vocab_size (or no --strategy)")
  if strategy == "vocab_size":
    if FLAGS.vocab_size is None:
      raise InputError("--strategy=vocab_size needs --vocab_size=N")
    specials = len(special_tokens(vocab))
    if FLAGS.vocab_size <= specials:
      raise InputError(f"--vocab_size={FLAGS.vocab_size} is too small: {vocab_file} has "
                       f"{specials} special tokens, which the smaller vocab keeps, plus at least "
                       "one token")
  return strategy


def load_counts(langs: Sequence[str], vocab: Sequence[str], strategy: str
                ) -> Dict[str, counting.TokenCounts]:
  index = {t: i for i, t in enumerate(vocab)}
  result = {}
  for lang in langs:
    counts = counting.read_counts(FLAGS.counts_dir, lang)
    counting.check_counts_vocab(counting.freqs_path(FLAGS.counts_dir, lang), counts, index)
    if strategy == "doc_frequency" and counts.doc_freqs is None:
      raise InputError(f"{counting.doc_freqs_path(FLAGS.counts_dir, lang)}: not found; "
                       "--strategy=doc_frequency needs line frequencies, which the original "
                       "release's counts lack: count again, or use --vocab_size=N")
    result[lang] = counts
  return result


def count_all(langs: Sequence[str], corpora: Dict[str, List[str]], vocab: Sequence[str],
              lower_case: bool) -> Dict[str, counting.TokenCounts]:
  paths = {lang: corpora.get(lang) or [os.path.join(FLAGS.data_dir, f"{lang}.txt")]
           for lang in langs}
  for lang in langs:  # fail before counting anything
    counting.check_corpus_files(paths[lang])
  counter = counting.Counter(vocab, lower_case=lower_case, exact_only=FLAGS.exact_only)
  result = {}
  for lang in langs:
    result[lang] = counting.count_corpus(counter, paths[lang], vocab, min_chars=FLAGS.min_chars,
                                         max_sentences=FLAGS.max_sentences,
                                         batch_size=FLAGS.batch_size, desc=lang)
  return result


def resolve_keep_chars(strategy: str) -> str:
  if FLAGS.keep_chars is not None:
    return FLAGS.keep_chars
  return selection.KEEP_CHARS_USED if strategy == "vocab_size" else selection.KEEP_CHARS_NONE


def select(langs: Sequence[str], counts: Dict[str, counting.TokenCounts], vocab: Sequence[str],
           strategy: str, lower_case: bool, hidden_size: int) -> Dict[str, List[str]]:
  keep_chars = resolve_keep_chars(strategy)
  if strategy == "doc_frequency":
    chosen = {lang: selection.select_doc_frequency(
        counts[lang], FLAGS.threshold, counting.freqs_path(FLAGS.counts_dir, lang))
        for lang in langs}
    chosen, guaranteed = selection.add_guaranteed(chosen, keep_chars, counts, vocab, lower_case)
    if guaranteed:
      print(f"--keep_chars={keep_chars}: {guaranteed:,} character tokens added to the selections")
    return chosen
  result = selection.select_budget(counts, vocab, FLAGS.vocab_size, FLAGS.char_coverage,
                                   keep_chars, lower_case)
  logging.info("vocab_size: %d of %d candidate tokens kept (cut-off score %.3g)",
               len(result.kept), result.candidates, result.cutoff)
  if result.guaranteed:
    print(f"--keep_chars={keep_chars}: {result.guaranteed_kept:,} of {result.guaranteed:,} "
          f"character tokens kept first ({result.guaranteed_kept * hidden_size / 1e6:.1f}M "
          f"parameters at hidden size {hidden_size})")
  if result.guaranteed_kept < result.guaranteed:
    logging.warning("--vocab_size=%d cannot hold the %d character tokens --keep_chars=%s "
                    "guarantees: kept the %d best-scored; words holding the others can gain "
                    "[UNK]", FLAGS.vocab_size, result.guaranteed, keep_chars,
                    result.guaranteed_kept)
  if len(result.kept) < FLAGS.vocab_size - len(special_tokens(vocab)):
    logging.warning("only %d tokens were ever counted: the vocab will be smaller than %d",
                    result.candidates, FLAGS.vocab_size)
  return {lang: result.per_lang[lang] for lang in langs}


def report(full_vocab: Sequence[str], config: EncoderConfig, source: str,
           target: Sequence[str], eval_sets: Dict[str, List[bytes]], lower_case: bool,
           used: Optional[Set[str]] = None) -> None:
  result = selection.fidelity_report(full_vocab, target, eval_sets, config, lower_case, source,
                                     used)
  json_path, md_path = selection.write_report(FLAGS.report_dir or FLAGS.selected_dir, result)
  print(selection.report_markdown(result))
  print(f"wrote {json_path} and {md_path}")


def main(argv: Sequence[str]) -> None:
  del argv  # run_cli rejects arguments left after the flags
  corpora = parse_corpus_flags(FLAGS.corpus)
  langs = resolve_langs(corpora)
  vocab_file = resolve_vocab_file()
  full_vocab = read_vocab(vocab_file)
  config, config_source = model_config(full_vocab, vocab_file)
  if vocab_file != FLAGS.vocab_file:
    print(f"{FLAGS.vocab_file} does not exist yet (stage 1 writes it): reading the vocab from "
          f"{vocab_file}, do_lower_case={config.do_lower_case} from {config_source}")
  lower_case = config.do_lower_case if FLAGS.lower_case is None else FLAGS.lower_case
  eval_sets = read_eval_files(FLAGS.eval_files)
  if FLAGS.eval_only:
    if not eval_sets:
      raise InputError("--eval_only needs --eval_files")
    if FLAGS.eval_vocab:
      target = read_vocab(FLAGS.eval_vocab)
    else:
      target = selection.target_vocab(full_vocab, [
          read_token_file(selected_tokens_path(FLAGS.selected_dir, lang)) for lang in langs])
    report(full_vocab, config, config_source, target, eval_sets, lower_case)
    return
  strategy = resolve_strategy(full_vocab, vocab_file)
  if FLAGS.from_counts:
    counts = load_counts(langs, full_vocab, strategy)
  else:
    counts = count_all(langs, corpora, full_vocab, lower_case)
  selections = select(langs, counts, full_vocab, strategy, lower_case,
                      config.hidden_size)
  target = selection.target_vocab(full_vocab, list(selections.values()))  # checks before writing
  if not FLAGS.from_counts:
    for lang in langs:
      counting.write_counts(FLAGS.counts_dir, lang, counts[lang])
  for lang in langs:
    write_token_file(selected_tokens_path(FLAGS.selected_dir, lang), selections[lang])
    print(f"{lang}: {counts[lang].num_lines or '-'} lines, {counts[lang].num_tokens} tokens, "
          f"{len(selections[lang])} selected -> {selected_tokens_path(FLAGS.selected_dir, lang)}")
  print(f"strategy {strategy}: the smaller vocab will have {len(target):,} tokens "
        f"({len(special_tokens(full_vocab))} special + {len(target) - len(special_tokens(full_vocab)):,})")
  if eval_sets:
    index = {t: i for i, t in enumerate(full_vocab)}
    used = set().union(*(selection.used_char_tokens(counts[lang], index) for lang in langs))
    report(full_vocab, config, config_source, target, eval_sets, lower_case, used)

