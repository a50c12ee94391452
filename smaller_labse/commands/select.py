"""Stage 2: count the tokens each language uses and select the vocabulary to keep.

  python select_vocab.py                        # the original strategy, 16 languages (+ --keep_chars=used)
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

--keep_chars: character tokens ('x', '##x'; '\u2581x', 'x' for XLM-R's
SentencePiece) kept before anything else. used (the default, every strategy):
those the counted text needs to spell its tokens character by character (both
forms of its characters for SentencePiece); all: every one text can reach (no
word made of characters of the vocab can gain [UNK]); none (with doc_frequency,
the original release's method exactly).

A Sentence Transformers source's prompts (config_sentence_transformers.json,
e.g. multilingual-e5's "query: ") have their pieces kept too.

Before stage 1 has written models/labse/vocab.txt, the vocab is read where the
original read it: downloads/labse-2/assets/cased_vocab.txt, with that
SavedModel's do_lower_case.

Installed with pip, `smaller-labse select` is the same command.
"""

import os
import sys
from typing import Dict, List, Sequence

from absl import flags

from smaller_labse import commands
from smaller_labse.formats import tf_hub_check
from smaller_labse.stages import vocab_selection
from smaller_labse.vocabulary import selection, token_counts
from smaller_labse.errors import InputError
from smaller_labse.languages import DEFAULT_WIKI_LANGS, parse_lang_list

FLAGS = commands.new_flags()
flags.DEFINE_list("langs", list(DEFAULT_WIKI_LANGS), "Languages to select for, e.g. en,fr.",
                  flag_values=FLAGS)
flags.DEFINE_string("vocab_file", os.path.join("models", "labse", "vocab.txt"),
                    "The full model's WordPiece vocab (stage 1 writes it). Left at its default "
                    "while it does not exist: downloads/labse-2's assets/cased_vocab.txt, with "
                    "that SavedModel's do_lower_case, as the original read it.", flag_values=FLAGS)
flags.DEFINE_boolean("lower_case", None, "Lower-case before tokenizing. Default: `do_lower_case` "
                     "of config.json beside --vocab_file, else false (LaBSE is cased).",
                     flag_values=FLAGS)
flags.DEFINE_string("data_dir", "data", "Where {lang}.txt corpora are read from.",
                    flag_values=FLAGS)
flags.DEFINE_multi_string("corpus", [], "LANG:PATH[,PATH...] text files to count for LANG "
                          "instead of DATA_DIR/LANG.txt; repeatable. Without --langs, the "
                          "languages are those given here.", flag_values=FLAGS)
flags.DEFINE_integer("min_chars", token_counts.DEFAULT_MIN_CHARS,
                     "Count lines of more than this many characters.", lower_bound=0,
                     flag_values=FLAGS)
flags.DEFINE_integer("max_sentences", token_counts.DEFAULT_MAX_SENTENCES,
                     "Count at most this many lines per language.", lower_bound=1,
                     flag_values=FLAGS)
flags.DEFINE_integer("batch_size", None, "Lines per tokenizer call. Default: the model's "
                     f"tokenizer's own ({token_counts.DEFAULT_BATCH_SIZE:,} for TF Hub's, "
                     f"{token_counts.DEFAULT_HF_BATCH_LINES:,} for a Hugging Face tokenizer.json).",
                     lower_bound=1, flag_values=FLAGS)
flags.DEFINE_boolean("exact_only", False, "Tokenize every line with BertTokenizer (slower; "
                     "the default routes only lines FastBertTokenizer could get wrong).",
                     flag_values=FLAGS)
flags.DEFINE_string("counts_dir", "tokens_freqs", "Where counts are written (and read).",
                    flag_values=FLAGS)
flags.DEFINE_boolean("from_counts", False, "Select from COUNTS_DIR's files without reading any "
                     "corpus (also the original release's {lang}_freqs.json, with --vocab_size).",
                     flag_values=FLAGS)
flags.DEFINE_string("selected_dir", "selected_tokens", "Where selections are written.",
                    flag_values=FLAGS)
flags.DEFINE_enum("strategy", None, ["doc_frequency", "vocab_size"],
                  "Selection strategy (default doc_frequency, or vocab_size when --vocab_size "
                  "is given).", flag_values=FLAGS)
flags.DEFINE_float("threshold", selection.DEFAULT_THRESHOLD, "doc_frequency: keep tokens found "
                   "in at least int(lines * THRESHOLD / 100) of the lines counted (percent).",
                   lower_bound=0.0, flag_values=FLAGS)
