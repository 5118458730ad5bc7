"""An agent's own event stream: what its hooks reported through `orch hook` (reconciler/hook.py).

One JSON object a line, `{"event", "time", "data"}`, appended by the hook to
`ORCH_HOME/projects/<project>-<id>/agents/<agent>/events.jsonl` (0600, folder 0700). Readers
take whole lines from a byte offset, so a line still being written is read next time, and a
line that is not JSON is skipped. The stream is kept short: past a size it is moved aside to
`events.1.jsonl` (replacing the one before), at the agent's start and by the watcher's passes;
the hook then starts a new file (it opens the path on every event).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

TAIL_BYTES = 256 << 10  # enough for the last events of any agent; older ones decide nothing
ROTATE_AT_START = 1 << 20
ROTATE_AT = 8 << 20


def agent_dir(home: Path, project: str, project_id: str, agent: str) -> Path:
    from reconciler.home import project_folder

    return project_folder(home, project, project_id) / "agents" / agent


def events_file(home: Path, project: str, project_id: str, agent: str) -> Path:
    return agent_dir(home, project, project_id, agent) / "events.jsonl"


def end_offset(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def rotate(path: Path, limit: int) -> bool:
    """Move the stream aside when it is larger than `limit`; whether it was."""
    if end_offset(path) <= limit:
        return False
    try:
        os.replace(path, path.with_name("events.1.jsonl"))
    except OSError:
        return False
    return True


def read_events(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """The whole lines from byte `offset` on, parsed, and the offset after the last whole line."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    events = []
    for line in data[:end].splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            events.append(event)
    return events, offset + end


def recent_events(path: Path) -> list[dict]:
    """The last events of the stream (its last TAIL_BYTES), oldest first."""
    size = end_offset(path)
    start = max(0, size - TAIL_BYTES)
    events, _ = read_events(path, start)  # a line cut at `start` is no JSON: skipped
    return events


def receipts_stream(home: Path, project: str, project_id: str, agent: str, kind: str) -> Path | None:
    """The agent's event stream where its kind reports its own submissions (Claude Code), else None."""
    from reconciler import drivers

    return events_file(home, project, project_id, agent) if drivers.get(kind).reports else None


def agents_in_turn(home: Path, project, facts, panes, now: float) -> frozenset[str]:
    """The live agents of `project` (a DesiredProject) that report a turn under way: working or
    blocked (reconciler/agent_state.py); a starting one is waited for by the delivery itself.
    `facts`: AgentFacts by name; `panes`: ObservedPane by agent."""
    from reconciler.agent_state import agent_state

    in_turn = set()
    for agent in project.agents:
        pane = panes.get(agent.name)
        stream = receipts_stream(home, project.name, project.id, agent.name, agent.kind)
        if stream is None or pane is None or pane.dead:
            continue
        fact = facts.get(agent.name)
        state = agent_state(recent_events(stream), True, fact.started_at if fact else None, True, now)
        if state.state in ("working", "blocked"):
            in_turn.add(agent.name)
    return frozenset(in_turn)
