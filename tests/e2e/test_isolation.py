"""Isolation across projects: one name belongs to one file; a tmux server killed under a watcher."""

from __future__ import annotations

import subprocess
import time

from tests.conftest import toy_manifest, wait_until
from tests.e2e.test_checkins import db, watchers  # noqa: F401  (fixture)


def test_two_files_claiming_one_project_name_are_refused_naming_both(tmp_path, orch, tmux_socket):
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir(), second_dir.mkdir()
    first = toy_manifest(first_dir, project="shop", agents={"dev": ""})
    second = toy_manifest(second_dir, project="shop", agents={"qa": ""})
    assert orch("apply", str(first)).returncode == 0
    refused = orch("apply", str(second))
    assert refused.returncode == 1
    assert str(first) in refused.stderr and str(second) in refused.stderr
    assert [a["name"] for a in orch.json("status", "shop")["projects"][0]["agents"]] == ["dev"]


def test_a_killed_tmux_server_comes_back_under_the_watcher_with_due_times_kept(
        tmp_path, orch, tmux_socket, watchers, orch_home):  # noqa: F811
    manifest = toy_manifest(tmp_path, agents={"dev": "checkins:\n  - every: 1h\n    note: hourly",
                                              "qa": ""})
    assert orch("apply", str(manifest)).returncode == 0
    due_before = db(orch_home).execute("SELECT next_due FROM schedules").fetchone()[0]
    watchers(str(manifest), "--interval", "2")
    wait_until(lambda: orch.json("status")["projects"][0]["watcher"], what="the watcher's heartbeat")

    subprocess.run(["tmux", "-L", tmux_socket, "kill-server"], capture_output=True)
    time.sleep(0.3)  # let the server go before looking for the new one
    wait_until(lambda: all(a["alive"] for a in orch.json("status")["projects"][0]["agents"]), timeout=20,
               what="every agent back on a new server")
    assert db(orch_home).execute("SELECT next_due FROM schedules").fetchone()[0] == due_before
