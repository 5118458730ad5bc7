"""One observation of tmux costs a constant number of tmux processes, not one per agent.

Counts, never times: every tmux process a converged `plan` starts is counted, in-process (by
wrapping `subprocess.Popen._execute_child`, which every subprocess call goes through, and
`reconciler.runtime.tmux.Tmux.run`) and as a whole `orch plan` process (through a `tmux` on PATH that
logs each start and execs the real one). The count must be the same for a 1-agent project
on a 1-pane server as for a 10-agent project on a server holding 3 projects x 10 agents.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from reconciler.context import Context

from reconciler.project import plan_for
from reconciler.manifest.loader import load_manifest
from reconciler.runtime.tmux import Tmux
from tests.conftest import ORCH, tmux, write_manifest


# DESIGN.md section 1: one observation is one `list-panes -a -F` call, "or as few calls as
# possible". A little room for a fixed extra call; none for one call per agent or pane.
MAX_TMUX_PROCESSES_PER_PLAN = 2


def sleeper_manifest(folder: Path, project: str, agents: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f"    - name: a{i}\n      command: sleep 600\n" for i in range(agents))
    return write_manifest(folder, f"apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: {project}\n"
                                  f"spec:\n  agents:\n{body}")


def is_tmux(args: Any) -> bool:
    if isinstance(args, (str, bytes, os.PathLike)):
        words = os.fsdecode(args).split()
    else:
        words = [os.fsdecode(a) for a in args]
    return bool(words) and os.path.basename(words[0]) == "tmux"


class Counter:
    def __init__(self) -> None:
        self.processes: list[list[str]] = []
        self.run_calls = 0


@pytest.fixture
def counter(monkeypatch: pytest.MonkeyPatch) -> Counter:
    counter = Counter()
    original_exec = subprocess.Popen._execute_child  # type: ignore[attr-defined]
    original_run = Tmux.run

    def counting_exec(self: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> Any:
        if is_tmux(args):
            counter.processes.append([os.fsdecode(a) for a in args] if not isinstance(args, (str, bytes))
                                     else [os.fsdecode(args)])
        return original_exec(self, args, *rest, **kwargs)

    def counting_run(self: Tmux, *args: Any, **kwargs: Any) -> Any:
        counter.run_calls += 1
        return original_run(self, *args, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "_execute_child", counting_exec)
    monkeypatch.setattr(Tmux, "run", counting_run)
    return counter


def apply(manifest: Path) -> None:
    result = subprocess.run([ORCH, "apply", str(manifest)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def count_plan_in_process(counter: Counter, orch_home: Path, socket: str, manifest: Path) -> int:
    """tmux processes started by one converged plan, counted inside this process."""
    ctx = Context(home=orch_home, socket=socket)
    loaded = load_manifest(str(manifest))
    before = len(counter.processes)
    _, plan = plan_for(ctx, loaded)
    spawned = counter.processes[before:]
    store = getattr(ctx, "_store", None)
    if store is not None and hasattr(store, "close"):
        store.close()
    assert not plan.actions, f"{manifest} should be converged, plan has {plan.actions}"
    return len(spawned)


def count_plan_whole_process(tmp_path: Path, manifest: Path, label: str) -> list[str]:
    """tmux processes started by `orch plan` as a user runs it, through a logging tmux shim."""
    shim_dir = tmp_path / f"shim-{label}"
    shim_dir.mkdir()
    log = shim_dir / "tmux.log"
    real = shutil.which("tmux")
    shim = shim_dir / "tmux"
    shim.write_text(f"#!/bin/sh\necho \"$*\" >> '{log}'\nexec '{real}' \"$@\"\n")
    shim.chmod(0o755)
    env = dict(os.environ, PATH=f"{shim_dir}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run([ORCH, "plan", str(manifest), "--detailed-exitcode"], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, f"plan of a converged project must say nothing to do: {result.stdout}{result.stderr}"
    return log.read_text().splitlines() if log.exists() else []


def test_a_converged_plan_spawns_as_many_tmux_processes_for_1_agent_as_for_10_of_30(
        tmp_path: Path, tmux_socket: str, orch_home: Path, counter: Counter) -> None:
    solo = sleeper_manifest(tmp_path / "solo", "solo", agents=1)
    apply(solo)
    assert len(tmux(tmux_socket, "list-panes", "-a").splitlines()) == 1

    small_in = count_plan_in_process(counter, orch_home, tmux_socket, solo)
    small_whole = count_plan_whole_process(tmp_path, solo, "small")

    big = [sleeper_manifest(tmp_path / f"p{i}", f"bench-p{i}", agents=10) for i in range(3)]
    for manifest in big:
        apply(manifest)
    assert len(tmux(tmux_socket, "list-panes", "-a").splitlines()) == 31

    big_in = count_plan_in_process(counter, orch_home, tmux_socket, big[0])
    solo_again_in = count_plan_in_process(counter, orch_home, tmux_socket, solo)
    big_whole = count_plan_whole_process(tmp_path, big[0], "big")

    assert 1 <= small_in <= MAX_TMUX_PROCESSES_PER_PLAN, counter.processes
    assert big_in == small_in == solo_again_in, (
        f"tmux processes per plan grew with the agents: 1 agent {small_in}, 10 agents of 30 {big_in} "
        f"({counter.run_calls} Tmux.run calls in all):\n" + "\n".join(" ".join(p[:6]) for p in counter.processes))
    assert 1 <= len(small_whole) <= MAX_TMUX_PROCESSES_PER_PLAN, small_whole
    assert len(big_whole) == len(small_whole), (
        f"`orch plan` started {len(small_whole)} tmux processes for 1 agent but {len(big_whole)} "
        f"for 10 of 30:\n" + "\n".join(big_whole))
