"""`orch import SESSION`: a manifest for a tmux session started by hand or by the old scripts.

One agent per window: its name from the window's, its folder from `pane_current_path`, its
command from `pane_start_command`, or, for a window that started a shell in which the agent was
then typed, from the process in the terminal's foreground (read in /proc). `orch apply --adopt`
then takes those windows over without restarting them.

Reading is one tmux call and /proc; `manifest_text` is pure and writes YAML by hand (every string
as a JSON string, which YAML reads back exactly) so that the comments can say what was guessed.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import UserError
from reconciler.manifest.models import NAME_PATTERN, SESSION_PATTERN
from reconciler.runtime.tmux import Tmux

SHELLS = {"sh", "bash", "zsh", "fish", "dash", "ksh", "tcsh", "csh"}
FIELDS = ("window_index", "pane_index", "pane_pid", "@orch_project", "pane_current_path", "pane_start_command",
          "window_name")


@dataclass(frozen=True)
class ImportedWindow:
    index: int
    window_name: str
    folder: str
    command: str | None  # None: a bare shell, nothing to run
    guessed_from: str  # "start command" | "foreground process" | "shell"
    other_panes: int  # panes beyond the first (orch runs one per agent)
    owned_by: str  # @orch_project, when orch already manages it


def agent_name(window_name: str, taken: set[str]) -> str:
    """A valid, unused agent name close to the window's name ("Dev Agent" -> "dev-agent")."""
    base = re.sub(r"[^a-z0-9]+", "-", window_name.lower()).strip("-")[:40].strip("-") or "agent"
    name, number = base, 2
    while name in taken or not re.fullmatch(NAME_PATTERN, name):
        suffix = f"-{number}"
        name = (base[:40 - len(suffix)].strip("-") or "agent") + suffix
        number += 1
    taken.add(name)
    return name


def project_name(session: str) -> str:
    return agent_name(session, set())


def start_command(text: str) -> str | None:
    """tmux 3.3 shows the start command quoted: one word is a shell command line, more are argv."""
    try:
        words = shlex.split(text)
    except ValueError:
        return text or None
    if not words:
        return None
    return words[0] if len(words) == 1 else shlex.join(words)


def _is_shell(words: list[str]) -> bool:
    """An interactive shell (login shells show as `-bash`), not a shell running a command."""
    return bool(words) and Path(words[0]).name.lstrip("-") in SHELLS and "-c" not in words[1:]


def foreground_command(pane_pid: int, proc: Path = Path("/proc")) -> tuple[str | None, str]:
    """The command line of the process group in the foreground of the pane's terminal, unless it
    is the pane's own shell (then there is nothing to run but the shell)."""
    try:
        stat = (proc / str(pane_pid) / "stat").read_text()
        tpgid = int(stat[stat.rindex(")") + 2:].split()[5])
        argv = (proc / str(tpgid) / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    except (OSError, ValueError, IndexError):
        return None, "shell"
    words = [w.decode(errors="replace") for w in argv if w]
    if tpgid <= 0 or tpgid == pane_pid or not words or _is_shell(words):
        return None, "shell"
    return shlex.join(words), "foreground process"


def read_session(tmux: Tmux, session: str) -> list[ImportedWindow]:
    if not re.fullmatch(SESSION_PATTERN, session):
        raise UserError(f"{session!r} is not a session name orch can manage (letters, digits, '_' and '-')")
    result = tmux.run(["list-panes", "-s", "-t", f"={session}", "-F",
                       "\t".join("#{" + f + "}" for f in FIELDS)], check=False)
    if result.returncode != 0:
        raise UserError(f"no tmux session named {session!r} on this server (see `tmux ls`)")
    windows: dict[int, ImportedWindow] = {}
    for line in result.stdout.splitlines():
        parts = line.split("\t", len(FIELDS) - 1)
        if len(parts) != len(FIELDS):
            continue
        index, pane_index, pid, owner, folder, start, name = parts
        if int(index) in windows:
            first = windows[int(index)]
            windows[int(index)] = ImportedWindow(**{**first.__dict__, "other_panes": first.other_panes + 1})
            continue
        command, source = start_command(start), "start command"
        if command is None or _is_shell(shlex.split(command)):
            command, source = foreground_command(int(pid))
        windows[int(index)] = ImportedWindow(int(index), name, folder, command, source, 0, owner)
    return [windows[i] for i in sorted(windows)]


def manifest_text(session: str, windows: list[ImportedWindow]) -> str:
    """A commented manifest that validates as is: one agent per window, nothing else assumed."""
    def quote(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = [f"# Written by `orch import {session}`: one agent per window of the running session.",
             "# `orch apply --adopt THIS_FILE` takes the windows over without restarting them; read the",
             "# commands first (a window that runs a bare shell gets `command: sh`: put its agent there).",
             "apiVersion: orch/v1", "kind: Project", "metadata:", f"  name: {project_name(session)}", "spec:",
             f"  session: {quote(session)}", "  agents:"]
    taken: set[str] = set()
    for window in windows:
        name = agent_name(window.window_name, taken)
        lines.append(f"    - name: {name}")
        notes = []
        if name != window.window_name:
            notes.append(f"window {window.window_name!r} (orch names windows after agents: adopt renames it)")
        if window.other_panes:
            notes.append(f"{window.other_panes} more pane(s) in this window are left out: orch runs one per agent")
        if window.owned_by:
            notes.append(f"already managed by orch project {window.owned_by!r}")
        lines += [f"      # {note}" for note in notes]
        lines.append(f"      role: {quote(window.window_name)}")
        if window.command is None:
            lines.append("      command: sh  # the window runs a bare shell: put the agent's command here")
        else:
            lines.append(f"      command: {quote(window.command)}  # from the {window.guessed_from}")
        if window.folder:
            lines.append(f"      cwd: {quote(window.folder)}")
    return "\n".join(lines) + "\n"


def write_manifest(path: Path, text: str, force: bool) -> None:
    if path.exists() and not force:
        raise UserError(f"{path} exists; pass --force to overwrite it, or --file another path")
    path.write_text(text)
