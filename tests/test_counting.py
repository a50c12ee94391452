"""Token counting: exact (equal to the original approach), capped and filtered like the original."""

import glob
import json
import os

import pytest
import tensorflow as tf

from smaller_labse.vocabulary import tf_counting, token_counts
from smaller_labse.errors import InputError
from tests.counting_oracle import read_filtered_lines, reference_counts
from tests.helpers_vocab import (SHARED_TATOEBA, SHARED_VOCAB, hard_lines, tiny_vocab,
                                 write_lines)


@pytest.fixture(scope="module")
def vocab():
  return tiny_vocab()


@pytest.fixture(scope="module")
def counter(vocab):
  return tf_counting.Counter(vocab)


def _write_bytes(path, lines):
  with open(path, "wb") as f:
    f.write(b"".join(line + b"\n" for line in lines))
  return str(path)


def test_hard_cases_equal_the_original_approach(tmp_path, vocab, counter):
  path = _write_bytes(tmp_path / "hard.txt", hard_lines())
  counts = tf_counting.count_corpus(counter, [path], vocab, batch_size=64)
  lines = read_filtered_lines([path])
  occurrences, doc_freqs = reference_counts(lines, vocab)
  assert counts.num_lines == len(lines)
  assert counts.occurrences == occurrences
  assert counts.doc_freqs == doc_freqs
  assert counts.occurrences["[UNK]"] > 0 and "\xa0" in counts.occurrences


def test_routed_lines_are_those_the_fast_tokenizer_could_get_wrong(vocab, counter):
  lines = tf.constant(["the weather", "a\xa0b", "x\u202f?", "\u3000", "a\x01", "\u200b",
                       "天気 ภาษา é"])
  safe = tf.strings.regex_full_match(lines, tf_counting.safe_line_pattern()).numpy().tolist()
  assert safe == [True, False, False, False, False, False, True]
  invalid = tf.constant([b"caf\xc3\xa9\xff", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"])
  assert not any(tf.strings.regex_full_match(invalid, tf_counting.safe_line_pattern()).numpy())


def test_fast_and_exact_tokenizers_agree_on_routed_hard_cases(vocab, counter):
  exact = tf_counting.Counter(vocab, exact_only=True)
  lines = tf.constant(hard_lines(seed=1))
  a, _ = counter.token_ids(lines)
  b, _ = exact.token_ids(lines)
  assert sorted(map(tuple, a.to_list())) == sorted(map(tuple, b.to_list()))


def test_min_chars_and_max_sentences_like_the_original(tmp_path, vocab, counter):
  # 'short' has 5 characters (not more than 5): skipped; 'où est' has 6: counted.
  lines = ["short", "où est", "the weather"] * 5 + ["la gare"] * 3
  path = write_lines(str(tmp_path / "c.txt"), lines)
  counts = tf_counting.count_corpus(counter, [path], vocab, max_sentences=7, batch_size=4)
  assert counts.num_lines == 7
  assert counts.doc_freqs["où"] == 4 and counts.doc_freqs["the"] == 3
  assert "gare" not in counts.occurrences
  full = tf_counting.count_corpus(counter, [path], vocab, min_chars=3, batch_size=4)
  assert full.num_lines == 18 and full.occurrences["gare"] == 3


def test_several_files_in_order(tmp_path, vocab, counter):
  a = write_lines(str(tmp_path / "a.txt"), ["the weather is nice"] * 3)
  b = write_lines(str(tmp_path / "b.txt"), ["il fait beau"] * 3)
  counts = tf_counting.count_corpus(counter, [a, b], vocab, max_sentences=4)
  assert counts.doc_freqs["the"] == 3 and counts.doc_freqs["il"] == 1


def test_lower_case_counts_with_the_exact_tokenizer(tmp_path, vocab):
  path = write_lines(str(tmp_path / "c.txt"), ["THE WEATHER Is Nice", "Où Est La Gare"])
  counts = tf_counting.count_corpus(tf_counting.Counter(vocab, lower_case=True), [path], vocab)
  assert counts.occurrences["the"] == 1 and counts.occurrences["weather"] == 1
  assert counts.occurrences["la"] == 1 and "où" not in counts.occurrences


def test_bad_corpus(tmp_path, vocab, counter):
  with pytest.raises(InputError, match="missing.txt: corpus file not found"):
    tf_counting.count_corpus(counter, [str(tmp_path / "missing.txt")], vocab)
  empty = write_lines(str(tmp_path / "short.txt"), ["a", "bb", "", "12345"])
  with pytest.raises(InputError, match="short.txt: no line longer than 5 characters"):
    tf_counting.count_corpus(counter, [empty], vocab)


def test_counts_files_round_trip_and_are_deterministic(tmp_path, vocab, counter):
  path = write_lines(str(tmp_path / "c.txt"), ["the weather is nice\xa0today", "il fait beau"])
  counts = tf_counting.count_corpus(counter, [path], vocab)
  out = str(tmp_path / "freqs")
  token_counts.write_counts(out, "fr", counts)
  first = {n: open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out))}
  assert sorted(first) == ["fr_doc_freqs.json", "fr_freqs.json"]
  assert json.loads(first["fr_freqs.json"]) == counts.occurrences  # the original's format
  back = token_counts.read_counts(out, "fr")
  assert (back.occurrences, back.doc_freqs, back.num_lines) == (
      counts.occurrences, counts.doc_freqs, counts.num_lines)
  token_counts.write_counts(out, "fr", tf_counting.count_corpus(counter, [path], vocab))
  assert first == {n: open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out))}


