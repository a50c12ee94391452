"""Character tokens: which ones text can reach, and the no-new-[UNK] guarantee of --keep_chars=all.

The guarantee is checked the way LaBSE's preprocessor tokenizes
(`tensorflow_text.BertTokenizer`): random text drawn from every script of a
vocab, tokenized with the full vocab and with a pruned one that keeps every
reachable single-character token, gains no [UNK].
"""

import os
import random
import unicodedata

import pytest
import tensorflow as tf

from smaller_labse.vocabulary import charset, fidelity, selection
from smaller_labse.vocabulary.token_counts import TokenCounts
from smaller_labse.tokenizers.base import WORDPIECE
from smaller_labse.tokenizers.tf_bert_tokenizer import bert_tokenizer
from smaller_labse.tokenizers.tf_hub_wordpiece import TfHubTokenizer
from smaller_labse.tokenizers.vocab import UNK, build_target_vocab, read_vocab, special_tokens
from tests.helpers_vocab import SHARED_VOCAB, compare_vocabs

SPECIALS = ["[PAD]", "[unused1]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _chars(first: str, last: str, step: int = 1):
  return [chr(c) for c in range(ord(first), ord(last) + 1, step)]


# Scripts as LaBSE's vocab holds them: letters, marks, digits, the non-ASCII spaces that
# stay inside words, punctuation and CJK (words of their own), format characters (dropped).
SCRIPTS = {
    "latin": _chars("a", "z") + _chars("A", "Z") + list("éüñçßøł") + ["\u0301"],
    "cyrillic": _chars("а", "я"),
    "greek": _chars("α", "ω"),
    "arabic": _chars("\u0627", "\u064a"),
    "devanagari": _chars("\u0915", "\u0939") + ["\u093e", "\u093f", "\u094d"],
    "thai": _chars("\u0e01", "\u0e2e") + ["\u0e31", "\u0e34", "\u0e48"],
    "hangul": _chars("가", "힣", 397),
    "kana": _chars("ぁ", "ゖ", 3) + _chars("ァ", "ヺ", 3) + ["ﾑ", "ｱ"],
    "fullwidth": _chars("Ａ", "Ｚ") + _chars("０", "９"),
    "cjk": list("中文天気日本語学生人大小山川") + ["\u3400", "\U00020000"],
    "digits": _chars("0", "9"),
    "symbols": list("€©°±§¶"),
    "punctuation": list(".,!?;:'\"()[]{}«»“”–—…、。「」・¿¡#%&*+/<=>@\\^_`|~$"),
    "spaces": ["\xa0", "\u202f", "\u3000", "\u2009"],
    "format": ["\u200b", "\u200e", "\ufeff", "\x01", "\x7f"],
}
# In the same blocks but not in the vocab: words holding them are [UNK] with either vocab.
UNSEEN = list("ŋəђѣϡ\u0671\u0e2f각ゟ\u4e03\U00020001")
GAP_CHAR = "ǂ"  # 'ǂ' but no '##ǂ', while the longer token 'aǂ' spells it mid-word
HARMLESS_CHAR = "ʘ"  # 'ʘ' but no '##ʘ', and no longer token holds it: [UNK] mid-word everywhere


def synthetic_vocab(seed: int = 0):
  """A vocab built like LaBSE's: specials, 'x' and '##x' of every character (split characters
  included), longer tokens of both forms, a gap character and a harmless one."""
  rng = random.Random(seed)
  chars = [c for script in SCRIPTS.values() for c in script]
  tokens = SPECIALS + chars + ["##" + c for c in chars]
  for script, letters in SCRIPTS.items():
    if script in ("punctuation", "cjk", "format", "spaces"):
      continue
    for _ in range(40):
      body = "".join(rng.choice(letters) for _ in range(rng.randint(2, 5)))
      tokens.append(body if rng.random() < 0.5 else "##" + body)
  tokens += [GAP_CHAR, "aǂ", HARMLESS_CHAR]
  return list(dict.fromkeys(tokens))


@pytest.fixture(scope="module")
def vocab():
  return synthetic_vocab()


def test_analysis_sorts_character_tokens_by_what_text_can_reach(vocab):
  coverage = charset.analyze(TfHubTokenizer(vocab))
  classes = coverage.classes
  assert {classes[c] for c in "aé\u0301\xa0\u202f\u3000ก가ﾑＡ0€"} == {charset.WORD}
  assert {classes[c] for c in ".!«“、。中天\u3400\U00020000#"} == {charset.SPLIT}
  assert {classes[c] for c in "\u200b\u200e\ufeff\x01\x7f"} == {charset.DROPPED}
  assert "##中" in coverage.unreachable and "##." in coverage.unreachable
  assert "\u200b" in coverage.unreachable and "##\u200b" in coverage.unreachable
  assert {"中", ".", "a", "##a", "\xa0", "##\u202f", GAP_CHAR} <= set(coverage.reachable)
  assert len(coverage.reachable) + len(coverage.unreachable) == len(charset.char_tokens(vocab, WORDPIECE, SPECIALS))
  assert coverage.gap_chars == [GAP_CHAR]  # HARMLESS_CHAR: no token spells it mid-word
  assert WORDPIECE.spell("abc") == ["a", "##b", "##c"]
  assert WORDPIECE.spell("##bc") == ["##b", "##c"]


def _random_word(rng, letters, tokens):
  kind = rng.random()
  if kind < 0.4:  # characters of one script, some not in the vocab
    pool = letters + (UNSEEN if rng.random() < 0.1 else [])
    return "".join(rng.choice(pool) for _ in range(rng.randint(1, 12)))
  if kind < 0.8:  # longer vocab tokens glued together: the full vocab uses them
    parts = [t[2:] if t.startswith("##") else t for t in rng.sample(tokens, rng.randint(1, 4))]
    return "".join(parts)
  if kind < 0.95:  # scripts mixed inside a word
    return "".join(rng.choice(rng.choice(list(SCRIPTS.values()))) for _ in range(rng.randint(2, 8)))
  return rng.choice(letters) * rng.randint(60, 120)  # over 100 bytes: [UNK] either way


def random_lines(vocab, n, seed, exclude=()):
  """Random text drawn from every script of the synthetic vocab."""
  rng = random.Random(seed)
  longer = [t for t in vocab if not charset.is_char_token(t, WORDPIECE) and t not in SPECIALS and
            not any(c in t for c in exclude)]
  separators = [" ", " ", " ", "\t", "\xa0", "\u3000", "\u200b", "\x01", ". ", "、", "«", "?"]
  scripts = list(SCRIPTS.values())
  lines = []
  for i in range(n):
    letters = [c for c in scripts[i % len(scripts)] if c not in exclude]
    words = [_random_word(rng, letters, longer) for _ in range(rng.randint(1, 8))]
    lines.append("".join(w + rng.choice(separators) for w in words).encode("utf-8"))
  return lines


def _unk_lines(vocab, lines):
  tokens = bert_tokenizer(vocab, token_out_type=tf.string).tokenize(tf.constant(lines))
  unk = tf.reduce_sum(tf.cast(tf.equal(tokens.merge_dims(1, 2), UNK), tf.int32), axis=1)
  return int(tf.reduce_sum(tf.cast(unk > 0, tf.int32)))


def _pruned(vocab, keep_chars, extra=30, seed=0):
  """A --vocab_size selection from random counts: the guaranteed characters + `extra` tokens."""
  rng = random.Random(seed)
  longer = [t for t in vocab if not charset.is_char_token(t, WORDPIECE) and t not in SPECIALS]
  counts = {lang: TokenCounts(occurrences={t: rng.randint(1, 1000)
                                           for t in rng.sample(longer, 60) if t != "aǂ"})
            for lang in ("xx", "yy")}
  size = len(special_tokens(vocab)) + len(charset.analyze(TfHubTokenizer(vocab)).reachable) + extra
  result = selection.select_budget(counts, vocab, size, keep_chars=keep_chars,
                                   tokenizer=TfHubTokenizer(vocab))
  return build_target_vocab(vocab, list(result.per_lang.values()), special_tokens(vocab))


def test_keep_chars_all_no_random_line_gains_unk(vocab):
  pruned = _pruned(vocab, "all")
  assert len(pruned) < len(vocab) * 0.9 and "aǂ" not in pruned
  lines = random_lines(vocab, 1500, seed=1, exclude=GAP_CHAR)
  fidelity = compare_vocabs(vocab, pruned, lines)
  assert fidelity.gain_unk == 0
  assert fidelity.identical < 0.8 * len(lines)  # the pruning did change tokenizations
  assert _unk_lines(vocab, lines) > 100  # unseen characters, long words: [UNK] either way
  # Without the guarantee the same budget loses characters, and lines gain [UNK].
  plain = _pruned(vocab, "none")
  assert len(plain) <= len(pruned)  # (only counted tokens are candidates)
  assert compare_vocabs(vocab, plain, lines).gain_unk > 100
  # The one exception the analysis names: 'aǂ' pruned, no '##ǂ' to spell it with.
  gap = compare_vocabs(vocab, pruned, ["aǂ ǂ".encode()])
  assert gap.gain_unk == 1


def test_report_states_the_guarantee_the_vocab_gives(vocab):
  everything = charset.analyze(TfHubTokenizer(vocab)).reachable
  tokenizer = TfHubTokenizer(vocab)
  all_kept = fidelity.char_guarantee(vocab, SPECIALS + everything, tokenizer=tokenizer)
  assert all_kept["keep_chars"] == "all"
  assert "no word made of characters of the vocab can gain [UNK]" in all_kept["statement"]
  assert "except words holding one of the 1 characters" in all_kept["statement"]
  used = {"t", "##h", "##e"}
  some = fidelity.char_guarantee(vocab, SPECIALS + sorted(used), used=used,
                                 tokenizer=tokenizer)
  assert some["keep_chars"] == "used" and some["char_tokens_used_kept"] == 3
  assert "the counted text uses is kept (3;" in some["statement"]
  none = fidelity.char_guarantee(vocab, SPECIALS + ["t"], used=used,
                                 tokenizer=tokenizer)
  assert none["keep_chars"] == "none" and "2 of them used by the counted text" in none["statement"]
  assert fidelity.char_guarantee(vocab, SPECIALS + ["t"],
                                 tokenizer=tokenizer)["keep_chars"] == "none"


@pytest.mark.skipif(not os.path.exists(SHARED_VOCAB), reason="../shared is not present")
def test_real_labse_vocab_keep_chars_all_guarantee():
  full = read_vocab(SHARED_VOCAB)
  coverage = charset.analyze(TfHubTokenizer(full))
  assert coverage.num_char_tokens == 29_741
  assert (len(coverage.reachable), len(coverage.unreachable), coverage.gap_chars) == (21_346,
                                                                                        8_395, [])
  # The smallest vocab with the guarantee: special tokens and reachable characters only.
  pruned = special_tokens(full) + coverage.reachable
  rng = random.Random(0)
  by_script = {}
  for token in coverage.reachable:
    ch = WORDPIECE.char_of(token)
    by_script.setdefault(unicodedata.name(ch, "UNNAMED").split()[0], set()).add(ch)
  longer = rng.sample([t for t in full if not charset.is_char_token(t, WORDPIECE) and "[" not in t], 3000)
  lines = []
  for name in sorted(by_script):  # every script of the vocab, several lines each
    letters = sorted(by_script[name])
    for _ in range(4):
      words = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 10)))
               for _ in range(rng.randint(1, 6))]
      words += [t.replace("##", "") + rng.choice(letters) for t in rng.sample(longer, 2)]
      lines.append(" ".join(words).encode("utf-8"))
  assert len(by_script) > 100
  fidelity = compare_vocabs(full, pruned, lines)
  assert fidelity.gain_unk == 0 and fidelity.identical < len(lines) // 2
