"""The whole pipeline, as `run_pipeline.sh`, `smaller-labse run` and `smaller-labse demo` run it.

The downloads (scripts) or the demo's inputs, then stages 1 to 4, each through its command's
`main(argv)` (smaller_labse/commands/) as `smaller-labse STAGE` runs it, in a forked copy of
this process (`_in_child`), in a work directory laid out as the original's:
downloads/ data/ tokens_freqs/ selected_tokens/ models/ results/. On a rerun a stage whose
outputs are newer than its inputs is skipped; stage 4 always runs.

Only the standard library is imported before the pipeline starts, so run_pipeline.sh answers
--help with any Python 3, before it makes the project's environment.
"""

import dataclasses
import importlib
import os
import signal
import subprocess
import sys
import traceback
from typing import Callable, Optional, Sequence

# Stage 2's --max_sentences default (token_counts.DEFAULT_MAX_SENTENCES): only that many lines of
# each Wikipedia dump are downloaded unless --full_dumps.
DUMP_MAX_LINES = 1_000_000
DEMO_WORKDIR = "demo_workdir"
DEMO_LANGS = "en,fr,de"
DEMO_CORPUS_LANGS = "en,fr,de,ru"  # The demo's corpora also hold Russian, which it drops.
DEMO_NOTE = ("NOTE: the demo model is not LaBSE and was not trained: a bag-of-words encoder in "
             "LaBSE/2's format whose word vectors come from a small hand-written en/fr/de/ru "
             "dictionary (smaller_labse/demo/demo_data.py). Its accuracies show what pruning does, "
             "not LaBSE's quality.")
DEMO_SUMMARY = ("Kept languages (fr, de) keep every digit of their accuracy; Russian, dropped, "
                "falls to chance: its words became [UNK].")
# Each stage's subcommand and the top-level script that runs the same code.
STAGE_SCRIPTS = {"convert": "save_as_weight_from_saved_model.py", "select": "select_vocab.py",
                 "make": "make_smaller_labse.py", "evaluate": "evaluate_tatoeba.py"}
SCRIPT_PROG = "./run_pipeline.sh"
ENSURE_VENV = "SMALLER_LABSE_ENSURE_VENV"  # run_pipeline.sh: the script that makes the .venv

_DETAILS = """\
Artifacts go under the work directory (default: {workdir}) in the
original layout: downloads/ data/ tokens_freqs/ selected_tokens/ models/ results/.
Rerunning skips each stage whose outputs are newer than its inputs."""
_DUMPS = """ Only the first
1,000,000 lines longer than 5 characters of each Wikipedia dump are downloaded (what
stage 2 reads); --full_dumps downloads whole dumps."""


def usage(prog: str = SCRIPT_PROG, demo_only: bool = False) -> str:
  """The --help text of `prog` (run_pipeline.sh, `smaller-labse run`, `smaller-labse demo`)."""
  if demo_only:
    return (f"Runs the offline demo: a tiny model (not LaBSE) and its inputs, then every stage.\n"
            f"\n  {prog} [--workdir=DIR]\n\n"
            + _DETAILS.format(workdir=DEMO_WORKDIR) + "\n")
  return ("Runs the whole smaller-LaBSE pipeline: download -> stage 1 -> 2 -> 3 -> 4.\n\n"
          f"  {prog} [--langs=en,fr,...] [--workdir=DIR] [--full_dumps]   real run (internet)\n"
          f"  {prog} --source=OWNER/NAME|DIR [...]   from a Hugging Face / Sentence Transformers\n"
          "      model: a hub repository (downloaded into downloads/OWNER/NAME) or a directory\n"
          f"  {prog} --demo [--workdir=DIR]                offline demo, a tiny model (not LaBSE)\n"
          "\n" + _DETAILS.format(workdir="the current directory") + _DUMPS + "\n")


@dataclasses.dataclass
class Options:
  """The command line: --demo, --full_dumps, --langs=LIST, --workdir=DIR, --source=SOURCE."""
  demo: bool = False
  full_dumps: bool = False
  langs: Optional[str] = None
  workdir: Optional[str] = None
  source: Optional[str] = None


class UsageError(Exception):
  """An argument the command does not take."""


def parse_args(args: Sequence[str], demo_only: bool = False) -> Optional[Options]:
  """The options in `args`, or None for -h/--help. Raises UsageError on any other argument
  (for `smaller-labse demo`, `demo_only`, on anything but --workdir)."""
  options = Options(demo=demo_only)
  for arg in args:
    if arg in ("-h", "--help"):
      return None
    if arg.startswith("--workdir="):
      options.workdir = arg[len("--workdir="):]
    elif demo_only:
      raise UsageError(f"unknown argument '{arg}' (see --help)")
    elif arg == "--demo":
      options.demo = True
    elif arg == "--full_dumps":
      options.full_dumps = True
    elif arg.startswith("--langs="):
      options.langs = arg[len("--langs="):]
    elif arg.startswith("--source="):
      options.source = arg[len("--source="):]
    else:
      raise UsageError(f"unknown argument '{arg}' (see --help)")
  return options


