"""Sync that never rewrites the wrong branch or loses an edit (issue 11), on real repositories."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.conftest import toy_log, toy_manifest, wait_until
from tests.e2e.test_worktrees import commit, git, project, repo, tree_digest, worktree_status  # noqa: F401


def events(orch, kind: str | None = None) -> list[dict]:
    found = [json.loads(line) for line in orch("events", "-o", "json", "-n", "500").stdout.splitlines()]
    return [e for e in found if kind is None or e["kind"] == kind]


def implicit(tmp_path: Path, repo: Path, agents=("dev", "qa"), sync: str = "") -> Path:
    """A project without spec.upstream: it follows the branch checked out at first apply."""
    extra = f"  repo: {repo}\n" + ("  sync:\n" + "".join(f"    {line}\n" for line in sync.splitlines()) if sync else "")
    return toy_manifest(tmp_path, project="wt", agents={name: "" for name in agents}, extra=extra)


def status_project(orch) -> dict:
    return orch.json("status")["projects"][0]


def contains(path: Path, commit_id: str, ref: str = "HEAD") -> bool:
    return subprocess.run(["git", "merge-base", "--is-ancestor", commit_id, ref], cwd=path).returncode == 0


# -- 1. the upstream is fixed at first apply ---------------------------------------------------


def test_the_default_upstream_is_stored_at_first_apply_not_read_again(tmp_path, repo, orch, tmux_socket):
    manifest = implicit(tmp_path, repo)
    plan = orch("plan", str(manifest))
    assert "upstream main" in plan.stdout, plan.stdout
    assert orch("apply", str(manifest)).returncode == 0
    assert status_project(orch)["upstream"] == "main"
    assert "upstream main" in orch("status").stdout
    dev = Path(worktree_status(orch)["dev"]["path"])
    git(repo, "checkout", "-q", "-b", "experiment")
    wip = commit(repo, "wip.txt", "experimental WIP\n")
    result = orch("sync", "wt")
    assert result.returncode == 0, result.stderr
    assert "experiment" not in result.stdout
    assert not contains(dev, wip) and not contains(repo, wip, "orch/qa")
    assert orch("apply", str(manifest)).returncode == 0  # a later apply keeps it too
    assert status_project(orch)["upstream"] == "main"
    assert orch.json("plan", str(manifest))["upstream"] == "main"
    assert orch("plan", str(manifest), "--detailed-exitcode").returncode == 0
    # only the manifest changes it
    manifest.write_text(manifest.read_text().replace(f"  repo: {repo}\n", f"  repo: {repo}\n  upstream: experiment\n"))
    assert orch("apply", str(manifest)).returncode == 0
    assert orch("sync", "wt").returncode == 0
    assert contains(dev, wip) and status_project(orch)["upstream"] == "experiment"


def test_a_detached_head_at_first_apply_is_a_clear_error(tmp_path, repo, orch, tmux_socket):
    git(repo, "checkout", "-q", "--detach")
    result = orch("apply", str(implicit(tmp_path, repo)))
    assert result.returncode == 1 and "spec.upstream" in result.stderr and "Traceback" not in result.stderr
    assert orch.json("status")["projects"] == []


def test_a_detached_head_in_the_main_checkout_later_stops_nothing(tmp_path, repo, orch, tmux_socket):
    manifest = implicit(tmp_path, repo, agents=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    git(repo, "checkout", "-q", "--detach")  # the user's own bisect or rebase
    upstream = commit(repo, "upstream.txt", "on the detached HEAD, not main\n")
    assert orch("checkin", "wt/dev", "--in", "1s", "--note", "still there?").returncode == 0

    def delivered() -> bool:
        result = orch("reconcile", str(manifest))
        assert result.returncode == 0, result.stdout + result.stderr
        return any("still there?" in e["text"] for e in toy_log(tmp_path / "logs" / "dev.log"))

    wait_until(delivered, timeout=20, what="the check-in delivered while the main checkout is detached")
    status = status_project(orch)
    assert status["upstream"] == "main" and status["agents"][0]["worktree"]["state"] == "synced"
    assert not contains(Path(status["agents"][0]["worktree"]["path"]), upstream)
    result = orch("destroy", "wt", "--yes")
    assert result.returncode == 0, result.stderr
    assert orch.json("status")["projects"] == []


def test_a_git_problem_stops_git_work_only_and_is_reported_once(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(worktree_status(orch)["dev"]["path"])
    (dev / "scratch.txt").write_text("the user's\n")
    git(repo, "checkout", "-q", "--detach")
    git(repo, "branch", "-m", "main", "renamed")  # upstream `main` is gone
    for _ in range(2):
        result = orch("sync", "wt")
        assert result.returncode == 1 and "'main' does not exist" in result.stdout, result.stdout + result.stderr
    assert orch("reconcile", str(manifest)).returncode == 1  # says so, but the agents' part ran
    assert len(events(orch, "git.problem")) == 1
    status = status_project(orch)
    assert "'main' does not exist" in status["problem"]
    wt = status["agents"][0]["worktree"]
    assert wt["state"] == "unknown" and "'main'" in wt["problem"] and status["agents"][0]["alive"]
    assert "git work stopped" in orch("status").stdout
    git(repo, "branch", "-m", "renamed", "main")
    assert orch("sync", "wt").returncode == 0
    assert len(events(orch, "git.recovered")) == 1 and status_project(orch)["problem"] is None
    git(repo, "branch", "-m", "main", "renamed")
    result = orch("destroy", "wt", "--yes")
    assert result.returncode == 0, result.stderr
    assert f"kept {dev}" in result.stdout and (dev / "scratch.txt").read_text() == "the user's\n"
    assert orch.json("status")["projects"] == []


# -- 2. sync touches only the agent's own branch -----------------------------------------------


def test_a_worktree_switched_to_a_users_branch_is_never_rewritten(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev", "qa"))
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(worktree_status(orch)["dev"]["path"])
    orch_dev = git(repo, "rev-parse", "orch/dev")
    git(dev, "switch", "-q", "-c", "user-feature")
    mine = commit(dev, "mine.txt", "the user's private work\n")
    for text in ("first\n", "second\n"):
        commit(repo, "upstream.txt", text)
        assert orch("sync", "wt").returncode == 0
    assert git(repo, "rev-parse", "user-feature") == mine and git(dev, "rev-parse", "HEAD") == mine
    assert git(repo, "rev-parse", "orch/dev") == orch_dev
    status = worktree_status(orch)
    assert status["dev"]["state"] == "foreign-branch" and status["qa"]["state"] == "synced"
    said = [e for e in events(orch, "sync.skipped") if e["agent"] == "dev"]
    assert len(said) == 1 and "user-feature" in said[0]["message"] and "orch/dev" in said[0]["message"]


def test_integration_publishes_the_agent_branch_never_a_users_branch(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev",), sync="integrate: fast-forward")
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(worktree_status(orch)["dev"]["path"])
    before = git(repo, "rev-parse", "main")
    work = commit(dev, "feature.txt", "for main\n")  # the agent's branch is ahead: integrable
    git(dev, "switch", "-q", "-c", "user-feature")
    commit(dev, "private.txt", "not for main\n")
    assert orch("sync", "wt").returncode == 0
    assert git(repo, "rev-parse", "main") == before and not (repo / "private.txt").exists()
    git(dev, "switch", "-q", "orch/dev")
    assert orch("sync", "wt").returncode == 0
    assert git(repo, "rev-parse", "main") == work and not (repo / "private.txt").exists()


def test_a_bisect_or_a_pick_sequence_in_progress_is_never_synced(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev", "qa"))
    assert orch("apply", str(manifest)).returncode == 0
    status = worktree_status(orch)
    dev, qa = Path(status["dev"]["path"]), Path(status["qa"]["path"])
    commit(dev, "one.txt", "1\n")
    commit(dev, "two.txt", "2\n")
    git(dev, "bisect", "start", "HEAD", "HEAD~2")  # checks out a commit in the middle
    git(repo, "branch", "side")
    git(repo, "checkout", "-q", "side")
    first = commit(repo, "shared.txt", "line 1\nside's line 2\nline 3\n")
    second = commit(repo, "side.txt", "side\n")
    git(repo, "checkout", "-q", "main")
    commit(qa, "shared.txt", "line 1\nqa's line 2\nline 3\n")
    subprocess.run(["git", "cherry-pick", first, second], cwd=qa, capture_output=True)  # the first conflicts
    (qa / "shared.txt").write_text("line 1\nresolved\nline 3\n")
    git(qa, "add", "shared.txt")
    git(qa, "commit", "-q", "--no-edit")  # first pick committed by hand: only sequencer/ is left
    assert (Path(git(qa, "rev-parse", "--git-dir")) / "sequencer").is_dir()
    heads = {name: git(p, "rev-parse", "HEAD") for name, p in (("dev", dev), ("qa", qa))}
    commit(repo, "upstream.txt", "new\n")
    assert orch("sync", "wt").returncode == 0
    assert {name: git(p, "rev-parse", "HEAD") for name, p in (("dev", dev), ("qa", qa))} == heads
    status = worktree_status(orch)
    assert status["dev"]["state"] == "dirty" and status["qa"]["state"] == "dirty"
    text = "\n".join(e["message"] for e in events(orch, "sync.skipped"))
    assert "bisect" in text and "sequence" in text
    git(qa, "cherry-pick", "--continue")  # the user's sequence goes on where it was
    assert (qa / "side.txt").exists()


# -- 3. a sync never costs the agent an edit ---------------------------------------------------


def test_a_file_the_agent_changes_during_the_sync_survives_byte_for_byte(tmp_path, repo, orch, tmux_socket):
    """The agent writes shared.txt at the moment orch's sync first moves a ref in its worktree."""
    manifest = project(tmp_path, repo, agents=("dev",), sync="escalate_to: dev")
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(worktree_status(orch)["dev"]["path"]).resolve()
    commit(dev, "shared.txt", "line 1\ndev's line 2\nline 3\n")
    flag = tmp_path / "agent-writes-now"
    hook = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-path", "hooks")) / "reference-transaction"
    hook.write_text(
        "#!/bin/sh\n"
        "cat >/dev/null\n"
        f"if [ \"$1\" = committed ] && [ -e '{flag}' ] && [ \"$(pwd -P)\" = '{dev}' ]; then\n"
        f"    rm -f '{flag}'\n"
        "    printf \"the agent's edit, mid-sync\\n\" > shared.txt\n"
        "fi\n")
    hook.chmod(0o755)
    assert orch("apply", str(manifest)).returncode == 0  # orch chains the user's hook
    upstream = commit(repo, "upstream.txt", "new on main\n")
    flag.write_text("")
    result = orch("sync", "wt")
    assert not flag.exists(), "the agent never got to write"
    assert (dev / "shared.txt").read_bytes() == b"the agent's edit, mid-sync\n"
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conflict" not in result.stdout and "git named no files" not in "".join(
        e["text"] for e in toy_log(tmp_path / "logs" / "dev.log"))
    git_dir = Path(git(dev, "rev-parse", "--git-dir"))
    assert not (git_dir / "rebase-merge").exists() and not (git_dir / "rebase-apply").exists()
    assert contains(dev, upstream) and git(dev, "log", "-1", "--format=%s") == "change shared.txt"


