"""On-disk formats, each read and written side by side.

TF Hub LaBSE/2 SavedModels (`tf_hub`, `tf_hub_check`), Hugging Face BERT checkpoints
(`hf_bert`), the Sentence Transformers layout (`sentence_transformers`, imported as `st_layout`
so as not to read as the library; `st_export`), safetensors (`safetensors_io`), stage 1's weight
store (`store`) and the sources every stage reads a model from (`sources`).
"""
