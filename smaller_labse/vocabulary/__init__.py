"""Stage 2's work on vocabularies: counting tokens (`token_counts`; `tf_counting` with
`routing_table` for TF Hub's tokenizer, `hf_counting` for a Hugging Face source's), characters
(`charset`), selection (`selection`) and its fidelity report (`fidelity`)."""
