"""Stage 2, select the vocabulary: smaller_labse/commands/select.py (also `smaller-labse select`)."""
from smaller_labse.commands import select, run

if __name__ == "__main__":
  run(select)
