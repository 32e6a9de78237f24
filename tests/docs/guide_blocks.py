"""Code blocks of docs/mlops-guide.md and the `nids` command lines inside them."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
SHELL_LANGS = {"bash", "sh", "shell", "console"}
#: Tokens that end one command of a shell line.
SEPARATORS = {"||", "&&", "|", "&", ";", ">", ">>", "2>&1"}
#: The guide's own entry point is `nids train` behind a script.
ALIASES = {("python", "models/nids/train.py"): ["nids", "train"]}


@dataclass(frozen=True)
class Block:
    """One fenced block: language, whether it is marked runnable, code, first line number."""

    lang: str
    runnable: bool
    code: str
    line: int


def read_blocks(path: Path) -> list[Block]:
    """Every fenced block of the Markdown file at ``path``, in order."""
    text = path.read_text(encoding="utf-8")
    return [
        Block(
            lang=m.group(1),
            runnable="runnable" in m.group(2).split(),
            code=m.group(3),
            line=text.count("\n", 0, m.start()) + 2,
        )
        for m in FENCE.finditer(text)
    ]


def nids_commands(code: str) -> list[list[str]]:
    """The argument lists of every `nids` invocation in a shell block (after `nids`)."""
    joined = code.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        current: list[str] = []
        for token in [*shlex.split(line, comments=True), ";"]:
            if token in SEPARATORS:
                commands.append(current)
                current = []
            else:
                current.append(token)
    found = []
    for tokens in commands:
        start = 0
        while start < len(tokens) and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", tokens[start]):
            start += 1  # environment assignments before the command
        command = tokens[start:]
        head = tuple(command[:2])
        if head in ALIASES:
            command = ALIASES[head] + command[2:]
        if command and command[0] == "nids":
            found.append(command[1:])
    return found
