"""Selection strategies and the fidelity report."""

import json
import random

import pytest

from smaller_labse.vocabulary import charset, fidelity, selection, tf_counting
from smaller_labse.model.config import EncoderConfig
from smaller_labse.vocabulary.token_counts import TokenCounts
from smaller_labse.errors import InputError
from smaller_labse.tokenizers.tf_hub_wordpiece import TfHubTokenizer
from smaller_labse.tokenizers.vocab import build_target_vocab, special_tokens
from tests.counting_oracle import read_filtered_lines, reference_counts
from tests.helpers_vocab import WORDS, compare_vocabs, tiny_vocab, write_lines


@pytest.fixture(scope="module")
def vocab():
  return tiny_vocab()


def _budget(counts, vocab, vocab_size, *args, **kwargs):
  """select_budget with TF Hub's tokenizer on `vocab`."""
  return selection.select_budget(counts, vocab, vocab_size, *args,
                                 tokenizer=TfHubTokenizer(vocab), **kwargs)


def _synthetic_corpus(seed: int, n: int):
  """Zipf-like lines over the test vocab's words, with some characters on their own."""
  rng = random.Random(seed)
  words = [w for w in WORDS if not w.startswith("##")] + ["thes", "weathering", "stations", "q"]
  weights = [1.0 / (i + 1) for i in range(len(words))]
  return [" ".join(rng.choices(words, weights, k=rng.randint(2, 12))) for _ in range(n)]


def _original_method(lines, vocab, percent):
  """The original select_vocab.py's selection, written plainly."""
  _, doc_freqs = reference_counts(lines, vocab)
  seuil = int(len(lines) * percent / 100)
  return sorted(tok for tok in doc_freqs if doc_freqs[tok] >= seuil)


@pytest.fixture(scope="module")
def counter(vocab):
  return tf_counting.Counter(vocab)


@pytest.mark.parametrize("seed,n,percent", [(0, 300, 0.005), (1, 300, 2.0), (2, 400, 10.0)])
def test_doc_frequency_reproduces_the_original_method(tmp_path, vocab, counter, seed, n, percent):
  path = write_lines(str(tmp_path / "c.txt"), _synthetic_corpus(seed, n))
  counts = tf_counting.count_corpus(counter, [path], vocab)
  lines = read_filtered_lines([path])
  assert selection.select_doc_frequency(counts, percent) == _original_method(lines, vocab, percent)


def test_doc_frequency_bound_is_the_originals():
  assert selection.doc_frequency_min_lines(1_000_000) == 50
  assert selection.doc_frequency_min_lines(39_999) == 1  # int(1.99995): truncated
  assert selection.doc_frequency_min_lines(19_999) == 0  # every counted token is kept


def test_doc_frequency_needs_line_frequencies():
  with pytest.raises(InputError, match="original release's counts hold occurrences only"):
    selection.select_doc_frequency(TokenCounts(occurrences={"the": 3}), source="en_freqs.json")


def _counts(occurrences, doc_freqs=None, num_lines=None):
  return TokenCounts(occurrences=occurrences, doc_freqs=doc_freqs, num_lines=num_lines)


def test_budget_spends_exactly_the_final_vocab_size(vocab):
  counts = {"en": _counts({"the": 50, "weather": 20, "is": 30, "nice": 5, "##s": 7, "[UNK]": 3}),
            "fr": _counts({"il": 10, "fait": 4, "beau": 2, "où": 1})}
  n_special = len(special_tokens(vocab))
  for size in range(n_special + 1, n_special + 8):
    result = _budget(counts, vocab, size, char_coverage=False)
    target = build_target_vocab(vocab, list(result.per_lang.values()), special_tokens(vocab))
    assert len(target) == size
    assert set(target[n_special:]) == set(result.kept)
  with pytest.raises(InputError, match="too small"):
    _budget(counts, vocab, n_special, char_coverage=False)


def test_budget_ranks_by_largest_relative_frequency(vocab):
  # 'il' is 1% of a small French corpus, 'nice' 0.5% of a large English one.
  counts = {"en": _counts({"the": 10_000, "nice": 500, "is": 89_500}),
            "fr": _counts({"il": 10, "fait": 990})}
  result = _budget(counts, vocab, len(special_tokens(vocab)) + 4,
                                   char_coverage=False, keep_chars="none")
  assert result.kept == ["fait", "is", "the", "il"]
  assert result.per_lang == {"en": ["is", "the"], "fr": ["fait", "il"]}