def test_original_release_counts_have_no_line_frequencies(tmp_path):
  out = str(tmp_path)
  with open(os.path.join(out, "en_freqs.json"), "w") as f:
    json.dump({"the": 10, "##s": 3}, f)
  counts = token_counts.read_counts(out, "en")
  assert counts.doc_freqs is None and counts.num_lines is None and counts.num_tokens == 13


@pytest.mark.parametrize("text,message", [
    ('{"the": 10, "##s": ', "not valid JSON, truncated or corrupt"),
    ('["the"]', "must be a JSON object"),
    ('{"the": "10"}', "expected a non-negative integer"),
    ('{"the": -1}', "expected a non-negative integer"),
    ('{"the": true}', "expected a non-negative integer"),
    ('{}', "no token counted"),
])
def test_malformed_counts(tmp_path, text, message):
  with open(tmp_path / "en_freqs.json", "w") as f:
    f.write(text)
  with pytest.raises(InputError, match=message) as e:
    token_counts.read_counts(str(tmp_path), "en")
  assert "en_freqs.json" in str(e.value)


def test_a_sidecar_from_another_run_is_refused(tmp_path, vocab, counter):
  path = write_lines(str(tmp_path / "c.txt"), ["the weather is nice", "il fait beau"])
  out = str(tmp_path / "freqs")
  token_counts.write_counts(out, "en", tf_counting.count_corpus(counter, [path], vocab))
  with open(os.path.join(out, "en_freqs.json"), "w") as f:  # as if interrupted between the two
    json.dump({"the": 1}, f)
  with pytest.raises(InputError, match="does not belong to"):
    token_counts.read_counts(out, "en")


@pytest.mark.skipif(not os.path.exists(SHARED_VOCAB), reason="needs ../shared")
def test_real_vocab_on_tatoeba_equals_the_exact_tokenizer(tmp_path):
  from smaller_labse.tokenizers.vocab import read_vocab
  vocab = read_vocab(SHARED_VOCAB)
  # German and French sides hold the no-break spaces the fast tokenizer gets wrong.
  files = sorted(glob.glob(os.path.join(SHARED_TATOEBA, "tatoeba.deu-eng.*"))
                 + glob.glob(os.path.join(SHARED_TATOEBA, "tatoeba.fra-eng.fra")))
  ours = tf_counting.count_corpus(tf_counting.Counter(vocab), files, vocab)
  exact = tf_counting.count_corpus(tf_counting.Counter(vocab, exact_only=True), files, vocab)
  assert (ours.occurrences, ours.doc_freqs, ours.num_lines) == (
      exact.occurrences, exact.doc_freqs, exact.num_lines)
