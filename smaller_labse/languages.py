"""Language codes, in one place.

Wikipedia dumps and selections use ISO 639-1 codes ('en', 'fr', plus the
dump's own 'zh_classical'); Tatoeba uses ISO 639-3 ('fra', 'cmn').
"""

from typing import List, Sequence

from smaller_labse.errors import InputError

# The 16 languages of the original release, in its order.
DEFAULT_WIKI_LANGS = ("en", "fr", "es", "de", "zh", "ar", "zh_classical", "it", "ja", "ko",
                      "nl", "pl", "pt", "th", "tr", "ru")


def parse_lang_list(value: str, known: Sequence[str], what: str = "language") -> List[str]:
  """Splits 'en,fr' into ['en', 'fr'], rejecting unknown and duplicate codes."""
  langs = [code.strip() for code in value.split(",") if code.strip()]
  if not langs:
    raise InputError(f"no {what} code given")
  for code in langs:
    if code not in known:
      raise InputError(f"unknown {what} code {code!r} (known: {', '.join(known)})")
  if len(set(langs)) != len(langs):
    raise InputError(f"duplicate {what} code in {value!r}")
  return langs