def up_to_date(output: str, *inputs: str) -> bool:
  """`output` exists and is newer than every input that exists (bash's `[ output -nt input ]`)."""
  if not os.path.exists(output):
    return False
  newest = os.stat(output).st_mtime_ns
  return all(not os.path.exists(i) or newest > os.stat(i).st_mtime_ns for i in inputs)


def _step(title: str) -> None:
  print(f"\n=== {title}", flush=True)


class StageFailed(Exception):
  """A step failed: the pipeline stops with its exit status."""

  def __init__(self, status: int):
    super().__init__(f"exit status {status}")
    self.status = status


def _call(command: Sequence[str]) -> None:
  """Runs `command` (a download script); a failure stops the pipeline with its exit status."""
  sys.stdout.flush()
  status = subprocess.call(list(command))
  if status:
    raise StageFailed(status if status > 0 else 128 - status)  # -N: killed by signal N


def _write_demo_inputs() -> int:
  """What `python -m smaller_labse.demo --workdir=.` does."""
  from smaller_labse import demo, quiet  # pylint: disable=import-outside-toplevel
  quiet.quiet_after_flags(verbosity_given=False)
  demo.write_inputs(".")
  return 0


def _check_source_dir(path: str) -> None:
  """A local --source is a Hugging Face / Sentence Transformers model: InputError otherwise."""
  from smaller_labse.formats import sources  # pylint: disable=import-outside-toplevel
  from smaller_labse.errors import InputError  # pylint: disable=import-outside-toplevel
  try:
    kind = sources.source_kind(path)
  except InputError as e:
    raise InputError(f"--source={path}: {str(e).replace(path + ': ', '', 1)}") from None
  if kind == sources.TFHUB:
    raise InputError(f"--source={path}: a TF Hub SavedModel; --source takes a Hugging Face / "
                     "Sentence Transformers model (LaBSE/2 is the default source; for another "
                     "TF Hub export run the stages with --saved_model=DIR)")


def _in_child(run: Callable[[], int]) -> int:
  """Runs `run()` (a command's main) in a forked copy of this process and returns its exit
  status (128 + N when killed by signal N); in this process where there is no fork.

  This process imports no TensorFlow, so each stage starts as `smaller-labse STAGE` does, its
  modules already imported: TensorFlow numbers the functions it traces process-wide
  (`__inference_serving_default_945`) and SavedModels record those names, so stage 3 writes
  the same bytes as when it runs alone; and each stage's memory is returned when it ends.
  """
  sys.stdout.flush()
  sys.stderr.flush()
  if not hasattr(os, "fork"):
    return run()
  pid = os.fork()
  if pid == 0:  # The child: never returns.
    status = 1
    try:
      status = run()
    except KeyboardInterrupt:
      status = 130
    except SystemExit as e:
      status = e.code if isinstance(e.code, int) else 1
    except BaseException:  # pylint: disable=broad-except  (as Python reports it, status 1)
      traceback.print_exc()
    finally:
      sys.stdout.flush()
      sys.stderr.flush()
      os._exit(status)  # pylint: disable=protected-access
  try:
    _, wait_status = os.waitpid(pid, 0)
  except BaseException:  # Ctrl-C reaches both: the stage does not outlive the pipeline.
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    raise
  status = os.waitstatus_to_exitcode(wait_status)
  return status if status >= 0 else 128 - status


