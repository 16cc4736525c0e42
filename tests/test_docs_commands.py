"""Every shell command README.md and docs/*.md show works as written (issue 14).

Each command is its own test case, named by its file and line:

- usage lines (``learnedaug fid A B [--n 10000]``) and bare mentions (``learnedaug bench``): the sub-command exists
  and every ``--option`` they name is in that sub-command's ``--help``;
- concrete ``learnedaug ...`` commands run through the installed console script in a temporary working directory,
  rewritten only to a tiny scale (epochs, sample counts, per-class sizes; the demo's sizes) with ``mnist`` read from a
  tiny dataset written here; inputs they expect (a trained model directory, a zoo card whose weights must be
  downloaded) are created first, downloads come from a local HTTP server; exit status 0 and the outputs they name;
- ``make``, ``pip``, ``python -m pytest`` and ``python benchmarks/x.py`` lines: the Makefile target, the package and
  extras, the test files, the script and the options it declares exist.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import _docs_commands as docs
from _docs_commands import DocCommand

RUN_TIMEOUT_S = 180  # per command, at the tiny scale: seconds when idle, far more when the 2 cores are shared


def _load_file_server() -> type:
    """The zoo tests' 127.0.0.1 HTTP server (tests/zoo/conftest.py), imported from its file."""
    spec = importlib.util.spec_from_file_location("_zoo_test_server", docs.REPO / "tests" / "zoo" / "conftest.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FileServer


FileServer = _load_file_server()
COMMANDS = docs.all_commands()
KINDS = {id(c): docs.kind(c) for c in COMMANDS}


def _case_id(command: DocCommand) -> str:
    head = []
    for word in command.words:
        if word.startswith("-") or any(ch in word for ch in "[<.=/") or len(head) == 4:
            break
        head.append(word)
    return f"{command.where} {KINDS[id(command)]}: {' '.join(head)}"


def _cases(*kinds: str) -> list:
    return [pytest.param(c, id=_case_id(c)) for c in COMMANDS if KINDS[id(c)] in kinds]


# --- the extractor -----------------------------------------------------------------------------------------------

SAMPLE_DOC = """\
# Title

```bash
make demo   # the demo
$ learnedaug zoo list
echo not a command
```

```python
learnedaug = "python code, not a shell command"
```

Run `learnedaug train {cdcvae,dvae} --epochs 3 --out runs/x` or `learnedaug bench`; `pip` alone is a word.

    learnedaug zoo card DIR --name N \\
        --licence "CC BY-SA 3.0"   # continued

1. A step:

       LEARNEDAUG_HOME=$(mktemp -d) learnedaug zoo download m
"""


def test_extract_finds_fenced_indented_and_inline_commands():
    found = [(c.line, c.text) for c in docs.extract(SAMPLE_DOC, "x.md")]
    assert found == [
        (4, "make demo # the demo"),
        (5, "learnedaug zoo list"),
        (13, "learnedaug train cdcvae --epochs 3 --out runs/x"),
        (13, "learnedaug train dvae --epochs 3 --out runs/x"),
        (13, "learnedaug bench"),
        (15, 'learnedaug zoo card DIR --name N --licence "CC BY-SA 3.0" # continued'),
        (20, "LEARNEDAUG_HOME=$(mktemp -d) learnedaug zoo download m"),
    ]


def test_command_words_env_comment_and_options():
    card = DocCommand("x.md", 1, 'learnedaug zoo card DIR --name N --licence "CC BY-SA 3.0" # see --zoo-dir')
    assert card.words == ["learnedaug", "zoo", "card", "DIR", "--name", "N", "--licence", "CC BY-SA 3.0"]
    assert card.comment == "see --zoo-dir"
    assert card.options == ["--name", "--licence", "--zoo-dir"]
    download = DocCommand("x.md", 1, "LEARNEDAUG_HOME=$(mktemp -d) learnedaug zoo download m")
    assert download.env == {"LEARNEDAUG_HOME": docs.MKTEMP}
    assert download.words == ["learnedaug", "zoo", "download", "m"]
    assert docs.split_comment("a '#b' c#d # e") == ("a '#b' c#d", "e")


@pytest.mark.parametrize(("text", "expected"), [
    ("learnedaug fid A B", "synopsis"),
    ("learnedaug zoo list [PATTERN]", "synopsis"),
    ("learnedaug zoo card d --metric fid=...", "synopsis"),
    ("learnedaug sample <model> --out g.png", "synopsis"),
    ("learnedaug fid", "mention"),
    ("learnedaug zoo list", "run"),
    ("learnedaug demo", "run"),
    ("learnedaug sample runs/x/model --out grid.png", "run"),
    ("learnedaug nosuchcommand --x", "run"),  # runs, and fails: an unknown command is a broken one
    ("make demo", "make"),
    ("pip install learnedaug", "pip"),
    ("python -m pytest tests/test_data.py", "pytest"),
    ("python benchmarks/bench_fid.py --device cuda", "script"),
    ("bench_downstream.py --scale budget", "script"),
    ("python -c 'print(1)'", "unsupported"),
])
def test_kind(text, expected):
    assert docs.kind(DocCommand("x.md", 1, text)) == expected


@given(st.lists(st.lists(st.from_regex(r"[a-z]{1,4}", fullmatch=True), min_size=2, max_size=3, unique=True),
                min_size=1, max_size=3))
def test_expand_braces_gives_every_combination(groups):
    text = "cmd " + " ".join("{" + ",".join(g) + "}" for g in groups) + " --x"
    expanded = docs.expand_braces(text)
    assert len(expanded) == np.prod([len(g) for g in groups])
    assert len(set(expanded)) == len(expanded)
    assert all("{" not in e and e.startswith("cmd ") and e.endswith(" --x") for e in expanded)
    assert expanded[0] == "cmd " + " ".join(g[0] for g in groups) + " --x"


def test_tiny_args_shrink_sizes_and_epochs_only(tmp_path):
    path, parser = docs.command_parser(["train", "cdcvae"])
    args = ["cdcvae", "--data", "mnist", "--per-class", "50", "--epochs=200", "--out", "runs/x", "--data-root", "d"]
    assert docs.tiny_args(path, args, parser, tmp_path) == [
        "cdcvae", "--data", "mnist", "--per-class", "5", "--epochs", "1", "--out", "runs/x", "--data-root", str(tmp_path)]
    path, parser = docs.command_parser(["demo"])
    tiny = docs.tiny_args(path, ["--seeds", "3"], parser, tmp_path)
    assert tiny[:2] == ["--seeds", "3"] and "--cnn-epochs" in tiny and tiny.count("--seeds") == 1


def test_the_docs_show_every_kind_of_command():
    """The parametrised cases below cannot silently go empty: the docs' known commands are all found."""
    texts = {c.text for c in COMMANDS}
    assert {f"learnedaug train {f} --data mnist --per-class 5 --epochs 200 --out runs/x"
            for f in ("cdcvae", "cdcgan", "classvae", "dvae")} <= texts
    assert {"run", "synopsis", "mention", "make", "pip", "script"} <= set(KINDS.values())
    assert {c.source for c in COMMANDS} >= {"README.md", "docs/zoo.md", "docs/fid.md"}


# --- usage lines and mentions: the sub-command and its options exist -------------------------------------------


def _check_usage(command: DocCommand) -> None:
    words = [w for w in command.words[1:] if not w.startswith("[")]
    path, parser = docs.command_parser(words)
    text = parser.format_help()  # what `learnedaug <path> --help` prints
    assert text.startswith(f"usage: learnedaug {' '.join(path)}")
    missing = [o for o in command.options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", text)]
    assert not missing, f"{command.where}: `learnedaug {' '.join(path)} --help` has no {missing}:\n{command.text}"


@pytest.mark.parametrize("command", _cases("synopsis", "mention"))
def test_documented_usage_matches_help(command):
    _check_usage(command)


# --- make / pip / pytest / scripts: what they name exists ------------------------------------------------------


def _static_make(command: DocCommand) -> None:
    targets = docs.makefile_targets(docs.REPO / "Makefile")
    named = [w for w in command.words[1:] if not w.startswith("-")]
    assert named, f"{command.where}: `make` without a target: {command.text}"
    missing = [t for t in named if t not in targets]
    assert not missing, f"{command.where}: the Makefile has no target {missing} (it has {sorted(targets)})"


def _static_pip(command: DocCommand) -> None:
    words = command.words
    assert words[1:2] == ["install"], f"{command.where}: only `pip install` lines are checked: {command.text}"
    meta = importlib.metadata.metadata("learnedaug")
    extras = set(meta.get_all("Provides-Extra") or [])
    for spec in (w for w in words[2:] if not w.startswith("-")):
        name, _, rest = spec.partition("[")
        if name in (".", "") or name.startswith(("./", "/")):
            assert (docs.REPO / name / "pyproject.toml").is_file(), f"{command.where}: no project at {name}"
        else:
            assert name == meta["Name"], f"{command.where}: installs {name!r}; this package is {meta['Name']!r}"
        wanted = {e for e in rest.rstrip("]").split(",") if e}
        assert wanted <= extras, f"{command.where}: no extras {sorted(wanted - extras)} (there are {sorted(extras)})"


def _static_pytest(command: DocCommand) -> None:
    paths = [w.split("::")[0] for w in command.words[3:] if not w.startswith("-")]
    missing = [p for p in paths if not (docs.REPO / p).exists()]
    assert not missing, f"{command.where}: no such test path {missing}: {command.text}"


def _static_script(command: DocCommand) -> None:
    path = docs.script_path(command)
    assert path.is_file(), f"{command.where}: no script {path.relative_to(docs.REPO)}: {command.text}"
    declared = docs.script_options(path)
    missing = [o for o in command.options if o not in declared]
    assert not missing, f"{command.where}: {path.name} declares no {missing} (it has {sorted(declared)})"


STATIC_CHECKS = {"make": _static_make, "pip": _static_pip, "pytest": _static_pytest, "script": _static_script}


@pytest.mark.parametrize("command", _cases("make", "pip", "pytest", "script", "unsupported"))
def test_documented_tool_command_names_what_exists(command):
    check = STATIC_CHECKS.get(KINDS[id(command)])
    if check is None:
        pytest.fail(f"{command.where}: no rule checks this kind of command; extend tests/_docs_commands.py: "
                    f"{command.text}")
    check(command)


@pytest.mark.parametrize(("check", "text", "complaint"), [
    (_check_usage, "learnedaug fid A B [--no-such-option]", "--no-such-option"),
    (_check_usage, "learnedaug zoo publish NAME", "no sub-command 'publish'"),
    (_static_make, "make no-such-target", "no-such-target"),
    (_static_pip, "pip install torch", "'torch'"),
    (_static_pip, "pip install learnedaug[no-such-extra]", "no-such-extra"),
    (_static_pytest, "python -m pytest tests/no_such_test.py", "no_such_test.py"),
    (_static_script, "python benchmarks/bench_fid.py --no-such-option", "--no-such-option"),
    (_static_script, "python benchmarks/no_such_bench.py", "no_such_bench.py"),
])
def test_checks_reject_a_broken_command(check, text, complaint):
    with pytest.raises((AssertionError, ValueError), match=re.escape(complaint)):
        check(DocCommand("x.md", 1, text))


# --- concrete learnedaug commands: run them ----------------------------------------------------------------------


def _write_digits(path: Path, per_class: int, seed: int) -> None:
    """Bar-shaped 28x28 uint8 'digits', the bar's position set by the class: a labelled set learnedaug reads."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(10), per_class)
    x = np.zeros((len(y), 28, 28), np.uint8)
    for i, label in enumerate(y):
        r, c = rng.integers(2, 8, size=2)
        x[i, r : r + 14, c + label : c + label + 4] = 255
    np.savez(path, x=x, y=y)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """A data root in the shared data's layout: ``mnist/train.npz`` (10 per class), ``mnist/test.npz`` (4)."""
    root = tmp_path_factory.mktemp("tiny_data")
    (root / "mnist").mkdir()
    _write_digits(root / "mnist" / "train.npz", 10, seed=0)
    _write_digits(root / "mnist" / "test.npz", 4, seed=1)
    return root


@pytest.fixture(scope="module")
def console_script() -> str:
    """The installed ``learnedaug`` entry point, beside this interpreter or on PATH."""
    beside = Path(sys.executable).with_name("learnedaug")
    found = str(beside) if beside.is_file() else shutil.which("learnedaug")
    if found is None:
        pytest.fail("the learnedaug console script is not installed: pip install -e .")
    return found


@dataclass
class Sandbox:
    """Where one documented command runs: ``work`` (its working directory), ``cards`` (``LEARNEDAUG_ZOO_PATH``),
    ``home`` (``LEARNEDAUG_HOME``), ``env`` (the whole environment), ``server`` (local HTTP downloads)."""

    root: Path
    work: Path
    cards: Path
    home: Path
    env: dict[str, str]
    server: FileServer


@pytest.fixture
def sandbox(tmp_path, tiny_data, monkeypatch):
    work, cards, home = tmp_path / "work", tmp_path / "cards", tmp_path / "home"
    for d in (work, cards, home):
        d.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNEDAUG_")}
    env.update(LEARNEDAUG_HOME=str(home), LEARNEDAUG_DATA=str(tiny_data), LEARNEDAUG_ZOO_PATH=str(cards),
               MPLBACKEND="Agg")
    monkeypatch.setenv("LEARNEDAUG_ZOO_PATH", str(cards))  # this process's view of the zoo: the same cards
    server = FileServer()
    yield Sandbox(tmp_path, work, cards, home, env, server)
    server.stop()


def _tiny_model(family: str):
    """An untrained model of ``family`` small enough to save, load and sample in well under a second."""
    from learnedaug.models import CDCVAE, CDCVAEConfig

    if family != "cdcvae":
        pytest.fail(f"no tiny model for family {family!r}: add one to _tiny_model")
    return CDCVAE(CDCVAEConfig(fc_dim=16, base_channels=4))


def _publish(name: str, box: Sandbox) -> str:
    """A card for ``name`` in ``box.cards`` whose weights exist only on the local server; returns the served path."""
    from learnedaug.zoo import make_card

    model_dir = _tiny_model(name.split("-")[0]).save_pretrained(box.root / "to_publish" / name)
    card = make_card(model_dir, name=name, training_data={"dataset": "mnist", "subset": "per-class-5", "seed": 0,
                                                          "licence": "CC BY-SA 3.0"},
                     recipe="tests/test_docs_commands.py: an untrained tiny model", metrics={},
                     urls=[box.server.url(f"/{name}.safetensors")], zoo_dir=box.cards)
    weights = box.cards / "weights" / card.file
    box.server.add(f"/{card.file}", weights.read_bytes())
    weights.unlink()  # as the publishing steps do: the download must be what finds it
    return f"/{card.file}"


def _parsed(parser, args: list[str]):
    """The namespace ``args`` parse to, or None when they do not parse (the real run then shows the error)."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            return parser.parse_args(args)
        except SystemExit:
            return None


MODEL_INPUTS = {("sample",): "model", ("zoo", "card"): "model_dir"}  # positional naming a saved model directory
CARD_INPUTS = {("zoo", "download"): "name", ("zoo", "info"): "name"}  # positional naming a zoo model


def _prepare(path: tuple[str, ...], ns, box: Sandbox) -> str | None:
    """Create the inputs a command expects to exist; returns the server path of a weights file it must download."""
    from learnedaug.zoo import list_models

    if ns is None:
        return None
    if path in MODEL_INPUTS:
        value = getattr(ns, MODEL_INPUTS[path])
        if not (box.work / value).exists() and value not in list_models():
            _tiny_model("cdcvae").save_pretrained(box.work / value)
    if path in CARD_INPUTS:
        name = getattr(ns, CARD_INPUTS[path])
        if name not in list_models():
            return _publish(name, box)
    return None


@pytest.mark.parametrize("command", _cases("run"))
def test_documented_command_runs(command, sandbox, tiny_data, console_script):
    words = command.words[1:]
    try:
        path, parser = docs.command_parser(words)
        args = docs.tiny_args(path, words[len(path):], parser, tiny_data)
    except ValueError:  # not a sub-command: run it as written and let learnedaug say what is wrong
        path, parser, args = [], None, words
    env = dict(sandbox.env)
    for key, value in command.env.items():
        env[key] = tempfile.mkdtemp(dir=sandbox.root) if value == docs.MKTEMP else value
    served = _prepare(tuple(path), _parsed(parser, args) if parser else None, sandbox)
    argv = [console_script, *path, *args]
    try:
        done = subprocess.run(argv, cwd=sandbox.work, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command.where}: still running after {RUN_TIMEOUT_S} s at the tiny scale {argv[1:]}; "
                    "shrink it in _docs_commands.TINY_*")
    assert done.returncode == 0, (f"{command.where}: `{command.text}` (run as {argv[1:]}) exited "
                                  f"{done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    ns = _parsed(parser, args) if parser else None
    if getattr(ns, "out", None) is not None:  # the output it names, or its default output directory
        out = sandbox.work / ns.out
        assert out.exists(), f"{command.where}: exit 0 but no {out} written"
    if served is not None:
        printed = Path(done.stdout.strip().splitlines()[-1])
        assert printed.is_file() and sandbox.server.gets[served] == 1, done.stdout
        assert printed.resolve().is_relative_to(Path(env["LEARNEDAUG_HOME"]).resolve())
