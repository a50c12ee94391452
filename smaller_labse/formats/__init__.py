"""On-disk formats, each read and written side by side.

TF Hub LaBSE/2 SavedModels (`tf_hub`, `tf_hub_check`), Hugging Face BERT checkpoints
(`hf_bert`), the Sentence Transformers layout (`sentence_transformers`, imported as `st_layout`
so as not to read as the library; `st_export`), safetensors (`safetensors_io`), stage 1's weight
store (`store`) and the sources every stage reads a model from (`sources`).
"""

from typing import Sequence

from smaller_labse.errors import InputError

# Stage 3's output formats (--formats): TF Hub SavedModels, the Sentence Transformers directory.
FORMATS = ("tfhub", "st")


def parse_formats(value: str) -> Sequence[str]:
  """'tfhub,st' -> ('tfhub', 'st'); an unknown or empty name is an InputError."""
  names = [n.strip() for n in value.split(",") if n.strip()]
  unknown = [n for n in names if n not in FORMATS]
  if unknown or not names:
    raise InputError(f"--formats={value}: unknown format {', '.join(unknown) or '(none)'}; "
                     f"choose from {','.join(FORMATS)}")
  return tuple(dict.fromkeys(names))
