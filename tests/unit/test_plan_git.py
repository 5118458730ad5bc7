"""The worktree planner on plain data: what is created, synced, skipped, escalated, integrated, removed."""

from __future__ import annotations

import pytest

from reconciler.model.worktrees import (
    CheckedOut, CreateWorktree, DesiredWorktree, Escalate, GitSettings, Integrate, KeepWorktree, RemoveWorktree,
    RepoFacts, SkipSync, SyncRecord, SyncWorktree, WorktreeFacts,
)
from reconciler.plan.worktrees import plan_escalations, plan_worktrees, worktree_state

UP = "c0ffee" * 6 + "beef"
WT = "/home/u/.local/state/orch/projects/shop-1a2b3c4d/worktrees"


def settings(*agents: str, integrate: str = "off", gate: str | None = None, escalate_to: str | None = "pm",
             mode: str = "rebase") -> GitSettings:
    worktrees = tuple(DesiredWorktree(a, f"{WT}/{a}", f"orch/{a}") for a in agents)
    return GitSettings(repo="/src/shop", upstream="main", worktrees=worktrees, projects_dir=WT, mode=mode,
                       escalate_to=escalate_to, integrate=integrate, gate=gate)


def repo(*checkouts: CheckedOut, branches: dict | None = None) -> RepoFacts:
    return RepoFacts(branches=branches if branches is not None else {"main": UP, "orch/dev": "d" * 40},
                     checkouts=(CheckedOut("/src/shop", UP, "main", primary=True), *checkouts))


def facts(agent: str = "dev", **fields) -> WorktreeFacts:
    base = dict(folder_exists=True, registered=True, head="h" * 40)
    base.update(fields)
    return WorktreeFacts(agent, f"{WT}/{agent}", **base)


def kinds(actions) -> list[str]:
    return [type(a).__name__ for a in actions]


@pytest.mark.parametrize(
    "seen, record, expected",
    [
        (facts(), None, []),  # synced
        (facts(behind=2), None, ["SyncWorktree"]),
        (facts(behind=2, dirty=True), None, ["SkipSync"]),
        (facts(behind=2, dirty=True), SyncRecord("dev", skipped_upstream=UP), []),  # reported once per commit
        (facts(behind=2, operation="rebase"), None, ["SkipSync"]),
        (facts(behind=2, operation="index.lock"), None, ["SkipSync"]),
        (facts(behind=1), SyncRecord("dev", conflict_upstream=UP), []),  # conflicts with this commit: wait
        (facts(behind=1), SyncRecord("dev", conflict_upstream="old"), ["SyncWorktree"]),  # a new upstream commit
        (facts(ahead=3), None, []),  # integration is off
    ],
)
def test_sync_table(seen, record, expected):
    records = {"dev": record} if record else {}
    actions, problems = plan_worktrees("shop", settings("dev"), repo(), {"dev": seen}, records, {}, sync=True)
    assert kinds(actions) == expected and problems == []


def test_no_sync_without_the_flag_or_with_mode_off():
    behind = {"dev": facts(behind=2)}
    assert plan_worktrees("shop", settings("dev"), repo(), behind, {}, {}, sync=False)[0] == []
    assert plan_worktrees("shop", settings("dev", mode="off"), repo(), behind, {}, {}, sync=True)[0] == []


def test_skip_says_why():
    actions, _ = plan_worktrees("shop", settings("dev"), repo(), {"dev": facts(behind=1, operation="index.lock")},
                                {}, {}, sync=True)
    assert isinstance(actions[0], SkipSync) and "index.lock" in actions[0].reason


