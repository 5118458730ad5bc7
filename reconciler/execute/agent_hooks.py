"""Start an agent so that it reports to orch: the side of its driver that writes files.

For a Claude Code agent (its driver `reports`): write `claude-settings.json` in the agent's
folder under ORCH_HOME, holding the user's own `--settings` (a file, relative to the agent's
folder, or a JSON text) with orch's hooks added, and start the command with `--settings
<that file>` last. Nothing of the user's is touched. Where that cannot be done safely (the
command is not one simple command, or the user's settings cannot be read) the agent runs
exactly as written, screen only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import reconciler.hook
from reconciler import agent_events
from reconciler.drivers import claude
from reconciler.home import private_dir, private_file, write_atomic
from reconciler.model.agents import DesiredAgent, DesiredProject

HOOK_SCRIPT = str(Path(reconciler.hook.__file__).resolve())


def launch_command(home: Path, project: DesiredProject, agent: DesiredAgent) -> str:
    """The command the agent's window runs: with orch's hooks where its driver reports."""
    if agent.kind != "claude":  # the one kind whose hooks orch wires so far
        return agent.command
    folder = agent_events.agent_dir(home, project.name, project.id, agent.name)
    words = claude.simple_words(agent.command)
    user = _user_settings(claude.user_settings(words), Path(agent.cwd)) if words is not None else None
    if user is None:  # runs as written: a stream left by an earlier launch must not look like its reports
        for name in ("events.jsonl", "claude-settings.json"):
            (folder / name).unlink(missing_ok=True)
        return agent.command
    private_dir(folder)
    agent_events.rotate(folder / "events.jsonl", agent_events.ROTATE_AT_START)
    events = private_file(folder / "events.jsonl")
    ours = claude.hook_settings(sys.executable, HOOK_SCRIPT, str(events), str(private_dir(home / "run")))
    settings = folder / "claude-settings.json"
    write_atomic(settings, json.dumps(claude.merge_settings(user, ours), indent=1))
    return claude.with_settings(agent.command, str(settings))


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
