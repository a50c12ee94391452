"""The pipeline's stages: 1 `conversion`, 2 `vocab_selection`, 3 `pruning`, and the whole run
(`pipeline`); stage 4 is `smaller_labse.tatoeba`."""
