"""Every shell command in README.md and docs/**/*.md runs as written, or is excluded with a reason.

What counts as a command (the extraction rule):

1. each line of a ```bash, ```sh or ```shell block that is neither blank nor a ``#`` comment; a
   line ending in a backslash continues on the next line;
2. each line starting with ``$ `` in a ```console or ```text block (a transcript); the lines
   after it, up to the next ``$ `` line, are its output;
3. each inline code span outside fenced blocks whose text starts with ``python `` or
   ``python3 `` (after optional ``VAR=value`` assignments); a span broken across lines is one
   command.

A ```text block that directly follows a rule-1 block is the output of that block's commands,
split among them at lines starting with ``model `` or ``error:`` (one summary per command).
```python blocks are not commands: tests/test_readme_examples.py runs those of README.md.

How a command runs: ``bash -c`` with the documented text, unchanged, in a fresh temporary
directory, offline (``HF_*_OFFLINE=1``), with the dense accuracy cache (``TASDER_CACHE_DIR``) in a
temporary directory shared by this module; Hydra's run directories and the default leaderboard
are relative paths, so they land in the temporary directory too. ``python`` on PATH is the test's
interpreter behind tests/warm_python.py, which imports torch, Lightning and Hydra once for the
module instead of once per command (~7 s each). Only the environment and the working directory
differ from what the docs say:

- a doc with a file tree (an unlabelled fenced block of paths, as in docs/extending.md) runs from
  a directory holding those files; each file's text is the ```yaml or ```python block introduced
  by the last code span naming the file;
- the repository's ``benchmarks/`` is linked into the directory (commands name it relatively);
- ``python -m evaluation.leaderboard --db PATH`` finds at PATH a small real leaderboard (two runs
  of the default model, dense and uniform 2:4): the sweeps that fill the documented ones are
  excluded below as too long.

A command passes when it exits with status 0, or 2 where its documented output is a one-line
``error: ...`` (the harness's status for a user error), and its documented output, with wall
times and run directories masked, appears in order in what it prints. A command is never skipped
silently: it is either run or matched by EXCLUDED / EXCLUDED_RULES, each with its reason, and a
test checks that every EXCLUDED entry still names a documented command.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests import warm_python
from tests.markdown import Block, blocks_of

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL_LANGS = {"bash", "sh", "shell"}
TRANSCRIPT_LANGS = {"console", "text"}
SPAN = re.compile(r"`([^`]+)`")
INLINE_COMMAND = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S+\s+)*python3?\s")
SUMMARY_START = ("model ", "error:")
TIMEOUT_S = 300

# Exact commands (whitespace collapsed) that are not run, each with its reason.
JOBLIB = "a 12-job joblib sweep (~40 s on 2 cores); tests/e2e/test_evaluate.py runs a 4-job one"
EXPERIMENT = (
    "the committed {}-job sweep (~{} min on 2 cores); tests/e2e/test_config_groups.py composes it"
)
SMOLLM2 = (
    "SmolLM2 over 8 x 512 tokens (~1 min each); tests/e2e/test_causal_lm_harness.py runs it on "
    "one window, and the decode phase on a tiny LLaMA"
)
TRAIN = "trains the reference models on one CPU thread (minutes per model)"
LM_EVAL = (
    "lm-eval on SmolLM2 (~90 s each); tests/integration/test_lm_eval_plugin.py runs the command "
    "on a tiny LLaMA and a local task"
)
LM_EVAL_QUIZ = "--tasks python_quiz --include_path examples/lm_eval"
EXCLUDED = {
    "python -m tasder_plugin.models.train_reference": TRAIN,
    "python -m tasder_plugin.models.train_reference --model reference_resnet_sp95": TRAIN,
    "python benchmarks/search.py": "every search strategy on four models x three presets (~8 min)",
    "python -m evaluation model=smollm2 data=pydocs tasd=uniform tasd.weights=2:4+2:8 hw=2of4": (
        SMOLLM2
    ),
    "python -m evaluation model=smollm2 tasd=uniform tasd.weights=2:4 hw=2of4 cost.phase=decode": (
        SMOLLM2
    ),
    "python -m evaluation model=smollm2 tasd=uniform tasd.weights=2:4+2:8 hw=flex8 "
    "cost.phase=decode": SMOLLM2,
    "python -m evaluation model=smollm2 data=pydocs tasd=tasder tasd.max_increase=0.05 "
    "tasd.refine_trials=8 hw=2of4": (
        "a perplexity-budget search on SmolLM2 (~7 min); tests/e2e/test_causal_lm_harness.py "
        "runs it on a tiny LLaMA"
    ),
    f"tasder-lm-eval --model tasder --model_args tasder_model=smollm2 {LM_EVAL_QUIZ}": LM_EVAL,
    f"tasder-lm-eval --model tasder --model_args tasder_model=smollm2,weights=2:4 {LM_EVAL_QUIZ}": (
        LM_EVAL
    ),
    "tasder-lm-eval --model tasder --model_args tasder_model=smollm2,weights=2:4+2:8 "
    f"{LM_EVAL_QUIZ}": LM_EVAL,
    "python -m evaluation model=reference_resnet20 hw=vegeta": (
        "the default TASDER search on reference_resnet20 (~30-100 s on 2 cores); "
        "tests/e2e/test_search_harness.py runs its ranked search through the harness and "
        "tests/search/test_search_reference.py the tasder strategy on vegeta"
    ),
    "python benchmarks/decompose.py --threads 2": "a timing benchmark on resnet50 (~1 min)",
    "python benchmarks/lm_tokens.py": "a timing benchmark on SmolLM2 (~3.5 min)",
    "python benchmarks/cost.py": "a timing benchmark of the cost model (~20-30 s)",
    "python benchmarks/validate_cost.py": "runs SCALE-Sim and ZigZag on 20 layers (4-7 minutes)",
    "python benchmarks/compare_cost_versions.py --old <checkout of 3ea3cae>": (
        "needs a second git checkout; <checkout of 3ea3cae> is a placeholder"
    ),
    "python -m evaluation -m hydra/launcher=joblib model=reference_resnet,reference_vit "
    "hw=2of4,vegeta,flex8 tasd=uniform tasd.weights=2:4,2:4+1:8": JOBLIB,
    "TASDER_LEADERBOARD=board.sqlite python -m evaluation -m hydra/launcher=joblib "
    "hydra.launcher.n_jobs=2 model=reference_resnet,reference_vit hw=2of4,vegeta,flex8 "
    "tasd=uniform tasd.weights=2:4,2:4+1:8 trainer.enable_progress_bar=false": JOBLIB,
    "python -m evaluation +experiment=leaderboard": EXPERIMENT.format(40, 6),
    "TASDER_LEADERBOARD=offline.sqlite python -m evaluation +experiment=leaderboard "
    "trainer.enable_progress_bar=false": EXPERIMENT.format(40, 6),
    "python -m evaluation +experiment=sparse": EXPERIMENT.format(54, 10),
    "TASDER_LEADERBOARD=sparse.sqlite python -m evaluation +experiment=sparse "
    "trainer.enable_progress_bar=false": EXPERIMENT.format(54, 10),
}
# Whole kinds of commands that are not run.
EXCLUDED_RULES = [
    (re.compile(r"\bpip install\b"), "installs packages: needs a package index"),
    (re.compile(r"\bpython -m pytest\b"), "the test suite itself"),
]


class DocError(ValueError):
    """A doc that this test cannot read as the rules above say (reported by a test)."""


@dataclass
class Command:
    text: str  # exactly as written (continuation lines included)
    doc: str  # path relative to the repository
    line: int
    output: list[str] | None = None  # the documented output, if the doc shows one
    files: dict[str, str] = field(default_factory=dict)  # the doc's files, by relative path

    @property
    def key(self) -> str:
        return " ".join(self.text.replace("\\\n", " ").split())


def logical_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(index of first line, text) with backslash continuations kept inside one entry."""
    joined, start, parts = [], 0, []
    for index, line in enumerate(lines):
        if not parts:
            start = index
        parts.append(line)
        if not line.rstrip().endswith("\\"):
            joined.append((start, "\n".join(parts)))
            parts = []
    if parts:
        joined.append((start, "\n".join(parts)))
    return joined