def test_char_coverage_ranks_characters_above_the_words_they_replace(vocab):
  occ = {"the": 1000, "is": 900, "été": 2, "école": 2, "élan": 2, "é": 1, "gare": 3, "beau": 3,
         "quoi": 1, "##\u202f": 1}
  counts = {"fr": _counts(occ)}
  n_special = len(special_tokens(vocab))
  everything = _budget(counts, vocab, len(vocab), keep_chars="none").kept
  rank = {t: i for i, t in enumerate(everything)}
  # 'é' (7 with the words it begins) before those words and before 'gare' (3).
  assert rank["é"] < min(rank["gare"], rank["été"], rank["école"], rank["élan"])
  assert "##\u202f" in rank
  assert rank["the"] < rank["##h"]  # a word before the characters that score through it
  without = _budget(counts, vocab, len(vocab), char_coverage=False,
                                    keep_chars="none").kept
  assert "##h" not in without and rank["é"] < rank["gare"]
  # A small budget goes to the frequent words and their letters, not to rare characters.
  small = _budget(counts, vocab, n_special + 8, keep_chars="none").kept
  assert {"the", "is"} <= set(small) and "é" not in small and "##\u202f" not in small
  assert _budget(counts, vocab, n_special + 8, keep_chars="none").kept == small


def test_used_characters_survive_every_budget_that_holds_them(vocab):
  # The issue's cases: a CJK character seen 7 times as a word of its own ('天'), a suffix
  # character seen once ('##é'), rare words ('gare'), far below millions of frequent words.
  words = {w: 10_000_000 for w in ("the", "is", "nice", "today", "where", "station")}
  counts = {"en": _counts({**words, "##é": 1, "gare": 2, "beau": 2, "quoi": 2}),
            "zh": _counts({"天": 7, "気": 10_000_000})}
  index = {t: i for i, t in enumerate(vocab)}
  used = selection.used_char_tokens(counts["en"], index, TfHubTokenizer(vocab)) | selection.used_char_tokens(
      counts["zh"], index, TfHubTokenizer(vocab))
  # Every character of every counted token, in its position ('gare' -> g ##a ##r ##e).
  assert {"##é", "天", "気", "g", "##a", "##r", "##e", "q", "##u", "##o", "##i"} <= used
  assert "a" not in used and "##g" not in used  # never seen in that position
  n_special = len(special_tokens(vocab))
  for extra in (0, 1, 5):
    result = _budget(counts, vocab, n_special + len(used) + extra)
    assert used <= set(result.kept) and result.guaranteed_kept == result.guaranteed == len(used)
    assert "天" in result.per_lang["zh"] and "天" not in result.per_lang["en"]
    assert set().union(*map(set, result.per_lang.values())) == set(result.kept)
    # Whatever was pruned stays spellable: no counted word gains an [UNK].
    target = build_target_vocab(vocab, list(result.per_lang.values()), special_tokens(vocab))
    lines = ["gare beau quoi", "the station is nice", "天気", "questions"]
    fidelity = compare_vocabs(vocab, target, [s.encode() for s in lines])
    assert fidelity.gain_unk == 0 and fidelity.identical < len(lines)
  # Without the guarantee, the same budget spends its room on frequent tokens and loses '天'.
  plain = _budget(counts, vocab, n_special + 10, keep_chars="none")
  assert "天" not in plain.kept and "##é" not in plain.kept
  target = build_target_vocab(vocab, list(plain.per_lang.values()), special_tokens(vocab))
  assert compare_vocabs(vocab, target, ["天気".encode()]).gain_unk == 1
  # A budget too small for them keeps the best-scored ones, and says how many.
  small = _budget(counts, vocab, n_special + 3)
  assert (small.guaranteed, small.guaranteed_kept) == (len(used), 3)
  assert set(small.kept) <= used and small.cutoff == float("inf")


