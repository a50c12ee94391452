"""`python -m smaller_labse`: the `smaller-labse` command (cli.py)."""

import sys

from smaller_labse import cli

sys.exit(cli.main())