def file_tree(blocks: list[Block]) -> list[str]:
    """Paths listed by an unlabelled block of paths (a directory line ends with '/')."""
    for block in blocks:
        tokens = " ".join(block.lines).split()
        if block.lang or not tokens or not any(t.endswith("/") for t in tokens):
            continue
        if not all(re.fullmatch(r"[\w.\-/]+", t) for t in tokens):
            continue
        paths, prefix = [], ""
        for line in block.lines:
            indented = line.startswith((" ", "\t"))
            for token in line.split():
                if token.endswith("/") and not indented:
                    prefix = token
                elif not token.endswith("/"):
                    paths.append(prefix + token if indented else token)
        return paths
    return []


def doc_files(blocks: list[Block]) -> dict[str, str]:
    """The doc's file tree, each path with the yaml/python block whose text names it last."""
    tree = file_tree(blocks)
    files = {}
    for block in blocks:
        if block.lang not in ("yaml", "python"):
            continue
        named = [s for s in SPAN.findall(block.before) if s in tree]
        if named:
            files[named[-1]] = block.text + "\n"
    missing = sorted(set(tree) - set(files))
    if missing:
        raise DocError(f"files of the tree without a block introduced by their name: {missing}")
    return files


def split_output(output: list[str], count: int) -> list[list[str] | None]:
    """The output of a block of ``count`` commands, one summary each."""
    if count == 1:
        return [output]
    starts = [i for i, line in enumerate(output) if line.startswith(SUMMARY_START)]
    if len(starts) != count or starts[0] != 0:
        raise DocError(f"cannot split an output block among {count} commands: {output[:1]}")
    return [output[a:b] for a, b in zip(starts, starts[1:] + [len(output)])]


