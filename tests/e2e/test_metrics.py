"""`orch metrics` over a real watcher's ledger: check-ins delivered, a restart, the three formats."""

from __future__ import annotations

import os
import signal

from tests.conftest import tmux, toy_manifest, wait_until
from tests.e2e.test_checkins import notes, watchers  # noqa: F401  (fixture)


def test_metrics_count_delivered_checkins_and_a_restart(tmp_path, orch, tmux_socket, watchers):  # noqa: F811
    manifest = toy_manifest(tmp_path, agents={"dev": "checkins:\n  - every: 1s\n    note: status"})
    assert orch("apply", str(manifest)).returncode == 0
    watchers(str(manifest), "--interval", "30")
    wait_until(lambda: len(notes(tmp_path / "logs" / "dev.log")) >= 2, timeout=20, what="two check-ins")
    os.kill(int(tmux(tmux_socket, "list-panes", "-a", "-F", "#{pane_pid}").split()[0]), signal.SIGKILL)
    wait_until(lambda: orch.json("metrics")["projects"][0]["restarts"] >= 1, timeout=20, what="a restart counted")

    document = orch.json("metrics", "demo")
    project = document["projects"][0]
    assert document["concurrent_projects"] == 1 and project["agents"] == 1
    checkins = project["checkins"]
    assert checkins["delivered"] >= 2 and checkins["due"] >= checkins["delivered"]
    assert 0 < checkins["success_rate"] <= 1
    assert 0 <= checkins["lateness_p50_s"] <= checkins["lateness_p99_s"] < 5

    text = orch("metrics")
    assert text.returncode == 0 and "check-ins" in text.stdout and "restart" in text.stdout
    textfile = tmp_path / "orch.prom"
    prom = orch("metrics", "-o", "prometheus", "--textfile", str(textfile))
    assert prom.returncode == 0
    assert 'orch_restarts_total{project="demo"}' in prom.stdout
    assert textfile.read_text() == prom.stdout


def test_metrics_refuse_a_bad_since_and_an_unknown_project(orch, orch_home):
    bad = orch("metrics", "--since", "yesterday")
    assert bad.returncode == 1 and "--since" in bad.stderr
    unknown = orch("metrics", "nosuch")
    assert unknown.returncode == 1 and "no project named 'nosuch'" in unknown.stderr


def test_the_watcher_keeps_a_metrics_textfile(tmp_path, orch, tmux_socket, watchers):  # noqa: F811
    manifest = toy_manifest(tmp_path, agents={"dev": ""})
    assert orch("apply", str(manifest)).returncode == 0
    textfile = tmp_path / "orch.prom"
    watchers(str(manifest), "--metrics-textfile", str(textfile))
    text = wait_until(lambda: textfile.exists() and textfile.read_text(), timeout=20, what="the textfile")
    assert 'orch_agents{project="demo"} 1' in text and text.endswith("orch_projects 1\n")


def test_sync_latency_is_measured_from_the_upstream_commit(tmp_path, orch, tmux_socket):
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", "-b", "main")
    git("commit", "-q", "--allow-empty", "-m", "start")
    manifest = toy_manifest(tmp_path, agents={"dev": ""}, extra=f"  repo: {repo}\n")
    assert orch("apply", str(manifest)).returncode == 0
    git("commit", "-q", "--allow-empty", "-m", "upstream moves")
    assert orch("sync", "demo").returncode == 0
    sync = orch.json("metrics", "demo")["projects"][0]["sync"]
    assert sync["syncs"] == 1 and sync["conflicts"] == 0
    assert 0 <= sync["latency_p50_s"] == sync["latency_p99_s"] < 30
