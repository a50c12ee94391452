"""Language codes, in one place.

Wikipedia dumps and selections use ISO 639-1 codes ('en', 'fr', plus the
dump's own 'zh_classical'); Tatoeba uses ISO 639-3 ('fra', 'cmn'). This module
lists the 112 languages of LASER's Tatoeba v1 test set and maps the two.
"""

from typing import Dict, List, Optional, Sequence, Tuple

from smaller_labse.errors import InputError

# The 16 languages of the original release, in its order.
DEFAULT_WIKI_LANGS = ("en", "fr", "es", "de", "zh", "ar", "zh_classical", "it", "ja", "ko",
                      "nl", "pl", "pt", "th", "tr", "ru")

# The 14 Tatoeba languages the original release evaluated, in its order (evaluate_tatoeba.sh).
DEFAULT_TATOEBA_LANGS = ("fra", "spa", "deu", "cmn", "ara", "ita", "jpn", "kor", "nld", "pol",
                         "por", "tha", "tur", "rus")

# Every language of LASER's data/tatoeba/v1 (each paired with 'eng'):
# ISO 639-3 code -> (ISO 639-1 code or None, English name).
# Where Tatoeba uses an individual language of a macrolanguage, the macrolanguage's
# 639-1 code is given (cmn -> zh, lvs -> lv, pes -> fa, swh -> sw, zsm -> ms).
TATOEBA_LANGS: Dict[str, Tuple[Optional[str], str]] = {
    "afr": ("af", "Afrikaans"), "amh": ("am", "Amharic"), "ang": (None, "Old English"),
    "ara": ("ar", "Arabic"), "arq": (None, "Algerian Arabic"), "arz": (None, "Egyptian Arabic"),
    "ast": (None, "Asturian"), "awa": (None, "Awadhi"), "aze": ("az", "Azerbaijani"),
    "bel": ("be", "Belarusian"), "ben": ("bn", "Bengali"), "ber": (None, "Berber"),
    "bos": ("bs", "Bosnian"), "bre": ("br", "Breton"), "bul": ("bg", "Bulgarian"),
    "cat": ("ca", "Catalan"), "cbk": (None, "Chavacano"), "ceb": (None, "Cebuano"),
    "ces": ("cs", "Czech"), "cha": ("ch", "Chamorro"), "cmn": ("zh", "Mandarin Chinese"),
    "cor": ("kw", "Cornish"), "csb": (None, "Kashubian"), "cym": ("cy", "Welsh"),
    "dan": ("da", "Danish"), "deu": ("de", "German"), "dsb": (None, "Lower Sorbian"),
    "dtp": (None, "Central Dusun"), "ell": ("el", "Greek"), "epo": ("eo", "Esperanto"),
    "est": ("et", "Estonian"), "eus": ("eu", "Basque"), "fao": ("fo", "Faroese"),
    "fin": ("fi", "Finnish"), "fra": ("fr", "French"), "fry": ("fy", "Western Frisian"),
    "gla": ("gd", "Scottish Gaelic"), "gle": ("ga", "Irish"), "glg": ("gl", "Galician"),
    "gsw": (None, "Swiss German"), "heb": ("he", "Hebrew"), "hin": ("hi", "Hindi"),
    "hrv": ("hr", "Croatian"), "hsb": (None, "Upper Sorbian"), "hun": ("hu", "Hungarian"),
    "hye": ("hy", "Armenian"), "ido": ("io", "Ido"), "ile": ("ie", "Interlingue"),
    "ina": ("ia", "Interlingua"), "ind": ("id", "Indonesian"), "isl": ("is", "Icelandic"),
    "ita": ("it", "Italian"), "jav": ("jv", "Javanese"), "jpn": ("ja", "Japanese"),
    "kab": (None, "Kabyle"), "kat": ("ka", "Georgian"), "kaz": ("kk", "Kazakh"),
    "khm": ("km", "Khmer"), "kor": ("ko", "Korean"), "kur": ("ku", "Kurdish"),
    "kzj": (None, "Coastal Kadazan"), "lat": ("la", "Latin"), "lfn": (None, "Lingua Franca Nova"),
    "lit": ("lt", "Lithuanian"), "lvs": ("lv", "Latvian"), "mal": ("ml", "Malayalam"),
    "mar": ("mr", "Marathi"), "max": (None, "North Moluccan Malay"), "mhr": (None, "Eastern Mari"),
    "mkd": ("mk", "Macedonian"), "mon": ("mn", "Mongolian"), "nds": (None, "Low German"),
    "nld": ("nl", "Dutch"), "nno": ("nn", "Norwegian Nynorsk"), "nob": ("nb", "Norwegian Bokmål"),
    "nov": (None, "Novial"), "oci": ("oc", "Occitan"), "orv": (None, "Old East Slavic"),
    "pam": (None, "Kapampangan"), "pes": ("fa", "Persian"), "pms": (None, "Piedmontese"),
    "pol": ("pl", "Polish"), "por": ("pt", "Portuguese"), "ron": ("ro", "Romanian"),
    "rus": ("ru", "Russian"), "slk": ("sk", "Slovak"), "slv": ("sl", "Slovenian"),
    "spa": ("es", "Spanish"), "sqi": ("sq", "Albanian"), "srp": ("sr", "Serbian"),
    "swe": ("sv", "Swedish"), "swg": (None, "Swabian"), "swh": ("sw", "Swahili"),
    "tam": ("ta", "Tamil"), "tat": ("tt", "Tatar"), "tel": ("te", "Telugu"),
    "tgl": ("tl", "Tagalog"), "tha": ("th", "Thai"), "tuk": ("tk", "Turkmen"),
    "tur": ("tr", "Turkish"), "tzl": (None, "Talossan"), "uig": ("ug", "Uyghur"),
    "ukr": ("uk", "Ukrainian"), "urd": ("ur", "Urdu"), "uzb": ("uz", "Uzbek"),
    "vie": ("vi", "Vietnamese"), "war": (None, "Waray"), "wuu": (None, "Wu Chinese"),
    "xho": ("xh", "Xhosa"), "yid": ("yi", "Yiddish"), "yue": (None, "Cantonese"),
    "zsm": ("ms", "Standard Malay"),
}

