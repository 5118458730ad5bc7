"""Claude Code: its limit texts (DESIGN.md 4 "Credit", REAL_CLAUDE.md) and its hooks.

A notice counts only at the start of a line, after blanks and Claude Code's `⎿ ● ⚠ │ …`
glyphs; not `❯`/`>`, which mark typed prompts (limit text quoted in conversation, code or a
typed prompt starts with something else). The reset follows `resets`/`continuing
automatically`, and a notice wrapped right after that keyword continues on the next row.
"""

from __future__ import annotations

import re
import shlex
import uuid

from reconciler.plan.notices import WHEN_SRC
from reconciler.drivers import Driver

LEAD = r"^[\s⎿●⚠│|…]*"
_TAIL = r"(?:.*?\b(?:resets?|continuing\sautomatically)(?:\s+(?:at|on))?\s+(?P<reset>" + WHEN_SRC + r"))?"
_APOSTROPHE = r"[’'‘]?"

LIMIT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p, re.I) for p in (
    LEAD + r"Claude AI usage limit reached\|(?P<epoch>\d{9,})",  # Claude Code 1.x: reset as epoch seconds
    LEAD + rf"You(?:{_APOSTROPHE}ve| have) (?:hit|reached) your (?:[\w-]+ )*limit\b" + _TAIL,
    LEAD + rf"You(?:{_APOSTROPHE}re| are) out of (?:[\w-]+ )*usage\b" + _TAIL,
    LEAD + r"(?:Claude (?:AI )?)?(?:[\w-]+ )?limit reached\b" + _TAIL,
    LEAD + r"API Error:.*\b429\b",  # API-key credentials: no reset time given
))
# Seen in reports: `Your limit will reset` / `     at 3pm (America/Santiago).`
JOINS_NEXT: re.Pattern[str] = re.compile(r"\b(?:resets?|continuing\sautomatically)(?:\s+(?:at|on))?\s*$", re.I)
HOOKS = ("SessionStart", "UserPromptSubmit", "Stop", "StopFailure", "Notification", "PreCompact")

DRIVER: Driver = Driver("claude", ("claude", "claude-code", "@anthropic-ai/claude-code"), LIMIT_PATTERNS, JOINS_NEXT,
                HOOKS, reports=True)


# -- hooks through --settings (REAL_CLAUDE.md: hooks given there fire; each gets JSON on stdin) ---

HOOK_TIMEOUT_S = 5  # Claude Code waits at most this for `orch hook` (it takes ~10 ms)
_OPERATORS = set("();<>|&")


def _checked(path: str) -> str:
    """A path that goes into a command line: absolute, no control characters."""
    if not path.startswith("/") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in path):
        raise ValueError(f"{path!r} is not an absolute path without control characters")
    return path


def hook_command(python: str, script: str, event: str, events_file: str, run_dir: str) -> str:
    """The command line Claude Code runs for `event` (a shell line: every path quoted, and checked)."""
    if event not in HOOKS:
        raise ValueError(f"Claude Code has no {event!r} hook orch uses")
    words = [_checked(python), "-I", "-S", _checked(script), event, _checked(events_file), _checked(run_dir)]
    return " ".join(shlex.quote(word) for word in words)


def hook_settings(python: str, script: str, events_file: str, run_dir: str) -> dict:
    """Settings whose hooks report every event orch reads to `orch hook`."""
    return {"hooks": {event: [{"hooks": [{"type": "command", "timeout": HOOK_TIMEOUT_S,
                                          "command": hook_command(python, script, event, events_file, run_dir)}]}]
                      for event in HOOKS}}


def merge_settings(user: dict, ours: dict) -> dict:
    """The user's settings with orch's hooks added after theirs (theirs still run, and first)."""
    merged = {**user}
    hooks = {**(user.get("hooks") or {})}
    for event, groups in ours["hooks"].items():
        hooks[event] = [*(hooks.get(event) or []), *groups]
    merged["hooks"] = hooks
    return merged


def simple_words(command: str) -> list[str] | None:
    """The command's words when it is one simple command (no `;`, `&&`, `|`, redirection,
    subshell, or `--` ending the options); None otherwise: then orch adds nothing to it."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return None
    if any(set(token) <= _OPERATORS for token in tokens) or "--" in tokens:
        return None
    return shlex.split(command)


def user_settings(words: list[str]) -> str | None:
    """The value of the user's own `--settings` (a file or a JSON text), if the command has one."""
    found = None
    for index, word in enumerate(words):
        if word == "--settings" and index + 1 < len(words):
            found = words[index + 1]
        elif word.startswith("--settings="):
            found = word.partition("=")[2]
    return found


def with_settings(command: str, settings_file: str) -> str:
    """The command with orch's `--settings` last (the last one is the one Claude Code reads; the
    user's own is merged into orch's file)."""
    return f"{command} --settings {shlex.quote(_checked(settings_file))}"


# -- conversations: --session-id at start, --resume after a death (REAL_CLAUDE.md) ----------------

_SESSION_OPTIONS = ("--session-id", "--resume", "-r", "--continue", "-c", "--fork-session")


def names_session(words: list[str]) -> bool:
    """Does the user's command already choose its conversation? Then orch adds no id of its own."""
    return any(word in _SESSION_OPTIONS or word.partition("=")[0] in _SESSION_OPTIONS for word in words)


def with_session(command: str, session: str, resume: bool) -> str:
    """The command starting conversation `session` (a uuid), or resuming it."""
    return f"{command} {'--resume' if resume else '--session-id'} {shlex.quote(str(uuid.UUID(session)))}"


# -- receipts: UserPromptSubmit carries the submitted text (REAL_CLAUDE.md) -------------------------

# A paste shown as `[Pasted text #N ...]` reaches the hook expanded inside this block (2.1.328).
_PASTED = re.compile(r'\n\n<pasted_content id="([^"]*)">\n(.*?)\n</pasted_content id="\1">\n', re.S)


def _normal(text: str) -> str:
    """As Claude Code submits a pasted text: tabs as 4 spaces, no surrounding blank space."""
    return text.replace("\r\n", "\n").replace("\t", "    ").strip()


def is_receipt(event: dict, text: str, tag: str = "") -> bool:
    """Is `event` Claude Code's own report that `text` (a check-in: its unique `tag`) was submitted?"""
    if event.get("event") != "UserPromptSubmit":
        return False
    prompt = (event.get("data") or {}).get("prompt")
    if not isinstance(prompt, str):
        return False
    if tag:
        return tag in prompt
    return _normal(_PASTED.sub(lambda m: m.group(2), prompt)) == _normal(text)
