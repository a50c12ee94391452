"""The tokenizers a model runs, behind one `Tokenizer` protocol.

TF Hub's WordPiece (`tf_hub_wordpiece`), a Hugging Face `tokenizer.json` run in the tokenizers
library (`hf_tokenizer`), its TF Hub preprocessor twin (`hf_preprocessor`, `hf_chars`) and
WordPiece vocabulary files (`vocab`).
"""