class Pipeline:
  """One run: the work directory's languages, and how stages are named and run."""

  def __init__(self, options: Options, script_names: bool):
    from smaller_labse import languages  # pylint: disable=import-outside-toplevel
    from smaller_labse.errors import InputError  # pylint: disable=import-outside-toplevel

    self.demo = options.demo
    if self.demo:
      self.langs, self.corpus_langs = DEMO_LANGS, DEMO_CORPUS_LANGS
    else:
      given = ",".join(languages.DEFAULT_WIKI_LANGS) if options.langs is None else options.langs
      # Checked before anything is downloaded.
      self.langs = ",".join(languages.parse_lang_list(given, languages.corpus_langs()))
      self.corpus_langs = self.langs
    self.workdir = options.workdir or (DEMO_WORKDIR if self.demo else ".")
    self.full_dumps = options.full_dumps
    self.script_names = script_names
    # The source: TF Hub's LaBSE/2 (downloads/labse-2), a hub repository (downloaded into
    # downloads/OWNER/NAME) or a local Hugging Face / Sentence Transformers directory.
    self.repo, self.source = None, "downloads/labse-2"
    if options.source and os.path.isdir(options.source):
      _check_source_dir(options.source)
      self.source = os.path.abspath(options.source)  # Before the pipeline enters its workdir.
    elif options.source:
      if options.source.count("/") != 1 or options.source.startswith("/"):
        raise InputError(f"--source={options.source}: no such directory, nor a hub repository "
                         "id OWNER/NAME")
      self.repo = options.source
      self.source = os.path.join("downloads", options.source)
    self.tfhub = options.source is None
    name = "LaBSE" if self.tfhub else os.path.basename(os.path.normpath(self.source))
    self.model_name = f"{name}_" + self.langs.replace(",", "-")
    self.tatoeba_langs = ",".join(languages.tatoeba_langs_for(self.corpus_langs.split(",")))

  def _stage(self, number: int, command: str, args: str = "") -> None:
    name = STAGE_SCRIPTS[command] if self.script_names else f"smaller-labse {command}"
    _step(f"stage {number}: {name}{' ' + args if args else ''}")

  def _run_stage(self, command: str, *args: str) -> None:
    """Runs `smaller-labse COMMAND ARGS` (its module's `main`, in a forked copy of this
    process); a failure stops the pipeline with its exit status (the command has printed its
    error)."""
    module = importlib.import_module(f"smaller_labse.commands.{command}")
    status = _in_child(lambda: module.main([f"smaller-labse {command}", *args]))
    if status:
      raise StageFailed(status)

  def inputs(self) -> None:
    """The demo's inputs, or the downloads."""
    from smaller_labse import downloads  # pylint: disable=import-outside-toplevel

    if self.demo:
      _step("demo inputs: a tiny dictionary-built model in LaBSE/2's format, small corpora "
            "(en fr de ru), parallel sentences")
      demo_data = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "demo",
                               "demo_data.py")
      if up_to_date("downloads/labse-2/saved_model.pb", demo_data):
        print("up to date", flush=True)
      else:
        status = _in_child(_write_demo_inputs)
        if status:
          raise StageFailed(status)
      print(DEMO_NOTE, flush=True)
      return
    _step("downloads")
    dumps = ["--full"] if self.full_dumps else [f"--max_lines={DUMP_MAX_LINES}"]
    # LaBSE/2, a hub repository, or nothing for a local source.
    model = [("model", [self.repo] if self.repo else [])] if self.tfhub or self.repo else []
    for kind, args in model + [("dataset", [f"--langs={self.corpus_langs}", *dumps]),
                               ("tatoeba", [f"--langs={self.tatoeba_langs}"])]:
      _call(downloads.command(kind, args))

  def stages(self) -> None:
    """Stages 1 to 4, skipping 1 to 3 when their outputs are newer than their inputs."""
    self._stage(1, "convert", "" if self.tfhub else f"--saved_model={self.source}")
    source = "models/labse/source.json"
    marker = os.path.join(self.source, "saved_model.pb" if self.tfhub else "config.json")
    if up_to_date(source, marker) and (
        not self.tfhub or up_to_date("models/labse_st/model.safetensors", marker)):
      print("up to date", flush=True)
    else:
      self._run_stage("convert", f"--saved_model={self.source}", "--overwrite")

    self._stage(2, "select", f"--langs={self.corpus_langs}")
    selections = [f"selected_tokens/selected_{lang}_tokens.txt"
                  for lang in self.corpus_langs.split(",")]
    if all(up_to_date(selected, f"data/{lang}.txt", source)
           for selected, lang in zip(selections, self.corpus_langs.split(","))):
      print("up to date", flush=True)
    else:
      self._run_stage("select", f"--langs={self.corpus_langs}")

    self._stage(3, "make", f"--langs={self.langs}")
    model = f"models/{self.model_name}"
    if ((not _writes_tf_hub_pair(source) or up_to_date(f"{model}/1/saved_model.pb", *selections,
                                                       source))
        and up_to_date(f"{model}_st/model.safetensors", *selections, source)):
      print("up to date", flush=True)
    else:
      self._run_stage("make", f"--langs={self.langs}", "--overwrite")

    self._stage(4, "evaluate", f"--langs={self.tatoeba_langs} (original model as baseline)")
    if self.tfhub:
      models = [f"--model={model}/1", f"--preprocess={model}_preprocess/1",
                "--baseline_model=downloads/labse-2",
                "--baseline_preprocess=downloads/labse-2-preprocess", "--baseline_name=LaBSE"]
    else:  # The source and the smaller model in the same library (PyTorch).
      models = [f"--model={model}_st", f"--baseline_model={self.source}",
                f"--baseline_name={os.path.basename(os.path.normpath(self.source))}"]
    self._run_stage("evaluate", f"--langs={self.tatoeba_langs}", *models,
                    f"--name={self.model_name}", "--output=results/tatoeba.json")

  def summary(self) -> None:
    _step("summary")
    path = f"models/{self.model_name}/parameters.md"
    if os.path.isfile(path):
      with open(path, encoding="utf-8") as f:
        print(f.read(), end="")
    else:  # A source exported as a Sentence Transformers directory only (XLM-R's tokenizer).
      print(_parameters_table(self.model_name, self.langs), end="")
    if self.demo:
      print(DEMO_NOTE)
      print(DEMO_SUMMARY)
    sys.stdout.flush()


