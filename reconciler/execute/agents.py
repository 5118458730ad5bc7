"""Carry out tmux actions: small, idempotent steps, each recorded as an event.

All window creations of one plan go to tmux as chained commands, as few as tmux's command
size allows (one process for ten windows, two for forty). Removals end the agent's whole process tree first. One failing action never stops
the others: each outcome is reported separately.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from reconciler import agent_events, drivers
from reconciler.execute import agent_hooks
from reconciler.execute.delivery import deliver
from reconciler.execute.lanes import Lanes
from reconciler.locks import delivery_lock
from reconciler.runtime.processes import terminate_tree
from reconciler.model.agents import (
    Action, AdoptSession, AdoptWindow, CreateSession, CreateWindow, DeferRestart, DeliverBrief, DesiredAgent,
    DesiredProject, KillWindow, Observed, ObservedPane, PendingReplace, Plan, RenameSession, ReplaceAgent, RestartAgent,
)
from reconciler.state.store import Store
from reconciler.runtime.tmux import Command, Tmux, TmuxError, batches, escape_format

WINDOW_WIDTH, WINDOW_HEIGHT = "220", "50"


DONE, HELD, SKIPPED, FAILED = "done", "held", "skipped", "failed"


@dataclass(frozen=True)
class Outcome:
    """What carrying out one action came to: done; held (it waits for something: a lane, a backoff,
    a person to resolve a conflict); skipped (nothing to do, or left alone on purpose); or failed."""

    action: Action
    status: str  # DONE | HELD | SKIPPED | FAILED
    message: str

    @property
    def ok(self) -> bool:
        """Not failed: the `ok` of the outcome documents (a contract), and the CLI's exit status."""
        return self.status != FAILED


def launch_args(home: Path, project: DesiredProject, agent: DesiredAgent, resume: bool = False) -> list[str]:
    """-n/-c/-e options and the command for new-session, new-window and respawn-pane (with the
    agent's hooks into orch where its driver has them; `resume`: its last conversation)."""
    from reconciler.execute.agent_hooks import launch_command

    args = ["-c", escape_format(agent.cwd)]
    for key, value in project.launch_env(agent):
        args += ["-e", f"{key}={value}"]
    return args + [launch_command(home, project, agent, resume)]


def mark_agent_pane(project: DesiredProject, agent: DesiredAgent, target: str) -> list[Command]:
    """Ownership marks on the agent's own pane (a pane a user splits off carries none): the
    project's name and id (another ORCH_HOME may have a project of the same name on this server),
    remain-on-exit on it, so its exit status is kept, and its wake-up hook. `target`: the pane,
    or `=session:` right after creating its window (then the current pane of the current window)."""
    return [
        ["set-option", "-p", "-t", target, "remain-on-exit", "on"],
        wake_hook(target),
        ["set-option", "-p", "-t", target, "@orch_project", project.name],
        ["set-option", "-p", "-t", target, "@orch_project_id", project.id],
        ["set-option", "-p", "-t", target, "@orch_agent", agent.name],
        ["set-option", "-p", "-t", target, "@orch_spec", agent.spec_hash],
    ]


def mark_session(project: DesiredProject, home: Path, target: str) -> list[Command]:
    """Ownership marks on orch's session: the project's name and id, and which ORCH_HOME made it (a
    home that lost its store reads its id back only from its own sessions)."""
    return [
        ["set-option", "-t", target, "@orch_session_project", project.name],
        ["set-option", "-t", target, "@orch_session_project_id", project.id],
        ["set-option", "-t", target, "@orch_session_home", home_mark(home)],
    ]


