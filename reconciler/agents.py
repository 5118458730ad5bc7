"""Address one agent: find its pane, deliver a message to it (`orch send`), read its screen (`orch logs`)."""

from __future__ import annotations

import os

from reconciler.agent_events import receipts_stream
from reconciler.drivers import get as get_driver
from reconciler.errors import UserError
from reconciler.execute.delivery import Delivery, deliver
from reconciler.locks import delivery_lock
from reconciler.names import check_name
from reconciler.model.agents import ObservedPane
from reconciler.runtime.observe import observe


def resolve_agent(address: str | None, project: str | None) -> tuple[str, str]:
    """project/agent, agent with -p, or (inside an agent's window) the window's own agent."""
    if address is None:
        project, agent = os.environ.get("ORCH_PROJECT"), os.environ.get("ORCH_AGENT")
    elif "/" in address:
        project, _, agent = address.partition("/")
    else:
        agent = address
        project = project or os.environ.get("ORCH_PROJECT")
    if not project or not agent:
        raise UserError(f"which project? write PROJECT/{agent or 'AGENT'} or pass -p PROJECT")
    return check_name(project), check_name(agent, "agent")


def find_agent_pane(ctx, project: str, agent: str) -> ObservedPane:
    observed = observe(ctx.tmux)
    record = ctx.store().project(project)
    if record is not None:  # another ORCH_HOME's project of the same name is not this one
        observed = observed.owned(project, record.id, record.session)
    panes = [p for p in observed.agent_panes(project) if p.agent == agent]
    if not panes:
        known = sorted({p.agent for p in observed.agent_panes(project)})
        hint = f" (its agents: {', '.join(known)})" if known else " (is it applied? see `orch status`)"
        raise UserError(f"no running agent {project}/{agent}{hint}")
    return panes[0]


def send_text(ctx, project: str, agent: str, text: str, ready_timeout: float, force: bool = False) -> Delivery:
    """Deliver `text`; refused (nothing typed) while the agent is out of credit, unless `force`."""
    if not text.strip():
        raise UserError("the message is empty")
    pane = find_agent_pane(ctx, project, agent)
    record, spec, kind = _applied(ctx, project, agent)
    guard = None if force else _credit_guard(ctx, project, agent, spec, kind)
    receipts = receipts_stream(ctx.home, project, record.id, agent, kind) if record is not None else None
    result = deliver(ctx.tmux, pane.pane_id, text, lock_file=delivery_lock(ctx.home, project, agent),
                     ready_timeout=ready_timeout, guard=guard, receipts=receipts, dialogs=get_driver(kind).dialogs)
    if result.held:
        raise UserError(f"{project}/{agent} is {result.reason}; nothing was typed "
                        "(use --force to deliver anyway, or `orch credit clear` for a false alarm)")
    ctx.store().record_event("message.delivered" if result.ok else "message.failed",
                             f"message to {agent}: {result.reason}", project=project, agent=agent,
                             chars=len(text), enters=result.enters, confirmed_by=result.confirmed_by)
    return result


def _applied(ctx, project: str, agent: str):
    """(the project's record, its last applied spec, the agent's kind) as far as they are known."""
    from pathlib import Path

    from reconciler.drivers import resolve
    from reconciler.manifest.loader import ManifestError, parse_manifest

    record = ctx.store().project(project)
    spec, kind = None, "generic"
    if record is not None and record.manifest_text:
        try:
            spec = parse_manifest(record.manifest_text, Path(record.manifest_path)).manifest.spec
        except ManifestError:
            spec = None
    if spec is not None:
        found = next((a for a in spec.agents if a.name == agent), None)
        if found is not None:
            kind = resolve(found.kind, found.command or spec.defaults.command or "").kind
    return record, spec, kind


def _credit_guard(ctx, project: str, agent: str, spec, kind: str):
    """The check-ins' credit guard, with the project's settings from its last applied manifest."""
    from reconciler.execute.checkins import credit_guard

    shared, patterns = (spec.credit.shared, tuple(spec.credit.patterns)) if spec is not None else (False, ())
    return credit_guard(ctx.store(), project, agent, shared, patterns, kind)


def recent_output(ctx, project: str, agent: str, lines: int) -> list[str]:
    """The last `lines` non-empty-trailing lines of the agent's pane, scrollback included."""
    pane = find_agent_pane(ctx, project, agent)
    text = ctx.tmux.run(["capture-pane", "-p", "-J", "-S", f"-{max(lines, 1) + 200}", "-t", pane.pane_id]).stdout
    rows = text.rstrip("\n").split("\n")
    while rows and not rows[-1].strip():
        rows.pop()
    return rows[-lines:]


def save_agent_history(ctx, project: str, agent: str):
    """`orch logs --save`: the pane's whole history in a file under the project folder."""
    from reconciler.pane_logs import save_history

    pane = find_agent_pane(ctx, project, agent)
    record = ctx.store().project(project)
    if record is None:
        raise UserError(f"{project} is not registered here (see `orch status`)")
    path = save_history(ctx.tmux, ctx.home, project, record.id, agent, pane.pane_id)
    if path is None:
        raise UserError(f"{project}/{agent}: its pane went away while it was being read; try again")
    return path
