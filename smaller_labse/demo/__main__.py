"""`python -m smaller_labse.demo --workdir=DIR`: writes the offline demo's inputs."""
from absl import flags

from smaller_labse.demo import main
from smaller_labse.errors import run_cli

if __name__ == "__main__":
  flags.DEFINE_string("workdir", "demo_workdir", "Where to write the demo's inputs.")
  run_cli(main)