def adopt_marks(project: DesiredProject, observed: Observed, home: Path) -> list[Command]:
    """The id marks an older orch did not set, on the panes and session it made for `project` in the
    project's own session (`observed` as `Observed.owned` gives it): nothing when all are marked."""
    commands: list[Command] = []
    sessions = set()
    for pane in observed.agent_panes(project.name):
        if not pane.project_id:
            commands.append(["set-option", "-p", "-t", pane.pane_id, "@orch_project_id", project.id])
        if pane.session_project == project.name and not pane.session_project_id and pane.session_id not in sessions:
            sessions.add(pane.session_id)
            commands += mark_session(project, home, pane.session_id)
    return commands


def home_mark(home: Path) -> str:
    import hashlib

    return hashlib.sha256(str(home).encode()).hexdigest()[:12]


BRIEF_WAIT_S = 60.0  # for a fresh agent's prompt; well past delivery.STABLE_S, which agents without a known prompt need


class TmuxExecutor:
    """`lanes` (the watcher's): briefs go to the agents' delivery lanes instead of being awaited here."""

    def __init__(self, tmux: Tmux, store: Store, home: Path, lanes: Lanes | None = None):
        self.tmux = tmux
        self.store = store
        self.home = home
        self.lanes = lanes

    def execute(self, plan: Plan, desired: DesiredProject | None) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for action in plan.actions:  # first, so that new windows land in the session's right name
            if isinstance(action, RenameSession):
                outcomes.append(self._rename(action))
        creations = [a for a in plan.actions if isinstance(a, (CreateSession, CreateWindow))]
        if creations and desired is not None:
            outcomes += self._create(creations, desired)
        for action in plan.actions:
            if isinstance(action, (CreateSession, CreateWindow, RenameSession)):
                continue
            try:
                outcomes.append(self._one(action, desired))
            except TmuxError as err:
                outcomes.append(Outcome(action, FAILED, str(err)))
            if not outcomes[-1].ok:
                self._event(action, "failed", f"{action.target}: {outcomes[-1].message}")
        return outcomes

    # -- creation, batched ------------------------------------------------------------------

    def _create(self, creations: list[CreateSession | CreateWindow], desired: DesiredProject) -> list[Outcome]:
        """Each window's creation and marks as one group; the groups chained into as few tmux
        processes as tmux's command size allows (the session's own, first, with the first window)."""
        session = desired.session
        target = f"={session}:"
        session_action = next((a for a in creations if isinstance(a, CreateSession)), None)
        windows = [a for a in creations if isinstance(a, CreateWindow)]
        groups: list[tuple[list[Action], list[Command]]] = []
        for index, action in enumerate(windows):
            if index == 0 and session_action is not None:
                owners: list[Action] = [session_action, action]
                commands: list[Command] = [
                    ["new-session", "-d", "-s", session, "-x", WINDOW_WIDTH, "-y", WINDOW_HEIGHT,
                     "-n", action.agent.name, *launch_args(self.home, desired, action.agent)],
                    *mark_session(desired, self.home, target)]
            else:
                owners, commands = [action], [["new-window", "-t", target, "-n", action.agent.name,
                                               *launch_args(self.home, desired, action.agent)]]
            groups.append((owners, commands + mark_agent_pane(desired, action.agent, target)))
        outcomes = []
        for batch in batches([commands for _, commands in groups]):
            owners = [action for index in batch for action in groups[index][0]]
            now = time.time()
            try:
                self.tmux.run(*(command for index in batch for command in groups[index][1]))
            except TmuxError as err:
                outcomes += [Outcome(action, FAILED, str(err)) for action in owners]
                continue
            outcomes += [self._created(action, desired, now) for action in owners]
        return outcomes

    def _created(self, action: Action, desired: DesiredProject, now: float) -> Outcome:
        if isinstance(action, CreateWindow):
            self.store.update_agent(desired.name, action.agent.name, started_at=now, crash_streak=0,
                                    briefed_pane=None, briefed_pid=None, spec=spec_json(action.agent))
            self._event(action, "agent.created", f"created window {action.agent.name}",
                        command=action.agent.command, cwd=action.agent.cwd)
        else:
            self._event(action, "session.created", f"created session {desired.session}")
        return Outcome(action, DONE, "created")

    # -- everything else, one by one ----------------------------------------------------------

    def _one(self, action: Action, desired: DesiredProject | None) -> Outcome:
        if isinstance(action, RestartAgent):
            assert desired is not None
            pid = self._respawn(action.pane, desired, action.agent, resume=not action.fresh)
            facts = self.store.agent_facts(action.project).get(action.agent.name)
            # A resumed conversation holds its brief already: the new process counts as briefed.
            resumed = pid is not None and agent_hooks.resumed(
                agent_events.agent_dir(self.home, desired.name, desired.id, action.agent.name))
            briefed = {"briefed_pane": action.pane.pane_id, "briefed_pid": pid} if resumed else {}
            self.store.update_agent(
                action.project, action.agent.name, started_at=time.time(), crash_streak=action.crash_streak,
                restarts=(facts.restarts if facts else 0) + 1, last_exit_status=action.pane.dead_status,
                seen_dead_at=None, seen_dead_pid=None, **briefed,
            )
            if action.why_fresh:
                self._event(action, "agent.resume_abandoned",
                            f"{action.agent.name}: {action.why_fresh}; starting a fresh conversation")
            self._event(action, "agent.restarted", f"restarted {action.agent.name} ({action.reason})"
                        + ("; conversation resumed" if resumed else ""),
                        exit_status=action.pane.dead_status, resumed=resumed)
            return Outcome(action, DONE, "restarted")
        if isinstance(action, ReplaceAgent):
            assert desired is not None
            self._respawn(action.pane, desired, action.agent)
            self.store.update_agent(action.project, action.agent.name, started_at=time.time(), crash_streak=0,
                                    spec=spec_json(action.agent))
            self._event(action, "agent.replaced", f"replaced {action.agent.name}: {action.reason}")
            return Outcome(action, DONE, "replaced")
        if isinstance(action, KillWindow):
            self._terminate(action.pane)
            # The agent's pane only: a pane a user split off in that window stays (the window goes
            # with its last pane).
            self.tmux.run(["kill-pane", "-t", action.pane.pane_id], check=False)
            if desired is None or desired.agent(action.agent) is None:
                self.store.forget_agent(action.project, action.agent)
            self._event(action, "agent.removed", f"killed window {action.agent} ({action.why})")
            return Outcome(action, DONE, "killed")
        if isinstance(action, DeliverBrief):
            if self.lanes is None:
                return self._brief(action, desired)
            if self.lanes.start(action.project, action.agent.name, lambda: [self._brief(action, desired)]):
                return Outcome(action, HELD, "pending: brief handed to the agent's delivery lane")
            return Outcome(action, HELD, "pending: a delivery to this agent is under way")
        if isinstance(action, DeferRestart):
            return Outcome(action, HELD, f"waiting {max(0.0, action.until - time.time()):.1f}s")
        if isinstance(action, PendingReplace):
            return Outcome(action, HELD, f"pending: {action.reason}")
        if isinstance(action, AdoptSession):
            assert desired is not None
            self.tmux.run(*mark_session(desired, self.home, action.session_id))
            self._event(action, "session.adopted", f"adopted session {action.session}")
            return Outcome(action, DONE, "adopted")
        if isinstance(action, AdoptWindow):
            assert desired is not None
            return self._adopt(action, desired)
        raise TypeError(f"no executor for {type(action).__name__}")

    def _adopt(self, action: AdoptWindow, desired: DesiredProject) -> Outcome:
        """Mark the running pane as the agent's; its process counts as briefed (it has been at work)."""
        pane, agent = action.pane, action.agent
        rename = [["rename-window", "-t", pane.window_id, agent.name]] if pane.window_name != agent.name else []
        self.tmux.run(*rename, *mark_agent_pane(desired, agent, pane.pane_id))
        self.store.update_agent(action.project, agent.name, started_at=time.time(), crash_streak=0,
                                briefed_pane=pane.pane_id, briefed_pid=pane.pane_pid, spec=spec_json(agent))
        self._event(action, "agent.adopted", f"adopted window {pane.window_name!r} as {agent.name} "
                    f"(pid {pane.pane_pid} kept)")
        return Outcome(action, DONE, "adopted")

    def _rename(self, action: RenameSession) -> Outcome:
        result = self.tmux.run(["rename-session", "-t", action.session_id, action.new], check=False)
        if result.returncode != 0:
            return Outcome(action, FAILED, result.stderr.strip())
        self._event(action, "session.renamed", f"renamed session {action.old} back to {action.new}")
        return Outcome(action, DONE, "renamed")

    def _respawn(self, pane: ObservedPane, desired: DesiredProject, agent: DesiredAgent,
                 resume: bool = False) -> int | None:
        """Start the agent anew in its pane; the new process's pid."""
        self._terminate(pane)
        result = self.tmux.run(
            ["respawn-pane", "-k", "-t", pane.pane_id, *launch_args(self.home, desired, agent, resume)],
            *mark_agent_pane(desired, agent, pane.pane_id),
            ["display-message", "-p", "-t", pane.pane_id, "#{pane_pid}"],
        )
        last = result.stdout.strip().rsplit("\n", 1)[-1]
        return int(last) if last.isdigit() else None

    def _terminate(self, pane: ObservedPane) -> None:
        if pane.pane_pid:
            terminate_tree(pane.pane_pid, pane.pane_tty)

    def _brief(self, action: DeliverBrief, desired: DesiredProject | None) -> Outcome:
        def briefed_meanwhile(screen) -> str | None:
            """Under the agent's delivery lock: did another process brief this very process already?"""
            facts = self.store.agent_facts(action.project).get(action.agent.name)
            if facts and (facts.briefed_pane, facts.briefed_pid) == (action.pane.pane_id, action.pane.pane_pid):
                return "the brief was delivered meanwhile"
            return None

        from reconciler.agent_events import receipts_stream

        receipts = receipts_stream(self.home, desired.name, desired.id, action.agent.name,
                                   action.agent.kind) if desired is not None else None
        result = deliver(self.tmux, action.pane.pane_id, action.agent.brief or "",
                         lock_file=delivery_lock(self.home, action.project, action.agent.name),
                         ready_timeout=BRIEF_WAIT_S, guard=briefed_meanwhile, pid=action.pane.pane_pid,
                         receipts=receipts, dialogs=drivers.get(action.agent.kind).dialogs)
        if result.held:
            return Outcome(action, HELD, result.reason)
        if result.ok:
            self.store.update_agent(action.project, action.agent.name,
                                    briefed_pane=action.pane.pane_id, briefed_pid=action.pane.pane_pid)
            self._event(action, "brief.delivered", f"delivered the brief to {action.agent.name}",
                        confirmed_by=result.confirmed_by)
            return Outcome(action, DONE, "brief delivered")
        return Outcome(action, FAILED, f"brief not delivered: {result.reason}")

    def _event(self, action: Action, kind: str, message: str, **data) -> None:
        agent = getattr(action, "agent", None)
        name = agent.name if isinstance(agent, DesiredAgent) else agent
        self.store.record_event(kind, message, project=getattr(action, "project", None), agent=name, **data)


def wake_hook(pane_target: str) -> Command:
    """tmux itself wakes the watcher when an agent dies (a tmux command, no shell involved): the
    fast path only. Set on the pane, where tmux 3.3a honours it (a session's hook misses the panes
    of windows added later, tmux issue 2882); the watcher also checks every agent's process."""
    from reconciler.runtime.wake import TMUX_CHANNEL

    return ["set-hook", "-p", "-t", pane_target, "pane-died", f"wait-for -S {TMUX_CHANNEL}"]


def spec_json(agent: DesiredAgent) -> str:
    return json.dumps(dict(agent.spec), sort_keys=True)