flags.DEFINE_integer("vocab_size", None, "vocab_size: the final vocab's size, special tokens "
                     "included, as make_smaller_labse.py builds it.", flag_values=FLAGS)
flags.DEFINE_boolean("char_coverage", True, "vocab_size: rank each single-character token at "
                     "least as high as its character's frequency, so pruned words do not "
                     "become [UNK].", flag_values=FLAGS)
flags.DEFINE_enum("keep_chars", None, list(selection.KEEP_CHARS),
                  "Character tokens kept before anything else. used: every 'x'/'##x' the counted "
                  "text needs to spell its tokens character by character (both forms of its "
                  "characters for SentencePiece); all: every one text can reach (no word made "
                  "of characters of the vocab can gain [UNK]); none (with doc_frequency: the "
                  "original release's method). Default: used, with every strategy.",
                  flag_values=FLAGS)
flags.DEFINE_list("eval_files", [], "[LABEL:]PATH entries (globs allowed) of text to measure "
                  "fidelity on: per label, the share of lines tokenized identically and the lines "
                  "gaining [UNK]. LABEL defaults to the last extension (tatoeba.fra-eng.fra: fra) "
                  "or the name without .txt. Writes REPORT_DIR/report.json and report.md.",
                  flag_values=FLAGS)
flags.DEFINE_boolean("eval_only", False, "Only write the fidelity report, for the selections in "
                     "SELECTED_DIR (or --eval_vocab).", flag_values=FLAGS)
flags.DEFINE_string("eval_vocab", None, "With --eval_only: evaluate this vocab file instead of "
                    "the selections (e.g. a published smaller vocab).", flag_values=FLAGS)
flags.DEFINE_string("report_dir", None, "Where report.json/.md go (default: SELECTED_DIR).",
                    flag_values=FLAGS)

ORIGINAL_MODEL_DIR = os.path.join("downloads", "labse-2")


def parse_corpus_flags(values: Sequence[str]) -> Dict[str, List[str]]:
  """['en:a.txt,b.txt', 'fr:c.txt'] -> {'en': ['a.txt', 'b.txt'], 'fr': ['c.txt']} (in order)."""
  corpora: Dict[str, List[str]] = {}
  for value in values:
    match = vocab_selection.LABELLED.fullmatch(value)
    if not match:
      raise InputError(f"--corpus={value!r}: expected LANG:PATH[,PATH...]")
    paths = [p for p in match.group(2).split(",") if p]
    if not paths:
      raise InputError(f"--corpus={value!r}: no path given")
    corpora.setdefault(match.group(1), []).extend(paths)
  return corpora


def resolve_langs(corpora: Dict[str, List[str]]) -> List[str]:
  known = vocab_selection.known_langs(corpora, FLAGS.counts_dir, FLAGS.from_counts)
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
  return tf_hub_check.encoder_vocab_file(ORIGINAL_MODEL_DIR)


def settings() -> vocab_selection.Settings:
  """The flags' settings."""
  f = FLAGS
  return vocab_selection.Settings(
      data_dir=f.data_dir, counts_dir=f.counts_dir, selected_dir=f.selected_dir,
      from_counts=f.from_counts, strategy=f.strategy, threshold=f.threshold,
      vocab_size=f.vocab_size, char_coverage=f.char_coverage, keep_chars=f.keep_chars,
      lower_case=f.lower_case, min_chars=f.min_chars, max_sentences=f.max_sentences,
      batch_size=f.batch_size, exact_only=f.exact_only, report_dir=f.report_dir)


def main(argv: Sequence[str]) -> int:
  """Runs stage 2 with the command line `argv` (argv[0]: the program); returns the exit status
  (commands.run_main: 0, 2 after `error: ...` on stderr)."""
  return commands.run_main(sys.modules[__name__], FLAGS, argv, _select)


def _select() -> None:
  corpora = parse_corpus_flags(FLAGS.corpus)
  langs = resolve_langs(corpora)
  vocab_file = resolve_vocab_file()
  model = vocab_selection.load_model(vocab_file)
  if vocab_file != FLAGS.vocab_file:
    print(f"{FLAGS.vocab_file} does not exist yet (stage 1 writes it): reading the vocab from "
          f"{vocab_file}, do_lower_case={model.config.do_lower_case} from {model.config_source}")
  eval_sets = vocab_selection.read_eval_files(FLAGS.eval_files)
  if FLAGS.eval_only:
    vocab_selection.report_only(settings(), model, langs, eval_sets, FLAGS.eval_vocab)
  else:
    vocab_selection.run(settings(), model, langs, corpora, eval_sets)
