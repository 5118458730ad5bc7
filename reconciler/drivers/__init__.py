"""Drivers: what orch knows about each kind of agent program (`agents[].kind`).

Plain data and small pure functions, one module per kind: how the program tells it is out of
credit (and when that ends), which of its screens are dialogs orch must not type into, which
hooks it offers, whether orch starts it so that it reports
to `orch hook` (then its own events confirm deliveries and tell its state). `generic` is
screen-only, exactly what orch did before drivers: it recognises Claude Code's texts, which
the toy agent and many wrappers print. The kind defaults to the one whose program the
command runs (`claude ...`, `/opt/bin/codex`, `npx @google/gemini-cli`), else `generic`.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass

KINDS = ("claude", "codex", "gemini", "aider", "generic")


@dataclass(frozen=True)
class Driver:
    kind: str
    programs: tuple[str, ...]  # program names (basenames) that select this kind by default
    limit_patterns: tuple[re.Pattern[str], ...]  # its out-of-credit notices; `reset`/`epoch`/`after` groups
    joins_next: re.Pattern[str]  # a notice row whose reset time the program prints on the next row
    hooks: tuple[str, ...] = ()  # the program's own hook events (what it could report)
    reports: bool = False  # orch starts it with hooks into `orch hook`: receipts and state from events
    dialogs: tuple[re.Pattern[str], ...] = ()  # rows of its own dialogs that wait for a key, beyond the
    # numbered menus under a `❯`/`›`/`>` pointer and "Enter to confirm" footers every kind shows


_WRAPPERS = {"env", "npx", "bunx", "pnpx", "exec", "nohup", "command"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def program(command: str) -> str | None:
    """The program a command line runs: its basename, past `VAR=x`, `env`, `npx` and their options.

    `npx @openai/codex` -> `codex`; None when the line is not a simple command (quotes unbalanced)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for word in words:
        if _ASSIGNMENT.match(word) or word.startswith("-"):
            continue
        name = os.path.basename(word.rstrip("/"))
        if name in _WRAPPERS:
            continue
        return name or None
    return None


def detect(command: str) -> str:
    name = program(command)
    return next((d.kind for d in _ALL if name in d.programs), "generic")


def get(kind: str) -> Driver:
    return next(d for d in _ALL if d.kind == kind)


def resolve(kind: str | None, command: str) -> Driver:
    """The driver of an agent: its `kind`, else the one its command's program selects."""
    return get(kind or detect(command))


from reconciler.drivers import aider, claude, codex, gemini, generic  # noqa: E402  (each builds a Driver)

CLAUDE, CODEX, GEMINI, AIDER, GENERIC = claude.DRIVER, codex.DRIVER, gemini.DRIVER, aider.DRIVER, generic.DRIVER
_ALL = (CLAUDE, CODEX, GEMINI, AIDER, GENERIC)
