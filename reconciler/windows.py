"""Agent windows of one project: observe them, plan and execute until tmux matches, notice deaths.

`converge_windows` repeats observe/plan/execute a few times, because creating a window produces a
fresh agent process whose brief is only plannable once the new pane can be observed.
"""

from __future__ import annotations

import json
import time
from typing import Callable

from reconciler.context import Context, PassResult
from reconciler.errors import UserError
from reconciler.execute.lanes import Lanes
from reconciler.model.agents import DeferRestart, DeliverBrief, DesiredProject, Observed, PendingReplace, Plan
from reconciler.plan.agents import plan_project
from reconciler.runtime.observe import observe
from reconciler.runtime.tmux import Tmux
from reconciler.state.store import Store

MAX_PASSES = 4
WAIT_FOR_BACKOFF_S = 10.0


def explain_changes(store: Store, desired: DesiredProject,
                    show_sensitive: bool = False) -> Callable[[str], tuple[str, ...]]:
    """Say which fields of an agent's spec changed since its window was launched (deepdiff). Env
    values may be secrets: only that they changed, unless `show_sensitive` (never in the audit log)."""
    facts = store.agent_facts(desired.name)

    def explain(name: str) -> tuple[str, ...]:
        agent = desired.agent(name)
        old = facts.get(name)
        if agent is None or old is None or not old.spec:
            return ("agent spec changed",)
        from deepdiff import DeepDiff  # lazy: ~60 ms of import, only when a spec changed

        before, after = json.loads(old.spec), dict(agent.spec)
        diff = DeepDiff(before, after, ignore_order=True, verbose_level=2)
        lines = []
        for path, change in {**diff.get("values_changed", {}), **diff.get("type_changes", {})}.items():
            name = _field(path)
            if not show_sensitive and (name == "env" or name.startswith("env.")):
                lines.append(f"{name} changed (value hidden: --show-sensitive shows it)")
            else:
                lines.append(f"{name}: {change['old_value']!r} → {change['new_value']!r}")
        for kind, verb in (("dictionary_item_added", "added"), ("dictionary_item_removed", "removed")):
            for path in diff.get(kind, {}):
                lines.append(f"{_field(path)} {verb}")
        return tuple(sorted(lines)) or ("agent spec changed",)

    return explain


def _field(deepdiff_path: str) -> str:
    return deepdiff_path.replace("root['", "").replace("']['", ".").replace("']", "")


def observe_project(ctx: Context, desired: DesiredProject, adopt: bool = False) -> Observed:
    """tmux as this project sees it (`Observed.owned`); with `adopt`, the id marks an older orch did
    not set are set first (one tmux call, once)."""
    observed = observe(ctx.tmux).owned(desired.name, desired.id, desired.session)
    if adopt:
        from reconciler.execute.agents import adopt_marks  # lazy: off `orch plan`'s path

        commands = adopt_marks(desired, observed, ctx.home)
        if commands:
            ctx.tmux.run(*commands, check=False)
            observed = observe(ctx.tmux).owned(desired.name, desired.id, desired.session)
    return observed


