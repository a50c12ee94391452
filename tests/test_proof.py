"""The layer-by-layer proof (verification.py) of stage 1 and stage 4's fast path: it accepts
correct encoders of any shape and refuses encoders that differ in one way, naming the block."""

import dataclasses
import os

import numpy as np
import pytest

from conftest import MODELGARDEN_STRESS, MODELGARDEN_TINY, tiny_vocab
from proof_variants import CONFIG, Variant, VariantEncoder, export_variant, scaled_weights
from smaller_labse.tokenizers import tf_hub_preprocessor
from smaller_labse.model import verification
from smaller_labse.stages import conversion

# A correct float32 evaluation stays well inside the budget on every CPU: require half of it.
MARGIN = 2.0


def assert_accepted_with_margin(proof):
  assert proof.holds, [c.line() for c in proof.checks]
  for check in proof.checks:
    assert max(check.savedmodel_error, check.candidate_error) * MARGIN <= check.budget, check.line()
  assert [c.name for c in proof.checks][0] == "embeddings + layer_0"
  assert proof.checks[-1].name == "pooler"


WRONG = {
    # name: (variant, weight scale, embedding scale, layer-norm epsilon, block named)
    "exact-erf GELU": (Variant(exact_gelu=True), 0.2, None, 1e-12, "embeddings + layer_0"),
    # Tiny embeddings: their variance (1e-5) is where epsilon 1e-6 vs 1e-12 shows.
    "layer-norm epsilon 1e-6": (Variant(), 0.2, 0.002, 1e-6, "embeddings + layer_0"),
    "attention not scaled": (Variant(scale_attention=False), 0.2, None, 1e-12,
                             "embeddings + layer_0"),
    "two heads swapped in layer 2": (Variant(swap_heads=2), 0.2, None, 1e-12, "layer_2"),
    "pre-layer-norm layer 1": (Variant(pre_layer_norm=1), 0.2, None, 1e-12, "layer_1"),
    "a layer-norm gamma of layer 1 changed by 1e-3": (
        Variant(weight_offset=("transformer/layer_1/output_layer_norm/gamma", (3,), 1e-3)),
        0.2, None, 1e-12, "layer_1"),
    "a pooler kernel weight changed by 1e-3 of its scale (0.2)": (
        Variant(weight_offset=("pooler_transform/kernel", (0, 0), 2e-4)), 0.2, None, 1e-12,
        "pooler"),
}


@pytest.mark.parametrize("name", list(WRONG))
def test_refuses_an_encoder_that_differs_in_one_way(tmp_path, name):
  variant, scale, embedding_scale, epsilon, block = WRONG[name]
  config = dataclasses.replace(CONFIG, layer_norm_epsilon=epsilon)
  encoder_dir = export_variant(tmp_path / "encoder", variant, scale, embedding_scale, config)
  out = tmp_path / "labse"
  with pytest.raises(verification.VerificationError) as error:
    conversion.convert(encoder_dir, str(out))
  assert str(error.value).startswith(f"{encoder_dir}: block {block} differs: the SavedModel")
  failure = error.value.proof.first_failure()
  assert failure.name == block
  # Refused by a clear margin; our own rebuild stays within budget.
  assert failure.savedmodel_error >= 10 * failure.budget, failure.line()
  assert failure.candidate_error * MARGIN <= failure.budget, failure.line()
  assert not out.exists()


def test_end_to_end_line_uses_the_budget_factor_given(tmp_path):
  # A pooler off by ~10x the default budget passes a proof given a far larger --budget_factor;
  # the end-to-end line must judge with that factor too, not with the default.
  variant, scale, embedding_scale, epsilon, _ = WRONG[
      "a pooler kernel weight changed by 1e-3 of its scale (0.2)"]
  config = dataclasses.replace(CONFIG, layer_norm_epsilon=epsilon)
  encoder_dir = export_variant(tmp_path / "encoder", variant, scale, embedding_scale, config)
  proof = conversion.convert(encoder_dir, str(tmp_path / "labse"), budget_factor=1e4)
  e2e = proof.end_to_end
  assert proof.holds
  assert e2e.savedmodel_error > verification.BUDGET_FACTOR * e2e.rounding  # Not by default.
  assert e2e.line().endswith(": explained by float32 rounding"), e2e.line()


@pytest.mark.parametrize("shape,scale", [
    (dict(hidden_size=48, num_layers=3, num_heads=6, intermediate_size=96), 0.02),
    (dict(hidden_size=16, num_layers=1, num_heads=1, intermediate_size=16), 0.5),
    (dict(hidden_size=64, num_layers=2, num_heads=16, intermediate_size=32), 0.2),
])
def test_accepts_correct_encoders_of_any_shape(tmp_path, shape, scale):
  config = dataclasses.replace(CONFIG, **shape)
  encoder_dir = export_variant(tmp_path / "encoder", Variant(), scale, config=config)
  proof = conversion.convert(encoder_dir, str(tmp_path / "labse"))
  assert_accepted_with_margin(proof)
  assert len(proof.checks) == shape["num_layers"] + 1


@pytest.mark.parametrize("fixture", [MODELGARDEN_TINY, MODELGARDEN_STRESS])
def test_accepts_model_garden_exports(tmp_path, fixture):
  if not os.path.isdir(fixture):
    pytest.skip("../shared not present")
  proof = conversion.convert(os.path.join(fixture, "encoder"),
                                         str(tmp_path / "labse"),
                                         os.path.join(fixture, "preprocess"))
  assert_accepted_with_margin(proof)
  # End to end, both float32 evaluations are about equally far from float64.
  e2e = proof.end_to_end
  assert max(e2e.savedmodel_error, e2e.candidate_error) <= verification.BUDGET_FACTOR * e2e.rounding


def test_float64_blocks_are_the_encoder(tmp_path):
  """The arbiter itself: float64 blocks chained end to end give the float32 encoder's output
  within the rounding model's budget, and the rounding model is a real perturbation."""
  tokens = tiny_vocab()
  config = dataclasses.replace(CONFIG, vocab_size=len(tokens))
  encoder = VariantEncoder(config, scaled_weights(config, 0.2), Variant())
  preprocessor = tf_hub_preprocessor.Preprocessor(_vocab_file(tmp_path, tokens), tokens, False)
  inputs = verification.pack_to_longest(preprocessor, verification.VERIFICATION_SENTENCES)
  record = verification.end_to_end(encoder(inputs)["pooled_output"].numpy(),
                                   encoder(inputs)["pooled_output"].numpy(), inputs, config,
                                   encoder.weights)
  assert 0 < record.rounding < 1e-3
  assert record.candidate_error <= verification.BUDGET_FACTOR * record.rounding
  blocks = verification.Float64Blocks(config, encoder.weights)
  again = verification.Float64Blocks(config, encoder.weights)
  np.testing.assert_array_equal(blocks.first(inputs), again.first(inputs))  # deterministic


def _vocab_file(tmp_path, tokens):
  from smaller_labse.tokenizers import vocab
  path = str(tmp_path / "vocab.txt")
  vocab.write_token_file(path, tokens)
  return path
