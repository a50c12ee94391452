"""safetensors files: our streamed writer and lazy reader against the safetensors library."""

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from smaller_labse.errors import InputError
from smaller_labse.formats.safetensors_io import SafetensorsFile, read_metadata, write_safetensors


def test_streamed_file_is_what_the_library_reads(tmp_path):
  table = np.random.default_rng(0).standard_normal((1000, 6)).astype(np.float32)
  path = str(tmp_path / "model.safetensors")
  write_safetensors(path, [("table", table.shape, iter([table[:300], table[300:]])),
                           ("bias", (3,), iter([np.arange(3, dtype=np.float32)]))],
                    {"format": "pt", "note": "x"})
  loaded = load_file(path)
  np.testing.assert_array_equal(loaded["table"], table)
  np.testing.assert_array_equal(loaded["bias"], [0, 1, 2])
  assert read_metadata(path) == {"format": "pt", "note": "x"}


def test_rows_in_any_order_with_repeats(tmp_path):
  table = np.random.default_rng(1).standard_normal((500, 4)).astype(np.float32)
  path = str(tmp_path / "t.safetensors")
  save_file({"table": table}, path)
  f = SafetensorsFile(path)
  rows = np.array([7, 499, 8, 9, 7, 0, 250, 251, 3])
  np.testing.assert_array_equal(f.rows("table", rows), table[rows])
  assert f.rows("table", np.array([], np.int64)).shape == (0, 4)
  with pytest.raises(ValueError, match="out of range"):
    f.rows("table", np.array([500]))


def test_half_precision_tensors_come_back_as_float32(tmp_path):
  torch = pytest.importorskip("torch")
  from safetensors.torch import save_file as save_torch
  values = torch.tensor([[1.5, -2.25], [3.0, 0.125]])
  path = str(tmp_path / "half.safetensors")
  save_torch({"f16": values.half(), "bf16": values.bfloat16()}, path)
  f = SafetensorsFile(path)
  for name in ("f16", "bf16"):
    got = f.tensor(name)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, values.numpy())
    np.testing.assert_array_equal(f.rows(name, np.array([1])), values.numpy()[[1]])


@pytest.mark.parametrize("damage,message", [
    (lambda data: data[:-5], "truncated or corrupt"),
    (lambda data: b"not a safetensors file", "not a safetensors file"),
    (lambda data: data[:12] + b"\xff" + data[13:], "not a safetensors file"),
])
def test_damaged_files_are_one_line_errors(tmp_path, damage, message):
  path = tmp_path / "t.safetensors"
  save_file({"table": np.ones((4, 4), np.float32)}, str(path))
  path.write_bytes(damage(path.read_bytes()))
  with pytest.raises(InputError, match=f"^{path}: {message}"):
    SafetensorsFile(str(path))