def converge_windows(ctx: Context, store: Store, desired: DesiredProject, result: PassResult,
                      wait_for_backoff: bool, lanes: Lanes | None) -> Observed:
    """Observe/plan/execute until tmux matches (or only backoff waits remain); the last observation."""
    from reconciler.execute.agents import TmuxExecutor  # lazy: off `orch plan`'s path
    # apply waits for a slow agent's prompt to deliver its brief; the watcher hands it to the agent's lane
    executor = TmuxExecutor(ctx.tmux, store, ctx.home, lanes)
    for _ in range(MAX_PASSES):
        observed = notice_deaths(ctx.tmux, store, desired, observe_project(ctx, desired, adopt=True))
        facts, now = store.agent_facts(desired.name), time.time()
        plan = plan_project(desired, observed, facts, now, explain=explain_changes(store, desired), adopt=ctx.adopt,
                            busy=busy_agents(ctx, desired, observed, facts, now), allow_restart=ctx.allow_restart)
        if plan.problems:
            raise UserError("\n".join(p.message for p in plan.problems))
        work = [a for a in plan.actions if not isinstance(a, (DeferRestart, PendingReplace))
                and not (isinstance(a, DeliverBrief) and lanes is not None and lanes.busy(a.project, a.agent.name))]
        waits = [a.until for a in plan.actions if isinstance(a, DeferRestart)]
        if not work:
            if wait_for_backoff and waits and min(waits) - time.time() <= WAIT_FOR_BACKOFF_S:
                ctx.progress(f"waiting {min(waits) - time.time():.1f}s for the crash-loop backoff")
                time.sleep(max(0.0, min(waits) - time.time()))
                continue
            result.outcomes += [pending(a) for a in plan.actions]
            result.wake_at = earliest(result.wake_at, lanes.next_free() if lanes is not None else None)
            result.wake_at = earliest(result.wake_at, min(waits, default=None))
            return observed
        for action in work:
            ctx.progress(f"{action.symbol} {action.target}: {action.reason or 'working'}")
        pass_outcomes = executor.execute(Plan(plan.project, plan.session, tuple(work)), desired)
        result.outcomes += pass_outcomes
        if all(not o.ok for o in pass_outcomes):
            break
    return observe_project(ctx, desired)


def busy_agents(ctx: Context, desired: DesiredProject, observed: Observed, facts, now: float) -> dict[str, str]:
    """agent -> its reported state, for the live agents that report one other than idle (a
    replacement of those waits: reconciler/plan/agents.py)."""
    from reconciler.agent_events import BUSY, reported_states  # lazy: only when a spec changed

    specs = {agent.name: agent.spec_hash for agent in desired.agents}
    if not any(p.agent in specs and p.spec_hash != specs[p.agent] for p in observed.agent_panes(desired.name)):
        return {}  # nothing to replace: no events read
    panes = {p.agent: p for p in observed.agent_panes(desired.name) if p.session_name == desired.session}
    return {agent: state for agent, state in reported_states(ctx.home, desired, facts, panes, now).items()
            if state in BUSY}


def notice_deaths(tmux: Tmux, store: Store, desired: DesiredProject, observed: Observed) -> Observed:
    """Record the first moment each dead agent was seen dead (it anchors the crash-loop backoff), and
    make tmux collect the exit status of a process it has not reaped yet (then look again)."""
    dead = [p for p in observed.agent_panes(desired.name) if p.dead and p.session_name == desired.session]
    if not dead:
        return observed
    facts = store.agent_facts(desired.name)
    now = time.time()
    for pane in dead:
        fact = facts.get(pane.agent)
        if fact is None or fact.seen_dead_pid != pane.pane_pid:
            store.update_agent(desired.name, pane.agent, seen_dead_at=now, seen_dead_pid=pane.pane_pid)
            _save_last_screen(tmux, store, desired, pane)
    if any(p.dead_status is None for p in dead):
        tmux.run(["run-shell", "true"], check=False)  # a child's exit makes tmux reap all its children
        observed = observe(tmux).owned(desired.name, desired.id, desired.session)
    return observed


def _save_last_screen(tmux: Tmux, store: Store, desired: DesiredProject, pane) -> None:
    """Keep a dead agent's history before the restart clears it: the last screen of a crash is
    what a person needs to see why it died."""
    from reconciler.pane_logs import save_history  # lazy: off `orch plan`'s path
    path = save_history(tmux, store.home, desired.name, desired.id, pane.agent, pane.pane_id)
    if path is not None:
        store.record_event("agent.log_saved", f"{pane.agent} died; its screen is kept in {path}",
                           project=desired.name, agent=pane.agent, path=str(path))


def live_pids(observed: Observed, desired: DesiredProject) -> tuple[int, ...]:
    return tuple(p.pane_pid for p in observed.agent_panes(desired.name)
                 if p.session_name == desired.session and not p.dead and p.pane_pid)


def pending(action):
    from reconciler.execute.agents import HELD, Outcome  # lazy: off `orch plan`'s path
    return Outcome(action, HELD, f"pending: {action.reason}")


def earliest(*moments: float | None) -> float | None:
    present = [m for m in moments if m is not None]
    return min(present) if present else None
