"""`session_state.json` in each project folder, for the monitors written for the old scripts.

The shape is the Tmux-Orchestrator fork's `SessionStateManager`: it loads the file with
`SessionState(**data)` and each agent with `AgentState(**agent)`, so the document carries exactly
those dataclasses' fields, no more (an extra key would make their loader fail). Agents are keyed
by agent name, since two agents may share a role.

`document` is pure; `refresh` writes atomically (0600 in a 0700 folder), and only when something
a monitor reads has changed or the last write is older than REWRITE_S (so `updated_at` stays fresh
without a write on every watcher pass).
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler.home import private_dir, project_folder, write_atomic

FILE = "session_state.json"
REWRITE_S = 30.0

_last_written: dict[Path, tuple[str, float]] = {}  # path -> (content without updated_at, when written)


def _local(ts: float | None) -> str | None:
    """Local time without zone, as the old scripts wrote it (`datetime.now().isoformat()`)."""
    return None if ts is None else datetime.fromtimestamp(ts).isoformat(timespec="seconds")


def document(desired, created_at: float, project_path: str, panes: dict, holds: dict, last_checkins: dict,
             heads: dict, now: float) -> dict[str, Any]:
    """The file's content. `panes`: agent -> ObservedPane; `holds`: agent -> active CreditHold;
    `last_checkins`: agent -> when its last check-in was typed; `heads`: agent -> (branch, commit)."""
    worktrees = {w.agent: w.path for w in desired.git.worktrees} if desired.git is not None else {}
    agents = {}
    for agent in desired.agents:
        pane, hold = panes.get(agent.name), holds.get(agent.name)
        branch, commit = heads.get(agent.name, (None, None))
        agents[agent.name] = {
            "role": agent.role or agent.name,
            "window_index": pane.window_index if pane else -1,
            "window_name": pane.window_name if pane else agent.name,
            "worktree_path": worktrees.get(agent.name, ""),
            "last_briefing_time": None,
            "last_check_in_time": _local(last_checkins.get(agent.name)),
            "is_alive": bool(pane and not pane.dead),
            "is_exhausted": hold is not None,
            "credit_reset_time": _local(hold.until) if hold else None,
            "current_branch": branch,
            "commit_hash": commit,
        }
    return {
        "session_name": desired.session,
        "project_path": project_path,
        "project_name": desired.name,
        "implementation_spec_path": desired.manifest_path,
        "created_at": _local(created_at),
        "updated_at": _local(now),
        "agents": agents,
        "parent_branch": desired.git.upstream if desired.git is not None else None,
    }


def _head(path: str) -> tuple[str | None, str | None]:
    """(branch, short commit) of a worktree in one git process; (None, None) if it is not there."""
    if not Path(path).is_dir():
        return None, None
    result = subprocess.run(["git", "-C", path, "rev-parse", "HEAD", "--abbrev-ref", "HEAD"],
                            capture_output=True, text=True)
    lines = result.stdout.split()
    if result.returncode != 0 or len(lines) != 2:
        return None, None
    return (None if lines[1] == "HEAD" else lines[1]), lines[0][:8]


def refresh(home: Path, store, desired, observed, now: float | None = None) -> Path:
    """Write the project's file if a monitor would see a difference (or it is REWRITE_S old)."""
    from reconciler.plan.checkins import effective_hold
    from reconciler.state import checkins as checkin_records
    from reconciler.state import credit as credit_records
    now = time.time() if now is None else now
    record = store.project(desired.name)
    panes = {p.agent: p for p in observed.agent_panes(desired.name) if p.session_name == desired.session}
    holds = credit_records.credit_holds(store, desired.name)
    active = {a.name: h for a in desired.agents if (h := effective_hold(a.name, holds, desired.credit_shared, now))}
    last_checkins = checkin_records.last_checkins(store, desired.name)
    project_path = desired.git.repo if desired.git is not None else str(Path(desired.manifest_path).parent)

    def content(heads: dict) -> dict[str, Any]:
        return document(desired, record.created_at if record else now, project_path, panes, active,
                        last_checkins, heads, now)

    folder = project_folder(home, desired.name, desired.id)
    path = folder / FILE
    # Compared without git's part, so a pass that changes nothing runs no git process; a branch
    # or commit change shows within REWRITE_S.
    comparable = json.dumps({**content({}), "updated_at": None}, sort_keys=True)
    previous = _last_written.get(path)
    if previous and previous[0] == comparable and now - previous[1] < REWRITE_S and path.exists():
        return path
    heads = {w.agent: _head(w.path) for w in (desired.git.worktrees if desired.git is not None else ())}
    private_dir(folder)
    write_atomic(path, json.dumps(content(heads), indent=2) + "\n")
    _last_written[path] = (comparable, now)
    return path


def forget(home: Path, project: str, project_id: str) -> None:
    """Destroy: the file goes (a monitor must not see a destroyed project alive), and the project's
    folder with it when nothing else (a kept worktree) is left in it."""
    folder = project_folder(home, project, project_id)
    path = folder / FILE
    path.unlink(missing_ok=True)
    _last_written.pop(path, None)
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (a kept worktree) or already gone