def commands_of(path: Path) -> list[Command]:
    doc = str(path.relative_to(ROOT))
    try:
        return _commands_of(path.read_text(), doc)
    except DocError as err:
        raise DocError(f"{doc}: {err}") from None


def _commands_of(text: str, doc: str) -> list[Command]:
    blocks, outside = blocks_of(text)
    files = doc_files(blocks)
    found = []
    for index, block in enumerate(blocks):
        if block.lang in SHELL_LANGS:
            entries = [
                (start, line)
                for start, line in logical_lines(block.lines)
                if line.strip() and not line.lstrip().startswith("#")
            ]
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            outputs: list[list[str] | None] = [None] * len(entries)
            if following and following.lang == "text" and not following.before.strip():
                if not any(line.startswith("$ ") for line in following.lines):
                    outputs = split_output(following.lines, len(entries))
            for (start, line), output in zip(entries, outputs):
                found.append(Command(line.strip(), doc, block.line + 1 + start, output, files))
        elif block.lang in TRANSCRIPT_LANGS:
            current = None
            for start, line in logical_lines(block.lines):
                if line.startswith("$ "):
                    current = Command(line[2:].strip(), doc, block.line + 1 + start, [], files)
                    found.append(current)
                elif current is not None:
                    current.output.extend(line.split("\n"))
    for match in SPAN.finditer(outside):
        span = " ".join(match.group(1).split())
        if INLINE_COMMAND.match(span):
            line = outside.count("\n", 0, match.start()) + 1
            found.append(Command(span, doc, line, None, files))
    found.sort(key=lambda command: command.line)
    for command in found:
        if command.output is not None:
            while command.output and not command.output[-1].strip():
                command.output.pop()
    return found


def all_commands() -> list[Command]:
    return [command for path in DOCS for command in commands_of(path)]


def exclusion(command: Command) -> str | None:
    for pattern, reason in EXCLUDED_RULES:
        if pattern.search(command.key):
            return reason
    return EXCLUDED.get(command.key)


def runnable() -> list[Command]:
    """Documented commands to run, each once (the first place it appears); none if a doc cannot
    be read (the first test below then says why, instead of an error that stops collection)."""
    try:
        commands = all_commands()
    except DocError:
        return []
    unique = {}
    for command in commands:
        if exclusion(command) is None:
            unique.setdefault(command.key, command)
    return list(unique.values())


SAMPLE = """Run `python -m evaluation
mode=cost` first, then:

```
conf/
  hw/mine.yaml
```

`conf/hw/mine.yaml` says:

```yaml
clock_hz: 1.0e9
```

```bash
# a comment
python -m evaluation hw=a \\
    tasd=uniform
python -m evaluation hw=b
```
```text
model x | hw a
top-1 0.9
error: b is not a preset
```

```text
$ python -m tasder_plugin
TASD: ...

$ python -m evaluation.leaderboard --db x.sqlite
```
"""


def test_extraction_rule_on_a_sample():
    commands = _commands_of(SAMPLE, "sample.md")
    assert [(c.line, c.key) for c in commands] == [
        (1, "python -m evaluation mode=cost"),
        (17, "python -m evaluation hw=a tasd=uniform"),
        (19, "python -m evaluation hw=b"),
        (28, "python -m tasder_plugin"),
        (31, "python -m evaluation.leaderboard --db x.sqlite"),
    ]
    assert commands[1].text == "python -m evaluation hw=a \\\n    tasd=uniform"
    assert [c.output for c in commands] == [
        None,
        ["model x | hw a", "top-1 0.9"],
        ["error: b is not a preset"],
        ["TASD: ..."],
        [],
    ]
    assert commands[0].files == {"conf/hw/mine.yaml": "clock_hz: 1.0e9\n"}