def test_a_move_that_would_overwrite_an_edit_is_refused_naming_the_files(tmp_path, repo, orch, tmux_socket):
    """The agent edits after orch looked (clean) and before it moves the worktree: in process, real git."""
    from reconciler.execute.worktrees import GitExecutor
    from reconciler.context import Context
    from reconciler.sync import observe_worktrees
    from reconciler.manifest.desired import desired_project
    from reconciler.manifest.loader import load_manifest
    from reconciler.git.observe import observe_repo
    from reconciler.plan.worktrees import plan_worktrees
    from reconciler.state import worktrees as worktree_records
    manifest = project(tmp_path, repo, agents=("dev", "qa"))
    assert orch("apply", str(manifest)).returncode == 0
    status = worktree_status(orch)
    dev, qa = Path(status["dev"]["path"]), Path(status["qa"]["path"])
    commit(dev, "dev.txt", "dev's work\n")
    commit(repo, "shared.txt", "line 1\nmain's line 2\nline 3\n")
    ctx = Context(home=Path(orch_home_of(tmp_path)), socket=tmux_socket)
    store = ctx.store(maintain=True)
    loaded = load_manifest(manifest)
    record = store.project("wt")
    desired = desired_project(loaded, record.id, ctx.home, ctx.socket, "main")
    observed = observe_repo(repo)
    facts, leftovers = observe_worktrees(desired.git, observed)
    actions, _ = plan_worktrees("wt", desired.git, observed, facts, {}, leftovers, sync=True)
    assert sorted(a.worktree.agent for a in actions) == ["dev", "qa"]  # both looked clean
    (dev / "shared.txt").write_text("dev's uncommitted edit\n")  # collides with upstream's change
    (qa / "notes.txt").write_text("qa's scratch\n")  # does not
    before = git(dev, "rev-parse", "HEAD")
    outcomes = {getattr(o.action, "agent", None) or o.action.worktree.agent: o
                for o in GitExecutor(store, ctx.home, "wt", desired.git, ctx.tmux, {}).execute(actions)}
    assert outcomes["dev"].ok and "shared.txt" in outcomes["dev"].message and "conflict" not in outcomes["dev"].message
    assert (dev / "shared.txt").read_text() == "dev's uncommitted edit\n" and git(dev, "rev-parse", "HEAD") == before
    assert worktree_records.sync_records(store, "wt")["dev"].state == "dirty"  # not a conflict: nothing escalated
    assert outcomes["qa"].ok and outcomes["qa"].message == "rebased onto main"
    assert (qa / "notes.txt").read_text() == "qa's scratch\n" and (qa / "shared.txt").read_text().count("main's")


