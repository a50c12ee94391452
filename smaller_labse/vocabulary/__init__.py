"""Stage 2's work on vocabularies: counting tokens (`token_counts`, `tf_counting`,
`routing_table`), characters (`charset`) and selection with its fidelity report (`selection`)."""
