"""The runtime seam over tmux: a slot is a pane, an instance its process, a session a session.

Built from today's tmux code, unchanged: one `list-panes -a -F` observation, windows created
in as few chained tmux processes as tmux's command size allows, process trees ended from
/proc before a pane goes, pastes through a private buffer. A death is seen from /proc (a gone
or zombie process, or another one under its pid), which tmux 3.3a's hooks do not always report.

It sits in execute/ for now because it reuses the executors' launch arguments, marks and paste;
once those move behind the seam (the follow-up that makes it the only door), it moves to runtime/.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Sequence

from reconciler.execute.delivery import _paste, snapshot
from reconciler.runtime.processes import terminate_tree
from reconciler.execute.agents import WINDOW_HEIGHT, WINDOW_WIDTH, launch_args, mark_agent_pane, mark_session
from reconciler.model.agents import DesiredAgent, DesiredProject, ObservedPane
from reconciler.runtime.liveness import process_start
from reconciler.plan.screen import Screen, parse_capture
from reconciler.runtime.observe import observe
from reconciler.runtime.seam import Observation, Session, Slot, StartSpec
from reconciler.runtime.tmux import Command, Tmux, TmuxError, batches

POLL_S = 0.05
SCREEN_STATE = "#{pane_id}\t#{pane_dead}\t#{pane_in_mode}\t#{cursor_x}\t#{cursor_y}\t#{pane_pid}"


def slot_of(pane: ObservedPane) -> Slot:
    return Slot(project=pane.project, project_id=pane.project_id, agent=pane.agent, slot_id=pane.pane_id,
                instance_id=str(pane.pane_pid), alive=not pane.dead, exit_status=pane.dead_status,
                spec_hash=pane.spec_hash, session=pane.session_name, name=pane.window_name,
                died_at=pane.dead_time, in_mode=pane.in_mode)


def desired_of(spec: StartSpec) -> tuple[DesiredProject, DesiredAgent]:
    """The spec as the desired records today's tmux commands are built from."""
    agent = DesiredAgent(name=spec.agent, role=None, command=spec.command, cwd=spec.cwd, env=spec.env,
                         brief=None, spec_hash=spec.spec_hash, spec=())
    project = DesiredProject(name=spec.project, id=spec.project_id, session=spec.session, manifest_path="",
                             agents=(agent,), orch_env=())
    return project, agent


