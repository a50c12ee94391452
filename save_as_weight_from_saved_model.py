#!/usr/bin/env python3
"""Stage 1, save the weights: smaller_labse/commands/convert.py (also `smaller-labse convert`)."""
from smaller_labse.commands import convert, run

if __name__ == "__main__":
  run(convert)
