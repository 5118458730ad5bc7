"""Input a user gets wrong is a user error (exit 1, a message that names it), checked before
anything touches disk: names, durations, ORCH_HOME."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import ORCH


def run(*args: str, env_home: Path | None = None) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ)
    if env_home is not None:
        env["ORCH_HOME"] = str(env_home)
    return subprocess.run([ORCH, *args], capture_output=True, text=True, timeout=60, env=env)


def all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("args", [
    ("destroy", "../../escaped", "--yes"),
    ("events", "../../x"),
    ("status", "../x"),
    ("sync", "../x"),
    ("checkin", "../x/dev", "--in", "10m", "--note", "hi"),
    ("checkin", "--list", "-p", "../x"),
    ("send", "-p", "../x", "dev", "hello"),
    ("credit", "clear", "-p", "../x", "dev"),
    ("destroy", "Shop", "--yes"),
], ids=lambda args: "-".join(a for a in args if not a.startswith("-"))[:40])
def test_a_bad_name_is_refused_before_anything_is_written(args, tmp_path, orch_home):
    before = all_files(tmp_path)
    result = run(*args)
    assert result.returncode == 1, result
    assert "not a valid" in result.stderr and "internal error" not in result.stderr, result.stderr
    assert all_files(tmp_path) == before, "nothing was written, in ORCH_HOME or beside it"


@pytest.mark.parametrize("where", ["file", "under-file"])
def test_orch_home_that_is_not_a_folder_is_a_user_error(where, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")
    home = blocker if where == "file" else blocker / "orch"
    result = run("status", env_home=home)
    assert result.returncode == 1
    assert "internal error" not in result.stderr, result.stderr
    assert str(blocker) in result.stderr and "not a folder" in result.stderr, result.stderr


def test_checkin_beyond_a_year_is_refused_and_stores_nothing(tmp_path, orch_home):
    from reconciler.state.store import Store

    store = Store(orch_home, maintain=True)
    store.register_project("shop", "1a2b3c4d", "/m/orch.yaml", "shop-1a2b3c4d")
    store.update_agent("shop", "dev", started_at=1.0)
    store.close()
    for delay in ("99999999d", "366d", "9999999999h"):
        result = run("checkin", "shop/dev", "--in", delay, "--note", "later")
        assert result.returncode == 1, result
        assert "longer than the maximum of 365d" in result.stderr and "internal error" not in result.stderr
    assert run("checkin", "shop/dev", "--in", "365d", "--note", "in a year").returncode == 0
    listed = run("checkin", "--list")
    assert listed.returncode == 0, listed.stderr
    assert "in a year" in listed.stdout and "later" not in listed.stdout
    assert run("status").returncode == 0
