"""`session_state.json` for the old monitors: written by apply, refreshed by passes, gone with destroy."""

from __future__ import annotations

import json
import stat
import subprocess
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Dict, List, Optional

from tests.conftest import toy_manifest


# The Tmux-Orchestrator fork's dataclasses, field for field: its loader calls SessionState(**data)
# and AgentState(**agent), so a missing or an extra key breaks every monitor built on it.
@dataclass
class AgentState:
    role: str
    window_index: int
    window_name: str
    worktree_path: str
    last_briefing_time: Optional[str] = None
    last_check_in_time: Optional[str] = None
    is_alive: bool = True
    is_exhausted: bool = False
    credit_reset_time: Optional[str] = None
    current_branch: Optional[str] = None
    commit_hash: Optional[str] = None


@dataclass
class SessionState:
    session_name: str
    project_path: str
    project_name: str
    implementation_spec_path: str
    created_at: str
    updated_at: str
    agents: Dict[str, AgentState]
    orchestrator_window: int = 0
    project_size: str = "medium"
    parent_branch: Optional[str] = None
    completion_status: str = "pending"
    completion_time: Optional[str] = None
    phases_completed: List[str] = None
    spec_path: Optional[str] = None


def load_like_the_old_monitor(path: Path) -> SessionState:
    data = json.loads(path.read_text())
    data["agents"] = {name: AgentState(**agent) for name, agent in data["agents"].items()}
    return SessionState(**data)


def state_file(home: Path) -> Path:
    found = list((home / "projects").glob("*/session_state.json"))
    assert len(found) == 1, found
    return found[0]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_apply_writes_a_file_the_old_monitor_loads(tmp_path, orch, tmux_socket, orch_home):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "start")
    manifest = toy_manifest(tmp_path, agents={"dev": "role: developer", "pm": "worktree: false"},
                            extra=f"  repo: {repo}\n")
    assert orch("apply", str(manifest)).returncode == 0, orch("plan", str(manifest)).stderr

    path = state_file(orch_home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    state = load_like_the_old_monitor(path)
    assert set(state.agents) == {"dev", "pm"}
    dev = state.agents["dev"]
    assert dev.role == "developer" and dev.is_alive and not dev.is_exhausted
    assert dev.window_name == "dev" and dev.window_index >= 0
    assert dev.current_branch == "orch/dev" and dev.commit_hash == git(repo, "rev-parse", "HEAD")[:8]
    assert Path(dev.worktree_path).is_dir()
    assert state.agents["pm"].worktree_path == "" and state.agents["pm"].current_branch is None
    assert state.parent_branch == "main" and state.project_name == "demo"
    assert state.session_name == orch.json("status")["projects"][0]["session"]
    assert set(json.loads(path.read_text())) <= {f.name for f in fields(SessionState)}


def test_a_pass_records_a_credit_hold_and_destroy_removes_the_file(tmp_path, orch, tmux_socket, orch_home):
    manifest = toy_manifest(tmp_path, agents={"dev": ""})
    assert orch("apply", str(manifest)).returncode == 0
    assert orch("credit", "hold", "demo/dev", "--until", "23:59").returncode == 0
    assert orch("reconcile", str(manifest)).returncode == 0
    path = state_file(orch_home)
    dev = load_like_the_old_monitor(path).agents["dev"]
    assert dev.is_exhausted and dev.credit_reset_time and dev.credit_reset_time.endswith(":59:00")

    assert orch("destroy", "demo", "--yes").returncode == 0
    assert not path.exists()
