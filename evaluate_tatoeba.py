"""Stage 4, Tatoeba accuracy: smaller_labse/commands/evaluate.py (also `smaller-labse evaluate`)."""
from smaller_labse.commands import evaluate, run

if __name__ == "__main__":
  run(evaluate)
