"""smaller-LaBSE: cut LaBSE's vocabulary down to the languages you need."""

from smaller_labse import quiet

# Before any module of the package imports tensorflow (see quiet.py).
quiet.quiet_before_import()
