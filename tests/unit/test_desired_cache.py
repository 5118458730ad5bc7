"""The cached desired state is the desired state: a round trip through JSON changes nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

from reconciler.manifest import desired_cache
from reconciler.manifest.desired import desired_project
from reconciler.manifest.loader import load_manifest


def test_round_trip_with_checkins_worktrees_and_credit(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    manifest = tmp_path / "orch.yaml"
    manifest.write_text(
        "apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: shop\nspec:\n  repo: repo\n  upstream: main\n"
        "  defaults:\n    command: claude\n    env: {A: '1'}\n  sync: {escalate_to: pm, integrate: fast-forward, gate: make test}\n"
        "  credit: {patterns: ['QUOTA'], resume_note: go on, shared: true}\n"
        "  agents:\n    - name: pm\n      brief: hi\n      checkins: [{every: 30m, note: status?}]\n"
        "    - name: dev\n      worktree: false\n      env: {B: '2'}\n")
    loaded = load_manifest(manifest)
    desired = desired_project(loaded, "1a2b3c4d", tmp_path / "home", "sock", "main")
    text = desired_cache.dump(desired)
    assert desired_cache.load(text, desired.orch_env) == desired


def test_the_stored_upstream_is_in_the_key():
    assert desired_cache.cache_key("abc", "main") != desired_cache.cache_key("abc", "dev")
    assert desired_cache.cache_key("abc", None) != desired_cache.cache_key("abd", None)


def test_unreadable_files_miss_the_cache(tmp_path):
    assert desired_cache.read_bytes(tmp_path / "missing.yaml") is None
    assert desired_cache.read_bytes(Path(tmp_path)) is None


def test_restart_is_kept_and_changes_no_spec_hash(tmp_path):
    """`restart` is how a death is handled, not what runs: setting it recreates no window."""
    def desired(extra: str):
        manifest = tmp_path / "orch.yaml"
        manifest.write_text("apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: shop\nspec:\n  agents:\n"
                            f"    - name: dev\n      command: claude\n{extra}")
        return desired_project(load_manifest(manifest), "1a2b3c4d", tmp_path / "home", "sock", "")

    default, fresh = desired(""), desired("      restart: fresh\n")
    assert (default.agents[0].restart, fresh.agents[0].restart) == ("resume", "fresh")
    assert default.agents[0].spec_hash == fresh.agents[0].spec_hash
    assert desired_cache.load(desired_cache.dump(fresh), fresh.orch_env) == fresh
