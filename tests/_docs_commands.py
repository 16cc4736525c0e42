"""The shell commands the Markdown docs show: extraction, classification, and rewriting to a tiny scale.

Used by ``tests/test_docs_commands.py``. A command is found in

- fenced code blocks tagged ``sh``, ``bash``, ``console``, ``shell`` or untagged,
- indented (4+ spaces) code blocks, also inside list items,
- inline code spans,

when its first word (after a ``$ `` prompt and ``VAR=value`` assignments) is ``learnedaug``, ``python``, ``make``,
``pip`` or a ``*.py`` script; a line ending in ``\\`` continues on the next one.
"""

from __future__ import annotations

import argparse
import ast
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHELL_LANGUAGES = frozenset({"", "sh", "bash", "console", "shell"})
PROGRAMS = ("learnedaug", "python", "make", "pip")
MKTEMP = "$(mktemp -d)"  # the one command substitution the docs use; a fresh directory when run

_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
_INLINE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
_ENV = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_PLACEHOLDER = re.compile(r"[A-Z][A-Z0-9_]*")
_BRACES = re.compile(r"\{([^{}\s\"']*,[^{}\s\"']*)\}")


@dataclass(frozen=True)
class DocCommand:
    """One command as a doc shows it: ``source`` (path relative to the repository), 1-based ``line``, ``text``
    (continuations joined, prompt stripped, brace alternatives expanded, comment kept)."""

    source: str
    line: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"

    @property
    def code(self) -> str:
        """The text without its trailing shell comment."""
        return split_comment(self.text)[0]

    @property
    def comment(self) -> str:
        return split_comment(self.text)[1]

    @property
    def env(self) -> dict[str, str]:
        """Leading ``VAR=value`` assignments."""
        return dict(_ENV.match(w).groups() for w in self._words()[0])

    @property
    def words(self) -> list[str]:
        """The command's words without the leading assignments (shell quoting removed)."""
        return self._words()[1]

    def _words(self) -> tuple[list[str], list[str]]:
        words = shlex.split(self.code.replace(MKTEMP, _MKTEMP_TOKEN))
        words = [w.replace(_MKTEMP_TOKEN, MKTEMP) for w in words]
        n = next((i for i, w in enumerate(words) if not _ENV.match(w)), len(words))
        return words[:n], words[n:]

    @property
    def options(self) -> list[str]:
        """Every ``--option`` the command and its comment name, in order, without repeats."""
        return list(dict.fromkeys(_OPTION.findall(self.text)))


_MKTEMP_TOKEN = "@MKTEMP@"


def split_comment(text: str) -> tuple[str, str]:
    """``"cmd --x 1   # note"`` -> (``"cmd --x 1"``, ``"note"``); a ``#`` inside quotes or a word is kept."""
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i].rstrip(), text[i + 1 :].strip()
    return text.strip(), ""


def expand_braces(text: str) -> list[str]:
    """Bash brace alternatives: ``"a {x,y} b"`` -> ``["a x b", "a y b"]`` (every group, left to right)."""
    match = _BRACES.search(text)
    if match is None:
        return [text]
    head, tail = text[: match.start()], text[match.end() :]
    return [out for alt in match.group(1).split(",") for out in expand_braces(head + alt + tail)]


def _program(text: str) -> str | None:
    """The program a command line runs (after a ``$ `` prompt and assignments), if it is one the docs may show."""
    try:
        words = DocCommand("", 0, text).words
    except ValueError:  # unbalanced quotes: prose, not a command
        return None
    if not words:
        return None
    first = words[0]
    return first if first in PROGRAMS or first.endswith(".py") else None


def _strip_prompt(line: str) -> str:
    text = line.strip()
    return text[2:] if text.startswith("$ ") else text


def extract(markdown: str, source: str) -> list[DocCommand]:
    """Every command shown in ``markdown`` (the text of ``source``), in order of appearance."""
    lines = markdown.splitlines()
    found: list[DocCommand] = []
    prose = list(lines)  # code lines blanked, for the inline spans
    fence: str | None = None
    shell = False
    pending: tuple[int, str] | None = None  # a command continued with a trailing backslash

    def emit(start: int, text: str) -> None:
        found.extend(DocCommand(source, start, t) for t in expand_braces(" ".join(text.split())))

    for i, line in enumerate(lines):
        number = i + 1
        match = _FENCE.match(line)
        if fence is None and match:
            fence, shell = match.group(1)[0], match.group(2).lower() in SHELL_LANGUAGES
            prose[i] = ""
            continue
        if fence is not None:
            prose[i] = ""
            if line.strip().startswith(fence * 3):
                fence = None
                continue
            if not shell:
                continue
        elif pending is None:
            indented = len(line) - len(line.lstrip(" ")) >= 4 and line.strip()
            previous_blank = i == 0 or not lines[i - 1].strip() or prose[i - 1] == ""
            if not (indented and previous_blank):
                continue
            prose[i] = ""
        else:
            prose[i] = ""
        text = _strip_prompt(line)
        if pending is not None:
            start, text = pending[0], pending[1] + " " + text
            pending = None
        else:
            start = number
        if text.endswith("\\"):
            pending = (start, text[:-1])
            continue
        if _program(text):
            emit(start, text)

    joined = "\n".join(prose)
    for match in _INLINE.finditer(joined):
        text = " ".join(match.group(1).split())
        if " " in text and _program(text):
            emit(joined.count("\n", 0, match.start()) + 1, text)
    found.sort(key=lambda c: c.line)
    return found


