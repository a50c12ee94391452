"""On-disk formats, each read and written side by side.

TF Hub LaBSE/2 SavedModels (`tf_hub`, `tf_hub_check`), Hugging Face BERT checkpoints and the
Sentence Transformers layout (`st_format`, `st_export`), safetensors (`safetensors_io`), stage 1's
weight store (`store`) and the sources every stage reads a model from (`sources`).
"""
