"""smaller-LaBSE: cut LaBSE's vocabulary down to the languages you need.

  import smaller_labse
  result = smaller_labse.trim("downloads/labse-2", langs=["en", "de"], output_dir="work")
  evaluation = smaller_labse.evaluate(["downloads/labse-2", result.model.encoder], ["de"])

`trim` runs stages 1 to 3, `convert`, `select` and `make` one each, `evaluate` stage 4 (see
smaller_labse/api.py). Importing the package is light: TensorFlow is imported when one of them
runs.
"""

from smaller_labse import quiet

# Before any module of the package imports tensorflow (see quiet.py).
quiet.quiet_before_import()

__all__ = ["trim", "convert", "select", "make", "evaluate", "TrimResult", "SmallerModel"]


def __getattr__(name: str):
  """The API's names (smaller_labse/api.py), imported on first use."""
  if name in __all__:
    from smaller_labse import api  # pylint: disable=import-outside-toplevel
    return getattr(api, name)
  raise AttributeError(f"module 'smaller_labse' has no attribute {name!r}")


def __dir__():
  return sorted(list(globals()) + __all__)
