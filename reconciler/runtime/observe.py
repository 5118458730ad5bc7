"""Observe every pane of a tmux server with one `list-panes -a -F` call (a fact: format + parser).

An agent's pane also counts as dead when its process is gone or a zombie, whatever tmux says
(see reconciler.runtime.liveness).
"""

from __future__ import annotations

from reconciler.model.agents import Observed, ObservedPane
from reconciler.runtime.liveness import process_dead
from reconciler.runtime.tmux import Tmux

# Free text (session and window names) goes last so a stray tab cannot shift the other fields.
FIELDS = (
    "session_id", "@orch_session_project", "window_id", "window_index", "pane_id", "pane_pid",
    "pane_tty", "pane_dead", "pane_dead_status", "pane_dead_signal", "pane_dead_time", "pane_in_mode",
    "pid", "@orch_project", "@orch_agent", "@orch_spec", "@orch_project_id", "@orch_session_project_id",
    "@orch_session_home", "session_name", "window_name",
)
FORMAT = "\t".join("#{" + name + "}" for name in FIELDS)


def parse_panes(output: str, gone=process_dead) -> tuple[ObservedPane, ...]:
    """The panes in `output`; `gone(pid)` says whether an agent pane's process has ended (asked only
    where the tmux server's own process is visible, i.e. from the same pid namespace)."""
    panes = []
    server_visible: dict[str, bool] = {}
    for line in output.splitlines():
        parts = line.split("\t", len(FIELDS) - 1)
        if len(parts) != len(FIELDS):
            continue
        (session_id, session_project, window_id, window_index, pane_id, pane_pid, pane_tty, dead, dead_status,
         dead_signal, dead_time, in_mode, server_pid, project, agent, spec, project_id, session_project_id,
         session_home, session_name, window_name) = parts
        if server_pid not in server_visible:
            server_visible[server_pid] = server_pid.isdigit() and not gone(int(server_pid))
        panes.append(
            ObservedPane(
                session_id=session_id,
                session_name=session_name,
                session_project=session_project,
                window_id=window_id,
                window_index=int(window_index or 0),
                window_name=window_name,
                pane_id=pane_id,
                pane_pid=int(pane_pid or 0),
                pane_tty=pane_tty,
                dead=dead == "1" or bool(
                    project and agent and server_visible[server_pid] and gone(int(pane_pid or 0))),
                dead_status=_exit_status(dead_status, dead_signal) if dead == "1" else None,
                dead_time=float(dead_time) if dead == "1" and dead_time.isdigit() else None,
                in_mode=in_mode == "1",
                project=project,
                agent=agent,
                spec_hash=spec,
                project_id=project_id,
                session_project_id=session_project_id,
                session_home=session_home,
            )
        )
    return tuple(panes)


def observe(tmux: Tmux) -> Observed:
    """All panes of the server; an absent server is an empty observation, not an error."""
    result = tmux.run(["list-panes", "-a", "-F", FORMAT], check=False)
    if result.returncode != 0:
        if not tmux.server_running(result):
            return Observed(panes=(), server_running=False)
        from reconciler.runtime.tmux import TmuxError

        raise TmuxError(f"tmux list-panes failed: {result.stderr.strip()}")
    return Observed(panes=parse_panes(result.stdout))


def _exit_status(status: str, signal: str) -> int | None:
    """The exit status, or 128 + the signal number for a process killed by a signal (as shells do)."""
    if status.lstrip("-").isdigit():
        return int(status)
    if signal.isdigit():
        return 128 + int(signal)
    return None


def pane_activity(tmux: Tmux) -> dict[str, float]:
    """pane id -> the last moment its window showed output (`window_activity`), for the board.

    A separate call, not a field of `observe`, so the watcher's hot observation stays as it is."""
    result = tmux.run(["list-panes", "-a", "-F", "#{pane_id}\t#{window_activity}"], check=False)
    activity = {}
    for line in result.stdout.splitlines() if result.returncode == 0 else ():
        pane_id, _, moment = line.partition("\t")
        if moment.isdigit():
            activity[pane_id] = float(moment)
    return activity
