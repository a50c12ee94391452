"""Tatoeba bitext retrieval (stage 4): one front door to the modules that each own a concern.

- data.py: the test sets (`load_pair`);
- embedding.py: what every model kind provides, `SentenceEncoder.embed` (and `embed`);
- hub_model.py: TF Hub encoders (`load_model`), embedded fast and exactly;
- st_model.py: PyTorch models: Sentence Transformers and Hugging Face directories
  (`load_pytorch_model`);
- scoring.py: blockwise nearest neighbours, cosine or ratio margin;
- evaluation.py: every model on every pair (`evaluate`), identical-embedding shares;
- output.py: the Markdown tables and the JSON.
"""

from smaller_labse.tatoeba.data import DEFAULT_DATA_DIR, Pair, load_pair, pair_paths, read_lines
from smaller_labse.tatoeba.embedding import (DEFAULT_MAX_BATCH_TOKENS, DEFAULT_MAX_SEQ_LENGTH,
                                             EmbedStats, SentenceEncoder, default_model_name,
                                             embed)
from smaller_labse.tatoeba.evaluation import (DIRECTIONS, IDENTICAL_ATOL, Result, embed_pairs,
                                              evaluate, identical_share, score_pairs)
from smaller_labse.tatoeba.hub_model import (ORIGINAL_BATCH_SIZE, Model, load_model, normalize,
                                             plan_batches)
from smaller_labse.tatoeba.output import (identical_table, markdown_report, results_table,
                                          to_json, write_outputs)
from smaller_labse.tatoeba.scoring import (MARGIN_K, SCORINGS, nearest_neighbours,
                                           retrieval_correct)
from smaller_labse.tatoeba.st_model import (SentenceTransformerModel, TransformersModel,
                                            is_pytorch_model_dir, is_sentence_transformers_dir,
                                            load_pytorch_model, load_sentence_transformer)

__all__ = [
    "DEFAULT_DATA_DIR", "Pair", "load_pair", "pair_paths", "read_lines",
    "DEFAULT_MAX_BATCH_TOKENS", "DEFAULT_MAX_SEQ_LENGTH", "EmbedStats", "SentenceEncoder",
    "default_model_name", "embed", "DIRECTIONS", "IDENTICAL_ATOL", "Result", "embed_pairs",
    "evaluate", "identical_share", "score_pairs", "ORIGINAL_BATCH_SIZE", "Model", "load_model",
    "normalize", "plan_batches", "identical_table", "markdown_report", "results_table", "to_json",
    "write_outputs", "MARGIN_K", "SCORINGS", "nearest_neighbours", "retrieval_correct",
    "SentenceTransformerModel", "is_sentence_transformers_dir", "load_sentence_transformer",
    "TransformersModel", "is_pytorch_model_dir", "load_pytorch_model",
]
