"""Worktrees end to end, on real repositories with real linked worktrees."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import toy_log, toy_manifest, wait_until


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def commit(cwd: Path, name: str, text: str, message: str | None = None) -> str:
    (cwd / name).write_text(text)
    git(cwd, "add", name)
    git(cwd, "commit", "-q", "-m", message or f"change {name}")
    return git(cwd, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit(path, "README.md", "hello\n")
    commit(path, "shared.txt", "line 1\nline 2\nline 3\n")
    return path


def project(tmp_path: Path, repo: Path, agents=("pm", "dev", "qa"), sync: str = "", agent_extra: dict | None = None
            ) -> Path:
    extra = f"  repo: {repo}\n  upstream: main\n"
    if sync:
        extra += "  sync:\n" + "".join(f"    {line}\n" for line in sync.strip().splitlines())
    lines = {name: "" for name in agents}
    lines.update(agent_extra or {})
    return toy_manifest(tmp_path, project="wt", agents=lines, extra=extra)


def worktree_status(orch) -> dict[str, dict]:
    return {a["name"]: a["worktree"] for a in orch.json("status")["projects"][0]["agents"]}


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under a worktree (but .git), byte for byte."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".git" not in p.parts}


def test_apply_gives_each_agent_its_own_worktree(tmp_path, repo, orch, tmux_socket, orch_home):
    manifest = project(tmp_path, repo)
    plan = orch("plan", str(manifest))
    assert all(f"+ worktree {a}" in plan.stdout for a in ("pm", "dev", "qa")), plan.stdout
    result = orch("apply", str(manifest))
    assert result.returncode == 0, result.stderr
    status = worktree_status(orch)
    for agent in ("pm", "dev", "qa"):
        wt = status[agent]
        assert wt["branch"] == f"orch/{agent}" and wt["state"] == "synced" and (wt["ahead"], wt["behind"]) == (0, 0)
        path = Path(wt["path"])
        assert path.parent.parent.name.startswith("wt-") and path.is_relative_to(orch_home / "projects")
        assert git(path, "rev-parse", "--abbrev-ref", "HEAD") == f"orch/{agent}"
        assert (path / "shared.txt").read_text() == "line 1\nline 2\nline 3\n"
    pane_paths = subprocess.run(["tmux", "-L", tmux_socket, "list-panes", "-a", "-F", "#{window_name} #{pane_current_path}"],
                                capture_output=True, text=True).stdout
    assert f"dev {status['dev']['path']}" in pane_paths  # the agent runs in its worktree
    assert orch("plan", str(manifest), "--detailed-exitcode").returncode == 0


def test_sync_rebases_clean_worktrees_and_keeps_agents_commits(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo)
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(worktree_status(orch)["dev"]["path"])
    own = commit(dev, "dev.txt", "dev's work\n")
    upstream = commit(repo, "upstream.txt", "new on main\n")
    assert worktree_status(orch)["dev"]["state"] == "behind"
    result = orch("sync", "wt")
    assert result.returncode == 0, result.stderr
    status = worktree_status(orch)
    assert all(wt["state"] == "synced" and wt["behind"] == 0 for wt in status.values()), status
    assert (dev / "upstream.txt").exists() and (dev / "dev.txt").read_text() == "dev's work\n"
    assert git(dev, "merge-base", "--is-ancestor", upstream, "HEAD") == ""
    assert git(dev, "log", "-1", "--format=%s") == "change dev.txt" and status["dev"]["ahead"] == 1
    assert git(dev, "rev-parse", "HEAD") != own  # rebased, so a new commit with the same change


def test_dirty_worktrees_are_left_byte_for_byte(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo)
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(worktree_status(orch)["dev"]["path"])
    (dev / "shared.txt").write_text("half-done edit\n")
    (dev / "notes.tmp").write_text("untracked scratch\n")
    head, before = git(dev, "rev-parse", "HEAD"), tree_digest(dev)
    index_before = (Path(git(dev, "rev-parse", "--git-dir")) / "index").read_bytes()
    commit(repo, "upstream.txt", "new\n")
    assert orch("sync", "wt").returncode == 0
    assert orch("sync", "wt").returncode == 0
    assert tree_digest(dev) == before and git(dev, "rev-parse", "HEAD") == head
    assert (Path(git(dev, "rev-parse", "--git-dir")) / "index").read_bytes() == index_before
    status = worktree_status(orch)
    assert status["dev"]["state"] == "dirty" and status["dev"]["dirty"] is True
    assert status["qa"]["state"] == "synced"
    events = [json.loads(l) for l in orch("events", "wt", "-o", "json", "-n", "200").stdout.splitlines()]
    assert len([e for e in events if e["kind"] == "sync.skipped" and e["agent"] == "dev"]) == 1
    assert git(dev, "stash", "list") == ""
    (dev / "shared.txt").write_text("line 1\nline 2\nline 3\n")  # clean again: retried and synced
    (dev / "notes.tmp").unlink()
    assert orch("sync", "wt").returncode == 0
    assert worktree_status(orch)["dev"]["state"] == "synced"


def test_a_conflict_is_aborted_and_escalated_once_per_upstream_commit(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, sync="escalate_to: pm")
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(worktree_status(orch)["dev"]["path"])
    commit(dev, "shared.txt", "line 1\ndev's line 2\nline 3\n")
    head, before = git(dev, "rev-parse", "HEAD"), tree_digest(dev)
    commit(repo, "shared.txt", "line 1\nmain's line 2\nline 3\n")
    assert orch("sync", "wt").returncode == 0
    assert git(dev, "rev-parse", "HEAD") == head and tree_digest(dev) == before
    assert git(dev, "status", "--porcelain") == ""
    git_dir = Path(git(dev, "rev-parse", "--git-dir"))
    assert not (git_dir / "rebase-merge").exists() and not (git_dir / "rebase-apply").exists()
    status = worktree_status(orch)["dev"]
    assert status["state"] == "conflict" and status["conflict_files"] == ["shared.txt"]
    pm_log = tmp_path / "logs" / "pm.log"
    messages = [e["text"] for e in toy_log(pm_log)]
    assert len(messages) == 1
    assert all(part in messages[0] for part in ("dev", "orch/dev", str(dev), "shared.txt"))
    assert orch("sync", "wt").returncode == 0  # the same upstream commit: not escalated again
    assert len(toy_log(pm_log)) == 1
    commit(repo, "shared.txt", "line 1\nmain's line 2, again\nline 3\n")  # a new conflicting commit: once more
    assert orch("sync", "wt").returncode == 0
    assert len(toy_log(pm_log)) == 2


def test_stale_index_lock_and_leftover_rebase_are_skipped_and_reported(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo)
    assert orch("apply", str(manifest)).returncode == 0
    status = worktree_status(orch)
    dev, qa = Path(status["dev"]["path"]), Path(status["qa"]["path"])
    (Path(git(dev, "rev-parse", "--git-dir")) / "index.lock").write_text("")
    (Path(git(qa, "rev-parse", "--git-dir")) / "rebase-merge").mkdir()
    heads = {name: git(p, "rev-parse", "HEAD") for name, p in (("dev", dev), ("qa", qa))}
    commit(repo, "upstream.txt", "new\n")
    assert orch("sync", "wt").returncode == 0
    assert {name: git(p, "rev-parse", "HEAD") for name, p in (("dev", dev), ("qa", qa))} == heads
    status = worktree_status(orch)
    assert status["dev"]["state"] == "dirty" and status["qa"]["state"] == "dirty"
    assert status["pm"]["state"] == "synced"
    assert (Path(git(dev, "rev-parse", "--git-dir")) / "index.lock").exists()  # never removed by orch
    events = "\n".join(e["message"] for e in map(json.loads, orch("events", "-o", "json").stdout.splitlines()))
    assert "index.lock" in events and "middle of a rebase" in events


def test_a_worktree_folder_deleted_by_hand_is_repaired(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(worktree_status(orch)["dev"]["path"])
    work = commit(dev, "dev.txt", "committed work\n")
    subprocess.run(["rm", "-rf", str(dev)], check=True)
    plan = orch("plan", str(manifest))
    assert "+ worktree dev" in plan.stdout and "existing branch orch/dev" in plan.stdout, plan.stdout
    result = orch("apply", str(manifest))
    assert result.returncode == 0, result.stderr + plan.stdout
    assert git(dev, "rev-parse", "HEAD") == work and (dev / "dev.txt").exists()
    assert worktree_status(orch)["dev"]["state"] == "synced"


def test_a_branch_checked_out_elsewhere_is_reported_clearly(tmp_path, repo, orch, tmux_socket):
    git(repo, "branch", "orch/dev")
    elsewhere = tmp_path / "elsewhere"
    git(repo, "worktree", "add", "-q", str(elsewhere), "orch/dev")
    manifest = project(tmp_path, repo, agents=("dev",))
    result = orch("apply", str(manifest))
    assert result.returncode == 1
    assert "orch/dev" in result.stderr and str(elsewhere) in result.stderr and "Traceback" not in result.stderr
    assert subprocess.run(["tmux", "-L", tmux_socket, "ls"], capture_output=True).returncode != 0


def test_integration_with_a_passing_gate_reaches_the_other_agents(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev", "qa"), sync="integrate: fast-forward\ngate: test -f dev.txt")
    assert orch("apply", str(manifest)).returncode == 0
    git(repo, "checkout", "-q", "--detach")  # upstream not checked out anywhere: advanced with update-ref
    status = worktree_status(orch)
    dev, qa = Path(status["dev"]["path"]), Path(status["qa"]["path"])
    work = commit(dev, "dev.txt", "feature\n")
    assert orch("sync", "wt").returncode == 0
    assert git(repo, "rev-parse", "main") == work
    assert orch("sync", "wt").returncode == 0
    assert (qa / "dev.txt").read_text() == "feature\n"
    events = [json.loads(l)["kind"] for l in orch("events", "-o", "json").stdout.splitlines()]
    assert "gate.passed" in events and "sync.integrated" in events


def test_integration_with_a_failing_gate_does_not_advance_upstream(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev",), sync="integrate: fast-forward\ngate: echo gate-says-no; exit 3")
    assert orch("apply", str(manifest)).returncode == 0
    before = git(repo, "rev-parse", "main")
    commit(Path(worktree_status(orch)["dev"]["path"]), "dev.txt", "feature\n")
    assert orch("sync", "wt").returncode == 0
    assert orch("sync", "wt").returncode == 0  # the same head: the gate is not run again
    assert git(repo, "rev-parse", "main") == before
    events = [json.loads(l) for l in orch("events", "-o", "json").stdout.splitlines()]
    failed = [e for e in events if e["kind"] == "gate.failed"]
    assert len(failed) == 1 and "gate-says-no" in failed[0]["data"]["output"]


def test_upstream_checked_out_in_the_primary_tree_advances_only_when_clean(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev",), sync="integrate: fast-forward")
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(worktree_status(orch)["dev"]["path"])
    (repo / "README.md").write_text("a user's uncommitted edit\n")
    before = git(repo, "rev-parse", "main")
    work = commit(dev, "dev.txt", "feature\n")
    assert orch("sync", "wt").returncode == 0
    assert git(repo, "rev-parse", "main") == before
    assert (repo / "README.md").read_text() == "a user's uncommitted edit\n"
    (repo / "README.md").write_text("hello\n")
    assert orch("sync", "wt").returncode == 0
    assert git(repo, "rev-parse", "main") == work and (repo / "dev.txt").exists()  # advanced through the checkout


def test_removed_agents_keep_worktrees_with_work_and_lose_empty_ones(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev", "qa", "pm"))
    assert orch("apply", str(manifest)).returncode == 0
    status = worktree_status(orch)
    dev, qa = Path(status["dev"]["path"]), Path(status["qa"]["path"])
    commit(dev, "dev.txt", "unmerged work\n")
    manifest.write_text(manifest.read_text().split("    - name: dev\n")[0] +
                        "    - name: pm\n" + manifest.read_text().split("    - name: pm\n")[1])
    assert orch("apply", str(manifest)).returncode == 0
    assert dev.exists() and git(repo, "rev-parse", "--verify", "orch/dev")
    assert not qa.exists()
    assert subprocess.run(["git", "rev-parse", "--verify", "orch/qa"], cwd=repo, capture_output=True).returncode != 0
    assert orch("destroy", "wt", "--yes").returncode == 0
    assert dev.exists() and not Path(status["pm"]["path"]).exists()


def test_the_watcher_propagates_an_upstream_commit_to_every_clean_worktree(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo)
    assert orch("apply", str(manifest)).returncode == 0
    watcher = subprocess.Popen(["orch", "reconcile", "--watch", "--interval", "600", str(manifest)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: orch.json("status")["projects"][0]["watcher"], what="watcher up")
        paths = [Path(wt["path"]) for wt in worktree_status(orch).values()]
        upstream = commit(repo, "upstream.txt", "from main\n")  # the post-commit hook wakes the watcher
        wait_until(lambda: all(subprocess.run(["git", "merge-base", "--is-ancestor", upstream, "HEAD"], cwd=p)
                               .returncode == 0 for p in paths), timeout=10, what="every worktree rebased")
    finally:
        watcher.terminate()
        assert watcher.wait(timeout=30) == 0


def test_reconcile_once_also_syncs_the_worktrees(tmp_path, repo, orch, tmux_socket):
    manifest = project(tmp_path, repo, agents=("dev",))
    assert orch("apply", str(manifest)).returncode == 0
    upstream = commit(repo, "upstream.txt", "new\n")
    assert worktree_status(orch)["dev"]["state"] == "behind"  # apply itself never syncs
    assert orch("apply", str(manifest)).returncode == 0
    assert worktree_status(orch)["dev"]["state"] == "behind"
    result = orch("reconcile", str(manifest))
    assert result.returncode == 0, result.stderr
    dev = Path(worktree_status(orch)["dev"]["path"])
    assert git(dev, "merge-base", "--is-ancestor", upstream, "HEAD") == ""