@pytest.mark.parametrize(
    "seen, branches, checkouts, expected",
    [
        (None, {"main": UP}, (), CreateWorktree("shop", DesiredWorktree("dev", f"{WT}/dev", "orch/dev"), "main")),
        (None, {"main": UP, "orch/dev": "d"}, (),
         CreateWorktree("shop", DesiredWorktree("dev", f"{WT}/dev", "orch/dev"), None)),
        (facts(folder_exists=False, registered=True), {"main": UP, "orch/dev": "d"},
         (CheckedOut(f"{WT}/dev", "d", "orch/dev", prunable=True),),
         CreateWorktree("shop", DesiredWorktree("dev", f"{WT}/dev", "orch/dev"), None, prune_first=True)),
        (facts(folder_exists=True, registered=False), {"main": UP, "orch/dev": "d"}, (),
         CreateWorktree("shop", DesiredWorktree("dev", f"{WT}/dev", "orch/dev"), None, set_aside=True)),
    ],
    ids=["new-branch", "existing-branch", "folder-deleted", "record-deleted"],
)
def test_create_and_repair(seen, branches, checkouts, expected):
    observed = {"dev": seen} if seen else {}
    actions, problems = plan_worktrees("shop", settings("dev"), repo(*checkouts, branches=branches), observed, {},
                                       {}, sync=False)
    assert actions == [expected] and problems == []


def test_a_branch_checked_out_elsewhere_is_a_problem():
    actions, problems = plan_worktrees("shop", settings("dev"), repo(CheckedOut("/tmp/other", "d", "orch/dev")),
                                       {}, {}, {}, sync=False)
    assert actions == [] and "/tmp/other" in problems[0].message and "orch/dev" in problems[0].message


def test_a_missing_upstream_is_a_problem():
    actions, problems = plan_worktrees("shop", settings("dev"), repo(branches={}), {}, {}, {}, sync=True)
    assert actions == [] and "upstream branch 'main'" in problems[0].message


@pytest.mark.parametrize(
    "seen, record, expected",
    [
        (facts(ahead=2), None, ["Integrate"]),
        (facts(ahead=2, dirty=True), None, []),
        (facts(ahead=2, behind=1), None, ["SyncWorktree"]),  # sync first, integrate on the next pass
        (facts(ahead=2, head="x" * 40), SyncRecord("dev", gate_failed_head="x" * 40), []),  # the gate failed here
        (facts(ahead=2, head="y" * 40), SyncRecord("dev", gate_failed_head="x" * 40), ["Integrate"]),
    ],
)
def test_integration_table(seen, record, expected):
    records = {"dev": record} if record else {}
    actions, _ = plan_worktrees("shop", settings("dev", integrate="fast-forward", gate="make test"), repo(),
                                {"dev": seen}, records, {}, sync=True)
    assert kinds(actions) == expected
    if expected == ["Integrate"]:
        assert isinstance(actions[0], Integrate) and actions[0].gate == "make test"


@pytest.mark.parametrize(
    "left, expected",
    [
        (facts("old"), ["RemoveWorktree"]),
        (facts("old", ahead=1), ["KeepWorktree"]),  # unmerged work: kept, and said where
        (facts("old", dirty=True), ["KeepWorktree"]),  # uncommitted work: kept
        (facts("old", operation="merge"), ["KeepWorktree"]),
    ],
)
def test_leftover_worktrees_are_removed_only_when_empty(left, expected):
    checkout = CheckedOut(f"{WT}/old", "o", "orch/old")
    actions, _ = plan_worktrees("shop", settings(), repo(checkout), {}, {}, {"old": left}, sync=False)
    assert kinds(actions) == expected
    if expected == ["RemoveWorktree"]:
        assert isinstance(actions[0], RemoveWorktree) and actions[0].branch == "orch/old"
    else:
        assert isinstance(actions[0], KeepWorktree) and actions[0].path == f"{WT}/old" and f"{WT}/old" in actions[0].reason
        kept = {"old": SyncRecord("old", state="kept")}  # said once
        assert plan_worktrees("shop", settings(), repo(checkout), {}, kept, {"old": left}, sync=False)[0] == []


def test_a_removed_agents_worktree_on_a_users_branch_keeps_that_branch():
    checkout = CheckedOut(f"{WT}/old", "o", "user-feature")
    actions, _ = plan_worktrees("shop", settings(), repo(checkout), {}, {}, {"old": facts("old")}, sync=False)
    assert kinds(actions) == ["RemoveWorktree"] and actions[0].branch is None  # `branch -d` only for orch/old


