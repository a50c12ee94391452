"""`python -m smaller_labse`: the `smaller-labse` command (cli.py)."""

from smaller_labse import cli

cli.main()