class TmuxRuntime:
    """`home`: the ORCH_HOME whose mark goes on the sessions this runtime makes."""

    def __init__(self, tmux: Tmux, home: Path):
        self.tmux = tmux
        self.home = home

    def observe(self) -> Observation:
        observed = observe(self.tmux)
        sessions = {p.session_id: Session(p.session_name, p.session_id, p.session_project, p.session_project_id,
                                          p.session_home) for p in observed.panes}
        return Observation(tuple(slot_of(p) for p in observed.panes), tuple(sessions.values()),
                           observed.server_running)

    def start(self, specs: Sequence[StartSpec]) -> list[str | None]:
        """Each window and its marks one group; the groups chained into as few tmux processes as
        fit, a missing session made by its first window."""
        sessions = {s.name for s in self.observe().sessions}
        groups: list[list[Command]] = []
        for spec in specs:
            project, agent = desired_of(spec)
            target = f"={spec.session}:"
            if spec.session in sessions:
                commands = [["new-window", "-t", target, "-n", agent.name, *launch_args(self.home, project, agent)]]
            else:
                sessions.add(spec.session)
                commands = [["new-session", "-d", "-s", spec.session, "-x", WINDOW_WIDTH, "-y", WINDOW_HEIGHT,
                             "-n", agent.name, *launch_args(self.home, project, agent)],
                            *mark_session(project, self.home, target)]
            groups.append(commands + mark_agent_pane(project, agent, target))
        results: list[str | None] = [None] * len(specs)
        for batch in batches(groups):
            try:
                self.tmux.run(*(command for index in batch for command in groups[index]))
            except TmuxError as err:
                for index in batch:
                    results[index] = str(err)
        return results

    def restart(self, slot_id: str, spec: StartSpec) -> str | None:
        self._end_trees([slot_id])
        project, agent = desired_of(spec)
        result = self.tmux.run(["respawn-pane", "-k", "-t", slot_id, *launch_args(self.home, project, agent)],
                               *mark_agent_pane(project, agent, slot_id), check=False)
        return None if result.returncode == 0 else result.stderr.strip()

    def stop(self, slot_ids: Sequence[str]) -> None:
        """The agent's pane only: a pane a person split off stays (the window goes with its last pane)."""
        if not slot_ids:
            return
        self._end_trees(slot_ids)
        for slot_id in slot_ids:  # one by one: a pane already gone must not stop the others in a chain
            self.tmux.run(["kill-pane", "-t", slot_id], check=False)

    def claim(self, slot_id: str, spec: StartSpec) -> str | None:
        project, agent = desired_of(spec)
        result = self.tmux.run(["rename-window", "-t", slot_id, agent.name],
                               *mark_agent_pane(project, agent, slot_id), check=False)
        return None if result.returncode == 0 else result.stderr.strip()

    def rename(self, session_id: str, name: str) -> str | None:
        result = self.tmux.run(["rename-session", "-t", session_id, name], check=False)
        return None if result.returncode == 0 else result.stderr.strip()

    def capture(self, slot_ids: Sequence[str]) -> dict[str, Screen]:
        """Each pane's state line (under a separator no screen can forge) and its screen, all in one
        tmux process (more only past tmux's command size). A pane gone meanwhile ends its chain,
        so the panes after it are asked again one by one."""
        separator = "orch-screen-" + secrets.token_hex(8)
        groups = [[["display-message", "-p", "-t", slot_id, f"{separator}\t{SCREEN_STATE}"],
                   ["capture-pane", "-p", "-e", "-t", slot_id]] for slot_id in slot_ids]
        screens: dict[str, Screen] = {}
        wanted = set(slot_ids)
        for batch in batches(groups):
            result = self.tmux.run(*(command for index in batch for command in groups[index]), check=False)
            screens.update((pane_id, screen) for pane_id, screen in _parse_screens(result.stdout, separator).items()
                           if pane_id in wanted)  # tmux 3.3a expands an unknown pane's header empty
            if result.returncode != 0:
                for index in batch:
                    slot_id = slot_ids[index]
                    if slot_id not in screens:
                        screen = snapshot(self.tmux, slot_id)
                        if screen is not None:
                            screens[slot_id] = screen
        return screens

    def scrollback(self, slot_id: str, lines: int | None = None) -> list[str] | None:
        """Wrapped lines joined; `lines` None: the whole history."""
        start = "-" if lines is None else f"-{max(lines, 1)}"
        result = self.tmux.run(["capture-pane", "-p", "-J", "-S", start, "-E", "-", "-t", slot_id], check=False)
        return result.stdout.rstrip("\n").split("\n") if result.returncode == 0 else None

    def send(self, slot_id: str, *, paste: str = "", keys: Sequence[str] = (), leave_mode: bool = False) -> str | None:
        if leave_mode:  # `cancel` fails harmlessly outside copy mode
            self.tmux.run(["send-keys", "-X", "-t", slot_id, "cancel"], check=False)
        if paste:
            failed = _paste(self.tmux, slot_id, paste)
            if failed:
                return failed
        if keys:
            result = self.tmux.run(["send-keys", "-t", slot_id, *keys], check=False)
            if result.returncode != 0:
                return f"tmux could not send keys: {result.stderr.strip()}"
        return None

    def wait(self, instance_ids: Sequence[str], timeout: float) -> list[str]:
        """Polls /proc (no tmux process): an instance whose process is gone, a zombie, or another
        process under its pid has ended."""
        started = {iid: process_start(int(iid)) if iid.isdigit() else None for iid in instance_ids}
        deadline = time.monotonic() + timeout
        while True:
            ended = [iid for iid, start in started.items() if start is None or process_start(int(iid)) != start]
            if ended or time.monotonic() >= deadline:
                return ended
            time.sleep(POLL_S)

    def _end_trees(self, slot_ids: Sequence[str]) -> None:
        """Found from each pane's pid and terminal before the pane goes (one tmux process for all)."""
        wanted = set(slot_ids)
        result = self.tmux.run(["list-panes", "-a", "-F", "#{pane_id}\t#{pane_pid}\t#{pane_tty}"], check=False)
        for line in result.stdout.splitlines() if result.returncode == 0 else ():
            pane_id, pid, tty = (line.split("\t") + ["", ""])[:3]
            if pane_id in wanted and pid.isdigit():
                terminate_tree(int(pid), tty)


def _parse_screens(output: str, separator: str) -> dict[str, Screen]:
    screens = {}
    for chunk in output.split(separator + "\t")[1:]:
        head, _, body = chunk.partition("\n")
        pane_id, dead, in_mode, cursor_x, cursor_y, pid = (head.split("\t") + ["0"] * 6)[:6]
        screens[pane_id] = parse_capture(body, int(cursor_x or 0), int(cursor_y or 0), dead == "1", in_mode == "1",
                                         int(pid or 0))
    return screens
