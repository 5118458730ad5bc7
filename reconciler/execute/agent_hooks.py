"""Start an agent so that it reports to orch: the side of its driver that writes files.

For a Claude Code agent (its driver `reports`): write `claude-settings.json` in the agent's
folder under ORCH_HOME, holding the user's own `--settings` (a file, relative to the agent's
folder, or a JSON text) with orch's hooks added, and start the command with `--settings
<that file>` last. Nothing of the user's is touched. Where that cannot be done safely (the
command is not one simple command, or the user's settings cannot be read) the agent runs
exactly as written, screen only.

Its conversation: a fresh start gets `--session-id <new uuid>`, kept in `claude-session.json`
in that folder; a restart with `resume` gets `--resume <that uuid>` instead (the same
conversation, read by Claude Code from its own transcript). A command that already names a
session (`--session-id`, `--resume`, `--continue`) is left as written.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import reconciler.hook
from reconciler import agent_events
from reconciler.drivers import claude
from reconciler.home import private_dir, private_file, write_atomic
from reconciler.model.agents import DesiredAgent, DesiredProject

HOOK_SCRIPT = str(Path(reconciler.hook.__file__).resolve())


SESSION_FILE = "claude-session.json"


def launch_command(home: Path, project: DesiredProject, agent: DesiredAgent, resume: bool = False) -> str:
    """The command the agent's window runs: with orch's hooks where its driver reports, and its
    conversation's id (`resume`: the last one's, where there is one)."""
    if agent.kind != "claude":  # the one kind whose hooks orch wires so far
        return agent.command
    folder = agent_events.agent_dir(home, project.name, project.id, agent.name)
    words = claude.simple_words(agent.command)
    user = _user_settings(claude.user_settings(words), Path(agent.cwd)) if words is not None else None
    if user is None or words is None:  # runs as written: a stream left by an earlier launch must not look like its reports
        for name in ("events.jsonl", "claude-settings.json", SESSION_FILE):
            (folder / name).unlink(missing_ok=True)
        return agent.command
    private_dir(folder)
    agent_events.rotate(folder / "events.jsonl", agent_events.ROTATE_AT_START)
    events = private_file(folder / "events.jsonl")
    ours = claude.hook_settings(sys.executable, HOOK_SCRIPT, str(events), str(private_dir(home / "run")))
    settings = folder / "claude-settings.json"
    write_atomic(settings, json.dumps(claude.merge_settings(user, ours), indent=1))
    return claude.with_settings(_with_conversation(folder, agent.command, words, resume), str(settings))


def _with_conversation(folder: Path, command: str, words: list[str], resume: bool) -> str:
    """The command with its conversation's id: the last one's when resuming it can work, else a new one."""
    if claude.names_session(words):
        (folder / SESSION_FILE).unlink(missing_ok=True)
        return command
    previous = last_session(folder) if resume else None
    if previous is not None and not _transcript_kept(folder / "events.jsonl", previous):
        previous = None  # Claude Code would only say "No conversation found" and exit
    session = previous or str(uuid.uuid4())
    write_atomic(folder / SESSION_FILE, json.dumps({"id": session, "resumed": previous is not None}))
    return claude.with_session(command, session, resume=previous is not None)


def last_session(folder: Path) -> str | None:
    """The id of the conversation orch last started in this agent folder, if it is one."""
    try:
        value = json.loads((folder / SESSION_FILE).read_text()).get("id")
        return str(uuid.UUID(value))
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def _transcript_kept(events: Path, session: str) -> bool:
    """Is the conversation's transcript, as its SessionStart reported it, still there? (True when
    no SessionStart says where: then Claude Code itself decides.)"""
    paths = [e["data"].get("transcript_path") for e in agent_events.recent_events(events)
             if e.get("event") == "SessionStart" and isinstance(e.get("data"), dict)
             and e["data"].get("session_id") == session]
    path = next((p for p in reversed(paths) if isinstance(p, str) and p), None)
    return path is None or Path(path).is_file()


def resumed(folder: Path) -> bool:
    """Did the agent's last launch resume its earlier conversation?"""
    try:
        return json.loads((folder / SESSION_FILE).read_text()).get("resumed") is True
    except (OSError, ValueError, AttributeError):
        return False


def _user_settings(value: str | None, cwd: Path) -> dict | None:
    """The user's own settings as a dict ({} without any); None when they cannot be read."""
    if value is None:
        return {}
    text = value
    if not value.lstrip().startswith("{"):
        try:
            text = (cwd / Path(value).expanduser()).read_text()
        except (OSError, UnicodeDecodeError):
            return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
