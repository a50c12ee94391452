"""The tokenizers a model runs, behind one `Tokenizer` protocol.

TF Hub's WordPiece (`tf_hub_wordpiece`; `tf_bert_tokenizer`, tensorflow_text's BertTokenizer it
runs), a Hugging Face `tokenizer.json` run in the tokenizers library (`hf_tokenizer`, loaded as
transformers loads it by `hf_loading`), its TF Hub preprocessor twin (`hf_preprocessor`,
`hf_chars`) and WordPiece vocabulary files (`vocab`).
"""
