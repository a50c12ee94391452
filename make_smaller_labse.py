#!/usr/bin/env python3
"""Stage 3, make the smaller model: smaller_labse/commands/make.py (also `smaller-labse make`)."""
from smaller_labse.commands import make, run

if __name__ == "__main__":
  run(make)