def test_keep_chars_all_puts_every_reachable_character_in_every_file(vocab):
  counts = {"en": _counts({"the": 100, "is": 50}), "fr": _counts({"il": 100, "beau": 10})}
  coverage = charset.analyze(TfHubTokenizer(vocab))
  n_special = len(special_tokens(vocab))
  result = _budget(counts, vocab, n_special + len(coverage.reachable) + 2,
                                   keep_chars="all")
  assert set(coverage.reachable) <= set(result.per_lang["en"])
  assert set(coverage.reachable) <= set(result.per_lang["fr"])
  assert "##?" not in result.kept and "##天" not in result.kept  # split: never looked up
  assert {"the", "il"} <= set(result.kept)  # the two best words fill the rest
  with pytest.raises(InputError, match="keep_chars"):
    _budget(counts, vocab, 30, keep_chars="some")


def test_doc_frequency_with_keep_chars_adds_characters(vocab):
  counts = {"en": _counts({"the": 10, "gare": 1}, {"the": 10, "gare": 1}, 10)}
  plain = selection.select_doc_frequency(counts["en"], 50.0)
  assert plain == ["the"]
  added, n = selection.add_guaranteed({"en": plain}, "used", counts, vocab,
                                    tokenizer=TfHubTokenizer(vocab))
  assert n == 6 and added["en"] == sorted(["the", "t", "##h", "##e", "g", "##a", "##r"])
  assert selection.add_guaranteed({"en": plain}, "none", counts, vocab,
                                  tokenizer=TfHubTokenizer(vocab)) == ({"en": plain}, 0)


def test_budget_uses_line_frequencies_when_known(vocab):
  counts = {"en": _counts({"the": 100, "is": 10}, doc_freqs={"the": 5, "is": 10}, num_lines=10)}
  result = _budget(counts, vocab, len(special_tokens(vocab)) + 1,
                                   char_coverage=False, keep_chars="none")
  assert result.kept == ["is"]


def test_fidelity_counts_identical_lines_and_unk_gains(vocab):
  target = [t for t in vocab if t != "##\u202f"]
  target.remove("##\xa0")
  lines = [b"il fait beau", "quoi\u202f?".encode(), "la gare\xa0!".encode(), b"the zebra"]
  f = compare_vocabs(vocab, target, lines)
  assert (f.lines, f.identical, f.gain_unk) == (4, 2, 2)
  # Removing whole words changes tokenizations without an [UNK].
  target = [t for t in vocab if t not in ("the", "gare")]
  f = compare_vocabs(vocab, target, lines)
  assert (f.identical, f.gain_unk) == (2, 0)


def test_report_is_deterministic(tmp_path, vocab):
  target = vocab[:-3]
  config = EncoderConfig(vocab_size=len(vocab), hidden_size=8, num_layers=1, num_heads=2,
                         intermediate_size=16, max_position_embeddings=16)
  report = fidelity.fidelity_report(vocab, target, {"fra": [b"il fait beau"], "eng": [b"the"]},
                                     config, config_source="config.json",
                                     tokenizer=TfHubTokenizer(vocab))
  paths = fidelity.write_report(str(tmp_path), report)
  first = [open(p, "rb").read() for p in paths]
  fidelity.write_report(str(tmp_path), report)
  assert first == [open(p, "rb").read() for p in paths]
  data = json.loads(first[0])
  assert data["smaller"]["vocab_size"] == len(target)
  assert data["total"] == {"lines": 2, "identical": 2, "identical_pct": 100.0, "gain_unk": 0,
                           "kept_lines": 2, "kept_lines_moved": 0}
  assert "| **all** | 2 | 100.00% | 0 |" in first[1].decode()


def test_selections_are_deterministic(vocab):
  counts = {"en": _counts({"the": 50, "is": 30, "nice": 5}, {"the": 20, "is": 20, "nice": 5}, 20),
            "fr": _counts({"il": 10, "fait": 4}, {"il": 10, "fait": 4}, 10)}
  runs = [(_budget(counts, vocab, 12).per_lang,
           selection.select_doc_frequency(counts["en"], 30.0)) for _ in range(2)]
  assert runs[0] == runs[1]
  assert runs[0][1] == ["is", "the"]  # 'nice' is in 5 lines of 20, under int(20 * 0.3) = 6