def orch_home_of(tmp_path: Path) -> Path:
    return tmp_path / "orch-home"


def test_destroy_and_removal_keep_every_worktree_holding_the_users_work_and_say_where(tmp_path, repo, orch,
                                                                                       tmux_socket):
    manifest = project(tmp_path, repo, agents=("pm", "dev", "qa", "ops"))
    assert orch("apply", str(manifest)).returncode == 0
    status = worktree_status(orch)
    paths = {name: Path(wt["path"]) for name, wt in status.items()}
    commit(paths["ops"], "ops.txt", "unmerged\n")
    manifest.write_text(manifest.read_text().replace(manifest.read_text().split("    - name: ops\n")[1], "")
                        .replace("    - name: ops\n", ""))
    result = orch("apply", str(manifest))
    assert result.returncode == 0 and f"kept {paths['ops']}" in result.stdout, result.stdout
    assert "kept" not in orch("apply", str(manifest)).stdout  # said once
    (paths["dev"] / "shared.txt").write_text("uncommitted\n")
    (paths["qa"] / "untracked.txt").write_text("untracked\n")
    result = orch("destroy", "wt", "--yes")
    assert result.returncode == 0, result.stderr
    for name in ("dev", "qa", "ops"):
        assert paths[name].exists() and f"kept {paths[name]}" in result.stdout, result.stdout
    assert not paths["pm"].exists()
    assert (paths["dev"] / "shared.txt").read_text() == "uncommitted\n"


