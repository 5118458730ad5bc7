"""`orch status` as a board over several projects: a broken manifest shows in its own row only."""

from __future__ import annotations

from tests.conftest import toy_manifest


def test_a_broken_manifest_shows_as_that_projects_error_and_the_others_carry_on(tmp_path, orch, tmux_socket):
    shop_dir, blog_dir = tmp_path / "shop", tmp_path / "blog"
    shop_dir.mkdir(), blog_dir.mkdir()
    shop = toy_manifest(shop_dir, project="shop", agents={"dev": ""})
    blog = toy_manifest(blog_dir, project="blog", agents={"writer": ""})
    assert orch("apply", str(shop)).returncode == 0 and orch("apply", str(blog)).returncode == 0
    assert all(p["error"] is None for p in orch.json("status")["projects"])

    shop.write_text(shop.read_text().replace("    - name: dev\n", "    - name: dev\n      colour: blue\n"))
    document = {p["name"]: p for p in orch.json("status")["projects"]}
    assert document["blog"]["error"] is None
    error = document["shop"]["error"]
    assert error.startswith(f"{shop}:") and "colour" in error
    assert document["shop"]["agents"][0]["alive"]  # the last applied version keeps running
    assert document["shop"]["agents"][0]["last_activity"]  # the pane has printed its prompt

    text = orch("status")
    assert text.returncode == 0
    assert f"! manifest: {shop}:" in text.stdout and text.stdout.count("! manifest") == 1
    assert "\x1b[" not in text.stdout  # not a terminal: no colour

    shop.unlink()
    assert "cannot be read" in {p["name"]: p for p in orch.json("status")["projects"]}["shop"]["error"]


def test_the_board_shows_a_worktrees_commits_as_lines_added_and_removed(tmp_path, orch, tmux_socket):
    import subprocess
    from pathlib import Path

    def git(cwd, *args: str) -> None:
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)

    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "app.py").write_text("one\ntwo\nthree\n")
    git(repo, "add", "app.py")
    git(repo, "commit", "-q", "-m", "start")
    manifest = toy_manifest(tmp_path, agents={"dev": "", "qa": ""}, extra=f"  repo: {repo}\n")
    assert orch("apply", str(manifest)).returncode == 0
    dev = Path(orch.json("status")["projects"][0]["agents"][0]["worktree"]["path"])
    (dev / "app.py").write_text("one\nTWO\nthree\nfour\n")
    git(dev, "commit", "-q", "-am", "work")

    agents = {a["name"]: a for a in orch.json("status")["projects"][0]["agents"]}
    assert agents["dev"]["worktree"]["diff"] == {"added": 2, "removed": 1}
    assert agents["dev"]["worktree"]["ahead"] == 1
    assert agents["qa"]["worktree"]["diff"] == {"added": 0, "removed": 0}
    assert "synced +1/-0 (2+ 1-)" in orch("status").stdout