def doc_files() -> list[Path]:
    """README.md and docs/*.md."""
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def all_commands() -> list[DocCommand]:
    """Every command of every doc file."""
    return [c for path in doc_files() for c in extract(path.read_text(encoding="utf-8"), path.relative_to(REPO).as_posix())]


def is_synopsis(command: DocCommand) -> bool:
    """A usage line rather than a command: ``[optional]``, ``<placeholder>``, ``...``, or an upper-case placeholder
    word (``A``, ``NAME``, ``MODEL_DIR``, ``OWNER/REPO``, ``KEY=VALUE``)."""
    for word in command.words[1:]:
        if "[" in word or "..." in word or re.search(r"<[^>]+>", word):
            return True
        if any(_PLACEHOLDER.fullmatch(part) for part in re.split(r"[/=:,]", word)):
            return True
    return False


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-commands a parser dispatches to (empty when it has none)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_parser(words: list[str]) -> tuple[list[str], argparse.ArgumentParser]:
    """For ``words`` after ``learnedaug``: (the sub-command words, e.g. ``["zoo", "card"]``, the parser of the rest).

    Raises ValueError naming the word that is not a sub-command.
    """
    from learnedaug import cli

    if not words or words[0] not in cli.COMMANDS:
        raise ValueError(f"learnedaug has no sub-command {words[:1]}; it has {sorted(cli.COMMANDS)}")
    parser = subparsers(cli.build_parser(words[0]))[words[0]]
    path = [words[0]]
    for word in words[1:]:
        choices = subparsers(parser)
        if not choices or word.startswith("-"):
            break
        if word not in choices:
            raise ValueError(f"learnedaug {' '.join(path)} has no sub-command {word!r}; it has {sorted(choices)}")
        parser = choices[word]
        path.append(word)
    return path, parser


def kind(command: DocCommand) -> str:
    """``synopsis`` | ``mention`` (a bare ``learnedaug SUB`` that needs arguments) | ``run`` | ``make`` | ``pip`` |
    ``pytest`` | ``script`` | ``unsupported``."""
    words = command.words
    first = words[0]
    if first == "learnedaug":
        if is_synopsis(command):
            return "synopsis"
        try:
            path, parser = command_parser(words[1:])
        except ValueError:  # no such sub-command: running it shows the error
            return "run"
        needs_arguments = any(a.required for a in parser._actions)
        return "mention" if len(words) == 1 + len(path) and needs_arguments else "run"
    if first in ("make", "pip"):
        return first
    if first == "python" and words[1:3] == ["-m", "pytest"]:
        return "pytest"
    if first.endswith(".py") or (first == "python" and len(words) > 1 and words[1].endswith(".py")):
        return "script"
    return "unsupported"


def script_path(command: DocCommand) -> Path:
    """The file a ``python x.py`` / ``x.py`` command runs: relative to the repository, else in ``benchmarks/``."""
    words = command.words
    name = words[1] if words[0] == "python" else words[0]
    path = REPO / name
    return path if path.exists() or "/" in name else REPO / "benchmarks" / name


def script_options(path: Path) -> set[str]:
    """The ``--options`` a script declares with ``add_argument`` (read from its source, not run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {
        arg.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument"
        for arg in node.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("--")
    }


def makefile_targets(path: Path) -> set[str]:
    """The targets a Makefile defines (``name:`` at the start of a line, variables and special targets excluded)."""
    text = path.read_text(encoding="utf-8")
    return {m.group(1) for m in re.finditer(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M) if not m.group(1).startswith(".")}


# Rewrites to a tiny scale: option -> value, option -> upper bound, and options added to a sub-command when it offers
# them and the command does not set them (the demo's own defaults take minutes).
TINY_VALUES = {"--epochs": "1", "--n": "2"}
TINY_CAPS = {"--per-class": 5}
TINY_ADDED = {
    ("demo",): {"--seeds": "1", "--train-size": "20", "--test-size": "20", "--vae-epochs": "1", "--warp-steps": "1",
                 "--cnn-epochs": "1",
                 "--epoch-size": "20"},
}


def tiny_args(path: list[str], args: list[str], parser: argparse.ArgumentParser, data_root: Path) -> list[str]:
    """``args`` (the words after the sub-command ``path``) with sizes and epochs shrunk and ``--data-root`` pointed
    at ``data_root``; nothing else changes. ``--opt=value`` forms are split."""
    words: list[str] = []
    for word in args:
        words.extend(word.split("=", 1) if word.startswith("--") and "=" in word else [word])
    out = list(words)
    for i, word in enumerate(words[:-1]):
        value = words[i + 1]
        if word in TINY_VALUES:
            out[i + 1] = TINY_VALUES[word]
        elif word in TINY_CAPS and value.isdigit():
            out[i + 1] = str(min(int(value), TINY_CAPS[word]))
        elif word == "--data-root":
            out[i + 1] = str(data_root)
    offered = parser._option_string_actions
    for option, value in TINY_ADDED.get(tuple(path), {}).items():
        if option in offered and option not in out:
            out += [option, value]
    return out