def test_docs_have_commands_and_every_one_is_run_or_excluded_with_a_reason():
    commands = all_commands()
    assert len(commands) >= 20 and runnable()
    for command in commands:
        reason = exclusion(command)
        assert reason is None or len(reason) > 10, command.key


def test_every_exclusion_names_a_documented_command():
    keys = {command.key for command in all_commands()}
    assert set(EXCLUDED) <= keys, sorted(set(EXCLUDED) - keys)


def masked(line: str) -> str:
    """A line with what changes from run to run (wall times, run directories) masked."""
    line = re.sub(r"\d+(\.\d+)? s\b", "<t> s", line.rstrip())  # "1.2 s", "0.5 s/72"
    return re.sub(r"outputs/\d{4}-\d\d-\d\d/\d\d-\d\d-\d\d", "outputs/<run>", line)


def in_order(expected: list[str], printed: list[str]) -> bool:
    lines = iter(printed)
    return all(any(line == want for line in lines) for want in expected)


def bash(command: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """Run a command as written; its stdout and stderr, in order, in ``stdout``."""
    with subprocess.Popen(
        ["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True,
    ) as process:  # fmt: skip
        try:
            stdout, _ = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # bash and its children, shims included
            process.communicate()
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """The environment every command runs in (``python``: tests/warm_python.py's shim, its server
    started here), and a small real leaderboard to render."""
    root = tmp_path_factory.mktemp("docs_commands")
    (root / "bin").mkdir()
    socket_dir = Path(tempfile.mkdtemp(prefix="tasder-docs-"))  # AF_UNIX paths are short
    env = {k: v for k, v in os.environ.items() if k != "TASDER_LEADERBOARD"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    path = os.pathsep.join([str(root / "bin"), str(Path(sys.executable).parent), env["PATH"]])
    env.update(PATH=path, TASDER_CACHE_DIR=str(root / "cache"))
    warm_python.install(root / "bin", socket_dir / "python.sock")
    with open(root / "server.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, warm_python.__file__, "serve", str(socket_dir / "python.sock")],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (socket_dir / "python.sock").exists() and server.poll() is None:
            assert time.monotonic() < deadline, "tests/warm_python.py did not start"
            time.sleep(0.1)
        assert server.poll() is None, (root / "server.log").read_text()  # else every run is cold
        board = root / "board.sqlite"
        seed = bash(
            "python -m evaluation -m tasd=none,uniform trainer.enable_progress_bar=false",
            root, {**env, "TASDER_LEADERBOARD": str(board)},
        )  # fmt: skip
        assert seed.returncode == 0, seed.stdout[-3000:]
        yield env, board
        assert server.poll() is None, (root / "server.log").read_text()  # it served them all
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(socket_dir, ignore_errors=True)


def prepare(command: Command, cwd: Path, board: Path) -> None:
    for relative, text in command.files.items():
        (cwd / relative).parent.mkdir(parents=True, exist_ok=True)
        (cwd / relative).write_text(text)
    (cwd / "benchmarks").symlink_to(ROOT / "benchmarks")
    match = re.search(r"-m evaluation\.leaderboard\b.*--db\s+(\S+)", command.key)
    if match and not (cwd / match.group(1)).exists():
        (cwd / match.group(1)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(board, cwd / match.group(1))


@pytest.mark.slow
@pytest.mark.parametrize("command", runnable(), ids=lambda c: c.key)
def test_documented_command_runs_as_written(command, shared, tmp_path):
    env, board = shared
    prepare(command, tmp_path, board)
    run = bash(command.text, tmp_path, env)
    output = command.output or []
    expected_status = 2 if len(output) == 1 and output[0].startswith("error:") else 0
    where = f"{command.doc}:{command.line}: {command.key}"
    assert run.returncode == expected_status, f"{where}\n{run.stdout[-3000:]}"
    printed = [masked(line) for line in run.stdout.splitlines()]
    expected = [masked(line) for line in output if line.strip()]
    assert in_order(expected, printed), f"{where}: documented output not printed\n{run.stdout}"
