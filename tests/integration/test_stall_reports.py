"""A stall report to escalate_to goes through the ordinary delivery: held while escalate_to is out of
credit (recorded once, typed nowhere), then delivered once; never typed into the stalled agent.

Real tmux (toy agents), real SQLite; the stalled agent's state is given as the observer would derive it."""

from __future__ import annotations

import time

from reconciler.agent_state import AgentState
from reconciler.context import Context
from reconciler.manifest.loader import load_manifest
from reconciler.model.checkins import CreditHold
from reconciler.runtime.observe import observe
from reconciler.stalls import check_stalls
from reconciler.project import plan_for
from reconciler.state import credit as credit_records
from tests.conftest import toy_log, toy_manifest


def test_a_stall_report_waits_for_a_manager_out_of_credit_and_then_comes_once(tmp_path, orch, orch_home,
                                                                            tmux_socket):
    manifest = toy_manifest(tmp_path, agents={"pm": "", "dev": ""}, extra="  stall_after: 5s\n  sync:\n"
                            "    escalate_to: pm\n")
    assert orch("apply", str(manifest)).returncode == 0
    ctx = Context(orch_home, tmux_socket)
    desired, _ = plan_for(ctx, load_manifest(manifest))
    store = ctx.store()
    panes = {p.agent: p for p in observe(ctx.tmux).agent_panes("demo")}
    now = time.time()
    credit_records.put_credit_hold(store, CreditHold("demo", "pm", "You've hit your limit", now, now + 3600, 1, "manual"))
    states = {"dev": AgentState("blocked", now - 60, now - 60), "pm": AgentState("idle", now - 60, now - 60)}

    def stalled():
        return [e for e in store.events("demo") if e.kind in ("agent.stalled", "agent.stall_told")]

    for _ in range(3):  # every pass while pm is held: recorded once, told to nobody yet
        outcomes, _ = check_stalls(ctx.tmux, store, orch_home, desired, panes, states, time.time())
        assert [o.ok for o in outcomes] == [True] and "out of credit" in outcomes[0].message
    assert [e.kind for e in stalled()] == ["agent.stalled"]
    assert toy_log(tmp_path / "logs" / "pm.log") == []

    credit_records.clear_credit(store, "demo", "pm")
    for _ in range(3):
        check_stalls(ctx.tmux, store, orch_home, desired, panes, states, time.time())
    assert [e.kind for e in stalled()] == ["agent.stalled", "agent.stall_told"]
    told = [r["text"] for r in toy_log(tmp_path / "logs" / "pm.log")]
    assert len(told) == 1 and told[0].startswith("orch: agent dev of project demo is stalled: blocked")
    assert toy_log(tmp_path / "logs" / "dev.log") == []  # nothing typed into the stalled agent