def _writes_tf_hub_pair(source_json: str) -> bool:
  """Whether stage 3 writes the TF Hub pair for the store whose source.json this is: its
  tokenizer has a TF Hub preprocessor (`Tokenizer.tf_hub_export`)."""
  import json  # pylint: disable=import-outside-toplevel
  from smaller_labse.tokenizers import base  # pylint: disable=import-outside-toplevel
  if not os.path.isfile(source_json):
    return True
  with open(source_json, encoding="utf-8") as f:
    kind = json.load(f).get("tokenizer") or "tfhub"
  return bool(getattr(base.tokenizer_class(kind), "tf_hub_export", True))


def _parameters_table(model_name: str, langs: str) -> str:
  """make_smaller_labse.py's parameter table, from the store's config and the smaller vocab."""
  from smaller_labse.model.config import EncoderConfig, parameter_table  # pylint: disable=import-outside-toplevel
  from smaller_labse.tokenizers import vocab  # pylint: disable=import-outside-toplevel
  config = EncoderConfig.load("models/labse/config.json")
  size = len(vocab.read_token_file(os.path.join("models", vocab.vocab_file_name(langs.split(",")))))
  small = config.with_vocab_size(size)
  return "\n".join(parameter_table([(n, c.parameter_counts(), c.vocab_size) for n, c in (
      ("original", config), (model_name, small))])) + "\n"


def _enter_checkout_venv(args: Sequence[str]) -> None:
  """run_pipeline.sh starts here with any Python 3, which has answered --help and checked the
  arguments; it names tools/ensure_venv.sh, and the pipeline goes on in the .venv it makes."""
  ensure_venv = os.environ.pop(ENSURE_VENV, None)
  if not ensure_venv:
    return
  root = os.path.dirname(os.path.dirname(os.path.abspath(ensure_venv)))
  # A Hugging Face source is proven against transformers and evaluated in PyTorch.
  requirements = ("requirements-hf.txt" if any(a.startswith("--source=") for a in args)
                  else "requirements.txt")
  made = subprocess.run([ensure_venv, os.path.join(root, requirements)],
                        stdout=subprocess.PIPE, text=True, check=False)
  if made.returncode:
    sys.exit(made.returncode)
  python = made.stdout.strip()
  os.execv(python, [python, "-m", "smaller_labse.stages.pipeline", *args])


def main(args: Optional[Sequence[str]] = None, prog: str = SCRIPT_PROG,
         demo_only: bool = False) -> int:
  """Runs the pipeline for the command line `args` (default: sys.argv[1:]) and returns its exit
  status: 0, 2 on bad arguments, or the failing step's status.

  Args:
    args: run_pipeline.sh's arguments (--demo, --full_dumps, --langs=, --workdir=).
    prog: the command's name, for --help; run_pipeline.sh's names the stages by their scripts,
      any other by their `smaller-labse` subcommands.
    demo_only: `smaller-labse demo`: --demo implied, only --workdir taken.
  """
  args = sys.argv[1:] if args is None else list(args)
  try:
    options = parse_args(args, demo_only)
  except UsageError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  if options is None:
    print(usage(prog, demo_only), end="")
    return 0
  _enter_checkout_venv(args)
  from smaller_labse.errors import InputError  # pylint: disable=import-outside-toplevel
  try:
    pipeline = Pipeline(options, script_names=prog == SCRIPT_PROG)
  except InputError as e:
    message = str(e) if str(e).startswith("--source=") else f"--langs={options.langs}: {e}"
    print(f"error: {message}", file=sys.stderr)
    return 2
  from smaller_labse import commands  # pylint: disable=import-outside-toplevel
  commands.start_process()
  os.makedirs(pipeline.workdir, exist_ok=True)
  os.chdir(pipeline.workdir)
  try:
    pipeline.inputs()
    pipeline.stages()
    pipeline.summary()
  except StageFailed as e:
    return e.status
  except KeyboardInterrupt:
    return 130
  return 0


if __name__ == "__main__":
  sys.exit(main())