@pytest.mark.parametrize(
    "seen, record, expected",
    [
        (facts(behind=2, foreign=True, checked_out="user-feature"), None, ["SkipSync"]),
        (facts(foreign=True, checked_out=None), None, ["SkipSync"]),  # detached: said too, not behind
        (facts(behind=2, foreign=True), SyncRecord("dev", state="foreign-branch"), []),  # said once
        (facts(ahead=2, foreign=True), SyncRecord("dev", state="foreign-branch"), []),  # never integrated
        (facts(ahead=2, foreign=True), SyncRecord("dev", state="synced"), ["SkipSync"]),
    ],
)
def test_a_worktree_on_a_foreign_branch_is_never_synced_or_integrated(seen, record, expected):
    records = {"dev": record} if record else {}
    actions, _ = plan_worktrees("shop", settings("dev", integrate="fast-forward"), repo(), {"dev": seen}, records,
                                {}, sync=True)
    assert kinds(actions) == expected
    if actions:
        assert actions[0].state == "foreign-branch" and "orch/dev" in actions[0].reason
    assert worktree_state(seen, record, UP) == "foreign-branch"


def test_escalations_once_per_conflicting_upstream_commit():
    git = settings("dev", "qa")
    conflict = SyncRecord("dev", conflict_upstream=UP, conflict_files=("a.py",))
    told = SyncRecord("qa", conflict_upstream=UP, escalated_upstream=UP)
    actions = plan_escalations("shop", git, {"dev": conflict, "qa": told}, UP)
    assert kinds(actions) == ["Escalate"]
    escalation = actions[0]
    assert isinstance(escalation, Escalate) and escalation.to == "pm" and escalation.files == ("a.py",)
    text = escalation.message()
    assert all(part in text for part in ("dev", "orch/dev", f"{WT}/dev", "a.py", "main"))
    assert plan_escalations("shop", git, {"dev": conflict}, "a-newer-commit") == []  # stale conflict
    assert plan_escalations("shop", settings("dev", escalate_to=None), {"dev": conflict}, UP) == []


@pytest.mark.parametrize(
    "seen, record, expected",
    [
        (None, None, "missing"),
        (facts(folder_exists=False), None, "missing"),
        (facts(behind=1, dirty=True), SyncRecord("dev", conflict_upstream=UP), "conflict"),
        (facts(behind=1, dirty=True), None, "dirty"),
        (facts(operation="rebase"), None, "dirty"),
        (facts(behind=1, foreign=True), SyncRecord("dev", conflict_upstream=UP), "foreign-branch"),
        (facts(behind=3), None, "behind"),
        (facts(ahead=3), None, "synced"),
        (facts(), SyncRecord("dev", conflict_upstream="old"), "synced"),
    ],
)
def test_worktree_state_is_the_first_that_applies(seen, record, expected):
    assert worktree_state(seen, record, UP) == expected


def test_sync_worktree_carries_what_the_executor_needs():
    actions, _ = plan_worktrees("shop", settings("dev", mode="merge"), repo(), {"dev": facts(behind=4)}, {}, {},
                                sync=True)
    action = actions[0]
    assert isinstance(action, SyncWorktree)
    assert (action.mode, action.upstream, action.upstream_commit, action.behind) == ("merge", "main", UP, 4)


def test_never_prunes_when_a_users_own_worktree_would_be_forgotten_too():
    ours = CheckedOut(f"{WT}/dev", "d", "orch/dev", prunable=True)
    users = CheckedOut("/mnt/usb/experiment", "e", "experiment", prunable=True)
    actions, problems = plan_worktrees("shop", settings("dev"), repo(ours, users),
                                       {"dev": facts(folder_exists=False, registered=False)}, {}, {}, sync=False)
    assert actions == [] and "/mnt/usb/experiment" in problems[0].message
    actions, problems = plan_worktrees("shop", settings("dev"), repo(ours),
                                       {"dev": facts(folder_exists=False, registered=False)}, {}, {}, sync=False)
    assert problems == [] and isinstance(actions[0], CreateWorktree) and actions[0].prune_first