# LaBSE's 109 languages (its model card), by the codes of their Wikipedia dumps.
LABSE_LANGS = (
    "af am ar as az be bg bn bo bs ca ceb co cs cy da de el en eo es et eu fa fi fr fy ga gd gl "
    "gu ha haw he hi hmn hr ht hu hy id ig is it ja jv ka kk km kn ko ku ky la lb lo lt lv mg mi "
    "mk ml mn mr ms mt my ne nl no ny or pa pl pt ro ru rw si sk sl sm sn so sq sr st su sv sw ta "
    "te tg th tk tl tr tt ug uk ur uz vi wo xh yi yo zh zu").split()

# ISO 639-1 -> ISO 639-3 (Tatoeba), plus English and the wiki dump's 'zh_classical'.
ISO639_1_TO_3: Dict[str, str] = {
    **{one: three for three, (one, _) in TATOEBA_LANGS.items() if one is not None},
    "en": "eng", "zh_classical": "cmn",
}


def corpus_langs() -> List[str]:
  """Codes accepted for corpora, selections and smaller models: LaBSE's languages, the
  ISO 639-1 codes of the Tatoeba languages, and the dumps' 'zh_classical'."""
  return sorted(set(LABSE_LANGS) | set(ISO639_1_TO_3) | set(DEFAULT_WIKI_LANGS))


def parse_lang_list(value: str, known: Sequence[str], what: str = "language") -> List[str]:
  """Splits 'en,fr' into ['en', 'fr'], rejecting unknown and duplicate codes."""
  langs = [code.strip() for code in value.split(",") if code.strip()]
  if not langs:
    raise InputError(f"no {what} code given")
  for code in langs:
    if code not in known:
      listed = ", ".join(known) if len(known) <= 20 else \
          f"{len(known)} codes, listed in smaller_labse/languages.py"
      raise InputError(f"unknown {what} code {code!r} (known: {listed})")
  if len(set(langs)) != len(langs):
    raise InputError(f"duplicate {what} code in {value!r}")
  return langs


def tatoeba_code(code: str) -> str:
  """The Tatoeba (ISO 639-3) code of `code`, given in ISO 639-3 or 639-1 ('fr' -> 'fra')."""
  if code in TATOEBA_LANGS:
    return code
  if code in ISO639_1_TO_3 and ISO639_1_TO_3[code] in TATOEBA_LANGS:
    return ISO639_1_TO_3[code]
  if code == "eng" or code == "en":
    raise InputError("'eng' is the pivot of every Tatoeba pair, not a language to evaluate")
  raise InputError(f"unknown Tatoeba language code {code!r} (expected one of the 112 ISO 639-3 "
                   f"codes of LASER's tatoeba/v1, e.g. fra, cmn, or an ISO 639-1 code, e.g. fr)")


def tatoeba_langs_for(corpus_langs: Sequence[str]) -> List[str]:
  """The Tatoeba languages that evaluate these corpus languages, in order, without
  duplicates ('zh' and 'zh_classical' -> 'cmn'); English and languages Tatoeba lacks drop."""
  codes = [ISO639_1_TO_3.get(code) for code in corpus_langs]
  return list(dict.fromkeys(c for c in codes if c in TATOEBA_LANGS))


def parse_tatoeba_langs(value: str) -> List[str]:
  """'fra,de, cmn' -> ['fra', 'deu', 'cmn']; rejects unknown and duplicate languages."""
  langs = [tatoeba_code(code.strip()) for code in value.split(",") if code.strip()]
  if not langs:
    raise InputError("no Tatoeba language code given")
  duplicates = sorted({code for code in langs if langs.count(code) > 1})
  if duplicates:
    raise InputError(f"language given twice in {value!r}: {', '.join(duplicates)}")
  return langs


def short_code(tatoeba_lang: str) -> str:
  """The column name of the results table: the ISO 639-1 code when there is one ('fra' -> 'fr')."""
  one, _ = TATOEBA_LANGS.get(tatoeba_lang, (None, ""))
  return one or tatoeba_lang
