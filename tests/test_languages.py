"""Language codes: the 112 Tatoeba languages, the 639-1 / 639-3 mapping, list parsing."""

import re

import pytest

from smaller_labse import languages
from smaller_labse.errors import InputError


def test_the_112_tatoeba_languages():
  codes = languages.TATOEBA_LANGS
  assert len(codes) == 112
  assert all(re.fullmatch(r"[a-z]{3}", c) for c in codes) and "eng" not in codes
  assert set(languages.DEFAULT_TATOEBA_LANGS) <= set(codes)
  assert languages.DEFAULT_TATOEBA_LANGS == ("fra", "spa", "deu", "cmn", "ara", "ita", "jpn",
                                             "kor", "nld", "pol", "por", "tha", "tur", "rus")
  ones = [one for one, _ in codes.values() if one]
  assert len(ones) == len(set(ones))  # the mapping is one to one


def test_iso639_1_to_3_covers_the_wiki_languages():
  for lang in languages.DEFAULT_WIKI_LANGS:
    assert lang in languages.ISO639_1_TO_3
  assert languages.ISO639_1_TO_3["en"] == "eng"
  assert languages.ISO639_1_TO_3["zh"] == languages.ISO639_1_TO_3["zh_classical"] == "cmn"
  assert [languages.ISO639_1_TO_3[l] for l in ("fr", "es", "de", "ar", "ja", "ko", "ru")] == [
      "fra", "spa", "deu", "ara", "jpn", "kor", "rus"]


def test_short_codes_are_the_readme_columns():
  assert [languages.short_code(l) for l in languages.DEFAULT_TATOEBA_LANGS] == [
      "fr", "es", "de", "zh", "ar", "it", "ja", "ko", "nl", "pl", "pt", "th", "tr", "ru"]
  assert languages.short_code("gsw") == "gsw"  # no ISO 639-1 code


def test_parse_tatoeba_langs():
  assert languages.parse_tatoeba_langs("fra, de,cmn,") == ["fra", "deu", "cmn"]
  assert languages.parse_tatoeba_langs("zh") == ["cmn"]


@pytest.mark.parametrize("value, message", [
    ("fra,xyz", "unknown Tatoeba language code 'xyz'"),
    ("eng", "pivot"),
    ("fr,fra", "given twice .*fra"),
    (" , ", "no Tatoeba language code"),
])
def test_parse_tatoeba_langs_errors(value, message):
  with pytest.raises(InputError, match=message):
    languages.parse_tatoeba_langs(value)


def test_parse_lang_list_still_works():
  assert languages.parse_lang_list("en,fr", languages.DEFAULT_WIKI_LANGS) == ["en", "fr"]
  with pytest.raises(InputError, match="unknown language code 'xx'"):
    languages.parse_lang_list("en,xx", languages.DEFAULT_WIKI_LANGS)
  with pytest.raises(InputError, match="duplicate"):
    languages.parse_lang_list("en,en", languages.DEFAULT_WIKI_LANGS)


def test_tatoeba_langs_for_the_default_wiki_languages_are_the_14():
  assert tuple(languages.tatoeba_langs_for(languages.DEFAULT_WIKI_LANGS)) == \
      languages.DEFAULT_TATOEBA_LANGS
  assert languages.tatoeba_langs_for(["en", "haw", "zh", "zh_classical"]) == ["cmn"]