# -- 4. hooks and integration ------------------------------------------------------------------


def test_a_second_orch_home_and_a_changed_upstream_get_their_hook_lines(tmp_path, repo, orch, tmux_socket,
                                                                        monkeypatch):
    manifest = project(tmp_path, repo, agents=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    folder = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-path", "hooks"))
    git(repo, "branch", "release")
    manifest.write_text(manifest.read_text().replace("upstream: main", "upstream: release"))
    assert orch("apply", str(manifest)).returncode == 0
    assert "release" in (folder / "orch-hook.upstream").read_text().split()
    other = tmp_path / "second-home"
    second = tmp_path / "second"
    second.mkdir()
    monkeypatch.setenv("ORCH_HOME", str(other))
    manifest = toy_manifest(second, project="other", agents={"ops": ""}, extra=f"  repo: {repo}\n  upstream: main\n")
    result = orch("apply", str(manifest))
    assert result.returncode == 0, result.stderr
    assert str(other) in (folder / "orch-hook.home").read_text().splitlines()


def test_a_hook_folder_left_alone_is_reported_once(tmp_path, repo, orch, tmux_socket):
    git(repo, "config", "core.hooksPath", "/dev/null")
    manifest = project(tmp_path, repo, agents=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    for _ in range(3):
        commit(repo, "upstream.txt", f"{time.time()}\n")
        assert orch("sync", "wt").returncode == 0
    said = [e for e in events(orch) if e["kind"].startswith("hooks.") and "not installed" in e["message"]]
    assert len(said) == 1, said


def test_untracked_files_in_the_upstream_checkout_do_not_block_integration(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev",), sync="integrate: fast-forward")
    assert orch("apply", str(manifest)).returncode == 0
    (repo / "notes.local").write_text("the user's untracked notes\n")
    work = commit(Path(worktree_status(orch)["dev"]["path"]), "dev.txt", "feature\n")
    assert orch("sync", "wt").returncode == 0
    assert git(repo, "rev-parse", "main") == work and (repo / "dev.txt").exists()
    assert (repo / "notes.local").read_text() == "the user's untracked notes\n"


def test_sync_exits_0_when_an_escalation_is_held_for_credit_and_1_when_it_fails(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("pm", "dev"), sync="escalate_to: pm")
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(worktree_status(orch)["dev"]["path"])
    commit(dev, "shared.txt", "line 1\ndev's line 2\nline 3\n")
    assert orch("send", "wt/pm", "/limit You've hit your limit · resets 11:59pm").returncode == 0
    commit(repo, "shared.txt", "line 1\nmain's line 2\nline 3\n")
    result = orch("sync", "wt")
    assert result.returncode == 0, result.stdout  # held back for credit: as it should be
    assert "out of credit" in result.stdout
    assert not any("conflicts with" in e["text"] for e in toy_log(tmp_path / "logs" / "pm.log"))
    manifest.write_text(manifest.read_text().replace("escalate_to: pm", "escalate_to: dev"))
    assert orch("apply", str(manifest)).returncode == 0
    assert orch("send", "wt/dev", "/deaf 50").returncode == 0  # takes no Enter: the delivery fails
    result = orch("sync", "wt")
    assert result.returncode == 1 and "escalation not delivered" in result.stdout, result.stdout


# -- the rebase orch builds is the one `git rebase` makes ---------------------------------------


def test_a_rebase_of_several_commits_is_what_git_rebase_makes(tmp_path, repo, orch, tmux_socket):
    """Several commits (one undoing part of an earlier one, one already upstream, one empty) replayed in
    the object database give the trees, authors and messages `git rebase` gives."""
    manifest = project(tmp_path, repo, agents=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(worktree_status(orch)["dev"]["path"])
    commit(dev, "shared.txt", "line 1\ndev's line 2\nline 3\n", "dev: change line 2")
    commit(dev, "dev.txt", "dev\n", "dev: add a file")
    commit(dev, "shared.txt", "line 1\nline 2\nline 3\n", "dev: undo the line 2 change\n\nwith a body\n")
    commit(dev, "both.txt", "the same on both sides\n", "dev: a change upstream has too")
    git(dev, "commit", "-q", "--allow-empty", "-m", "dev: an empty commit")
    commit(repo, "both.txt", "the same on both sides\n", "main: the same change")
    commit(repo, "upstream.txt", "new\n", "main: more")
    git(repo, "branch", "by-git", "orch/dev")
    assert orch("sync", "wt").returncode == 0
    scratch = tmp_path / "by-git"
    git(repo, "worktree", "add", "-q", str(scratch), "by-git")
    git(scratch, "rebase", "-q", "main")
    shape = "--format=%T%x00%an%x00%ae%x00%at%x00%B"
    assert git(repo, "log", shape, "main..orch/dev") == git(repo, "log", shape, "main..by-git")
    assert git(dev, "status", "--porcelain") == "" and worktree_status(orch)["dev"]["state"] == "synced"


def test_merge_mode_builds_the_merge_without_touching_the_worktree(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev", "qa"), sync="mode: merge\nescalate_to: qa")
    assert orch("apply", str(manifest)).returncode == 0
    status = worktree_status(orch)
    dev, qa = Path(status["dev"]["path"]), Path(status["qa"]["path"])
    own = commit(dev, "dev.txt", "dev\n")
    mine = commit(qa, "shared.txt", "line 1\nqa's line 2\nline 3\n")
    upstream = commit(repo, "shared.txt", "line 1\nmain's line 2\nline 3\n")
    assert orch("sync", "wt").returncode == 0
    assert git(dev, "rev-parse", "HEAD^1", "HEAD^2").split() == [own, upstream]
    assert git(dev, "log", "-1", "--format=%s") == "Merge branch 'main' into orch/dev"
    assert git(qa, "rev-parse", "HEAD") == mine and git(qa, "status", "--porcelain") == ""
    assert worktree_status(orch)["qa"]["conflict_files"] == ["shared.txt"]
    told = [e["text"] for e in toy_log(tmp_path / "logs" / "qa.log")]
    assert len(told) == 1 and "shared.txt" in told[0] and "did not merge" in told[0]


def test_a_project_applied_before_upstreams_were_stored_gets_its_upstream_or_a_problem(tmp_path, repo, orch,
                                                                                     tmux_socket, orch_home):
    import sqlite3

    manifest = implicit(tmp_path, repo, agents=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    with sqlite3.connect(orch_home / "state.db") as conn:  # as an older orch left it
        conn.execute("UPDATE projects SET upstream = NULL, desired_key = NULL")
    assert orch("apply", str(manifest)).returncode == 0  # main is checked out: stored now
    assert status_project(orch)["upstream"] == "main"
    with sqlite3.connect(orch_home / "state.db") as conn:
        conn.execute("UPDATE projects SET upstream = NULL, desired_key = NULL")
    git(repo, "checkout", "-q", "--detach")
    for _ in range(2):
        result = orch("reconcile", str(manifest))
        assert result.returncode == 1 and "spec.upstream" in result.stdout, result.stdout + result.stderr
    assert len(events(orch, "git.problem")) == 1
    status = status_project(orch)
    assert status["agents"][0]["alive"] and status["agents"][0]["worktree"]["state"] == "unknown"
    assert orch("destroy", "wt", "--yes").returncode == 0
