"""Git hooks that wake the watcher, on real repositories, read by a real FIFO reader.

A hook runs before the git command that triggered it exits, so once `git ...` has returned,
every byte it will ever poke is already in the FIFO: a "no poke" check needs no waiting.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from reconciler.errors import UserError
from reconciler.git.hooks import (
    HOME_FILE, HOOK_NAMES, MARKER, UPSTREAM_FILE, hook_script, hooks_dir, hooks_installed, install_hooks,
    remove_hooks,
)
from tests.conftest import wait_until


def git(cwd: Path, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, input=input, timeout=30)
    if check:
        assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result


def head(cwd: Path, ref: str = "HEAD") -> str:
    return git(cwd, "rev-parse", ref).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    git(tmp_path, "init", "-q", "-b", "main", str(path))
    (path / "a.txt").write_text("a\n")
    git(path, "add", "a.txt")
    git(path, "commit", "-q", "-m", "init")
    return path


class Watcher:
    """A FIFO under ORCH_HOME/run, opened O_RDONLY|O_NONBLOCK, like a watcher's wake FIFO."""

    def __init__(self, home: Path, name: str = "wake-4242.fifo"):
        run = home / "run"
        run.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = run / name
        os.mkfifo(self.path, 0o600)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)

    def take(self) -> int:
        """How many bytes arrived since the last take (0 when none)."""
        got = 0
        while True:
            try:
                chunk = os.read(self.fd, 4096)
            except BlockingIOError:
                return got
            if not chunk:  # no writer has it open: nothing more for now
                return got
            got += len(chunk)

    def wait(self, what: str) -> int:
        return wait_until(self.take, timeout=10, interval=0.005, what=what)

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def watcher(orch_home: Path):
    reader = Watcher(orch_home)
    yield reader
    reader.close()


def user_hook(folder: Path, name: str, body: str, mode: int = 0o755) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(mode)
    return path


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry of a hooks folder: (kind, bytes or link target, mode)."""
    found = {}
    for entry in sorted(folder.iterdir()):
        info = entry.lstat()
        if stat.S_ISLNK(info.st_mode):
            found[entry.name] = ("link", os.readlink(entry), stat.S_IMODE(info.st_mode))
        else:
            found[entry.name] = ("file", entry.read_bytes(), stat.S_IMODE(info.st_mode))
    return found


# -- waking ------------------------------------------------------------------------------------


def test_commit_pokes_the_watcher(repo, orch_home, watcher):
    done = install_hooks(repo, orch_home, "main")
    assert any("post-commit" in line for line in done)
    assert hooks_installed(repo, orch_home, "main")
    assert watcher.take() == 0
    git(repo, "commit", "-q", "--allow-empty", "-m", "x")
    assert watcher.wait("a poke after a commit")


def test_commit_in_a_linked_worktree_pokes(repo, tmp_path, orch_home, watcher):
    install_hooks(repo, orch_home, "main")
    tree = tmp_path / "worktrees" / "dev"
    git(repo, "worktree", "add", "-q", "-b", "orch/dev", str(tree))
    assert hooks_dir(tree) == hooks_dir(repo)  # shared through the common dir
    watcher.take()
    (tree / "b.txt").write_text("b\n")
    git(tree, "add", "b.txt")
    git(tree, "commit", "-q", "-m", "dev's work")
    assert watcher.wait("a poke after a commit in a linked worktree")


def test_upstream_ref_update_pokes_and_other_refs_do_not(repo, orch_home, watcher):
    install_hooks(repo, orch_home, "main")
    first = head(repo)
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    watcher.take()
    git(repo, "update-ref", "refs/heads/other", first)
    git(repo, "update-ref", "refs/tags/v1", first)
    assert watcher.take() == 0  # the hook has run by now: nothing came
    git(repo, "update-ref", "refs/heads/main", first)
    assert watcher.wait("a poke after update-ref refs/heads/main") == 1  # committed state only
    assert head(repo, "main") == first


def test_without_an_upstream_any_branch_update_pokes(repo, orch_home, watcher):
    install_hooks(repo, orch_home, None)
    git(repo, "update-ref", "refs/tags/v1", "HEAD")
    assert watcher.take() == 0
    git(repo, "update-ref", "refs/heads/other", "HEAD")
    assert watcher.wait("a poke after a branch update")


def test_merge_and_rebase_poke_through_their_own_hooks(repo, orch_home, watcher):
    """On branches that are not upstream, so post-merge / post-rewrite are what wakes."""
    install_hooks(repo, orch_home, "main")
    git(repo, "checkout", "-q", "-b", "feature")
    git(repo, "branch", "side")
    git(repo, "commit", "-q", "--allow-empty", "-m", "feature work")
    git(repo, "checkout", "-q", "side")
    git(repo, "commit", "-q", "--allow-empty", "-m", "side work")
    git(repo, "checkout", "-q", "feature")
    watcher.take()
    git(repo, "merge", "-q", "--no-edit", "side")
    assert watcher.wait("a poke after a merge")
    git(repo, "checkout", "-q", "-b", "topic", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "topic work")
    watcher.take()
    git(repo, "rebase", "-q", "feature")
    assert watcher.wait("a poke after a rebase (post-rewrite)")
    git(repo, "commit", "-q", "--amend", "--allow-empty", "-m", "amended")
    assert watcher.wait("a poke after an amend")


def test_every_watcher_is_woken(repo, orch_home):
    install_hooks(repo, orch_home, "main")
    readers = [Watcher(orch_home, f"wake-{n}.fifo") for n in (1, 2, 3)]
    try:
        git(repo, "commit", "-q", "--allow-empty", "-m", "x")
        for reader in readers:
            assert reader.wait("a poke for each watcher")
    finally:
        for reader in readers:
            reader.close()


# -- never in the way --------------------------------------------------------------------------


def test_commit_succeeds_without_orch_home_or_watchers(repo, tmp_path, orch_home):
    install_hooks(repo, orch_home, "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "no run folder")
    # a FIFO whose watcher died without removing it: nobody reads, nothing blocks
    stale = orch_home / "run" / "wake-99999.fifo"
    stale.parent.mkdir(parents=True)
    os.mkfifo(stale, 0o600)
    (orch_home / "run" / "wake-1.fifo").write_text("")  # not a FIFO: left alone
    result = git(repo, "commit", "-q", "--allow-empty", "-m", "stale fifo")
    assert result.stderr == ""
    assert (orch_home / "run" / "wake-1.fifo").read_text() == ""
    os.chmod(orch_home / "run", 0)  # unreadable run folder
    try:
        assert git(repo, "commit", "-q", "--allow-empty", "-m", "unreadable").stderr == ""
    finally:
        os.chmod(orch_home / "run", 0o700)
    import shutil
    shutil.rmtree(orch_home)
    result = git(repo, "commit", "-q", "--allow-empty", "-m", "home deleted")
    assert result.stderr == ""
    git(repo, "update-ref", "refs/heads/main", "HEAD~1")
    (hooks_dir(repo) / HOME_FILE).unlink()  # even its data file gone
    git(repo, "commit", "-q", "--allow-empty", "-m", "data file deleted")
    assert int(git(repo, "rev-list", "--count", "HEAD").stdout) == 5


def test_user_post_commit_hook_still_runs_with_its_arguments(repo, tmp_path, orch_home, watcher, monkeypatch):
    log = tmp_path / "user-hook.log"
    monkeypatch.setenv("HOOKLOG", str(log))  # the user's hooks log what they got, and where
    folder = hooks_dir(repo)
    user_hook(folder, "post-commit", 'printf "post-commit %s|%s\\n" "$#" "$PWD" >>"$HOOKLOG"\n')
    user_hook(folder, "post-merge", 'printf "post-merge %s\\n" "$*" >>"$HOOKLOG"\n')
    user_hook(folder, "post-rewrite", 'printf "post-rewrite %s\\n" "$*" >>"$HOOKLOG"\n'
                                      'while read -r old new rest; do echo "  $old $new" >>"$HOOKLOG"; done\n'
                                      'exit 3\n')
    install_hooks(repo, orch_home, "main")
    watcher.take()
    git(repo, "commit", "-q", "--allow-empty", "-m", "x")
    assert watcher.wait("a poke after the user's hook")
    assert log.read_text().splitlines() == [f"post-commit 0|{repo}"]

    before = head(repo)
    git(repo, "commit", "-q", "--amend", "--allow-empty", "-m", "amended")  # its user hook exits 3
    after = head(repo)
    assert log.read_text().splitlines()[-2:] == ["post-rewrite amend", f"  {before} {after}"]

    git(repo, "checkout", "-q", "-b", "feature")
    git(repo, "commit", "-q", "--allow-empty", "-m", "f")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--squash", "feature")
    assert log.read_text().splitlines()[-1] == "post-merge 1"  # the squash flag


def test_user_reference_transaction_hook_keeps_its_say(repo, tmp_path, orch_home, watcher):
    """Exit 1 in "prepared" still aborts the update; every state sees what git wrote."""
    log, deny = tmp_path / "reftx.log", tmp_path / "deny"
    folder = hooks_dir(repo)
    user_hook(folder, "reference-transaction",
              f'echo "state $1 $#" >>"{log}"\n'
              f'while IFS= read -r line; do echo "  $line" >>"{log}"; done\n'
              f'[ "$1" = prepared ] && [ -e "{deny}" ] && exit 1\n'
              'exit 0\n')
    install_hooks(repo, orch_home, "main")
    first = head(repo)
    git(repo, "commit", "-q", "--allow-empty", "-m", "second")
    second = head(repo)
    watcher.take()

    deny.write_text("")
    log.write_text("")
    result = git(repo, "update-ref", "refs/heads/main", first, check=False)
    assert result.returncode != 0
    assert head(repo, "main") == second  # aborted by the user's hook
    assert watcher.take() == 0
    states = [line for line in log.read_text().splitlines() if line.startswith("state")]
    assert states == ["state prepared 1", "state aborted 1"]

    deny.unlink()
    log.write_text("")
    git(repo, "update-ref", "refs/heads/main", first)
    assert head(repo, "main") == first
    assert watcher.wait("a poke after the allowed update") == 1
    with_orch = log.read_text()
    assert [line for line in with_orch.splitlines() if line.startswith("state")] == \
        ["state prepared 1", "state committed 1"]
    assert " refs/heads/main" in with_orch

    # the same update without orch's hooks: the user's hook saw exactly the same
    git(repo, "update-ref", "refs/heads/main", second)
    remove_hooks(repo)
    log.write_text("")
    git(repo, "update-ref", "refs/heads/main", first)
    assert log.read_text() == with_orch


def test_user_reference_transaction_hook_sees_many_lines_exactly(repo, tmp_path, orch_home, watcher):
    log = tmp_path / "reftx.log"
    folder = hooks_dir(repo)
    user_hook(folder, "reference-transaction", f'[ "$1" = committed ] || exit 0\nexec cat >"{log}"\n')
    install_hooks(repo, orch_home, "main")
    oid = head(repo)
    names = [f"refs/heads/b{n:03d}" for n in range(150)]  # more than one 64-line chunk
    create = "start\n" + "".join(f"update {name} {oid}\n" for name in names)
    create += f"update refs/heads/main {oid} {oid}\nprepare\ncommit\n"
    watcher.take()
    git(repo, "update-ref", "--stdin", input=create)
    with_orch = log.read_bytes()
    assert len(with_orch.splitlines()) >= 151 and with_orch.endswith(b"\n")
    assert watcher.wait("a poke: main was part of the transaction")

    git(repo, "update-ref", "--stdin", input="".join(f"delete {name}\n" for name in names))
    remove_hooks(repo)
    git(repo, "update-ref", "--stdin", input=create)
    assert log.read_bytes() == with_orch


@pytest.mark.parametrize("shell", ["dash", "bash"])
def test_reference_transaction_script_under_each_shell(tmp_path, shell):
    """What git gets with /bin/sh being dash (Debian) or bash (Fedora, macOS)."""
    orch_home = tmp_path / "a home $(touch PWNED) `touch PWNED` * \"q\" 'q' \\"
    assert shutil.which(shell), f"{shell} is not installed (.ci/run installs it)"
    folder = tmp_path / "hooks"
    folder.mkdir()
    script = folder / "reference-transaction"
    script.write_text(hook_script("reference-transaction"))
    (folder / HOME_FILE).write_text(f"{orch_home}\n")
    (folder / UPSTREAM_FILE).write_text("main\n")
    reader = Watcher(orch_home)
    out = tmp_path / "seen"
    user_hook(folder, "reference-transaction.orch-user",
              f'printf "%s\\n" "$*" >"{out}"; cat >>"{out}"; [ "$1" != prepared ]\n')
    lines = "1 2 refs/heads/x\n3 4 refs/heads/main\n"
    try:
        for state, code, poked in (("prepared", 1, 0), ("aborted", 0, 0), ("committed", 0, 1)):
            result = subprocess.run([shell, str(script), state], input=lines, capture_output=True, text=True)
            assert (result.returncode, result.stderr) == (code, "")
            assert out.read_text() == f"{state}\n{lines}"
            assert reader.take() == poked
        result = subprocess.run([shell, str(script), "committed"], input="1 2 refs/heads/x\n",
                                capture_output=True, text=True)
        assert result.returncode == 0 and reader.take() == 0
        assert not list(tmp_path.rglob("PWNED*"))
    finally:
        reader.close()


# -- install / remove --------------------------------------------------------------------------


def test_install_twice_is_idempotent(repo, tmp_path, orch_home):
    log = tmp_path / "count"
    folder = hooks_dir(repo)
    user_hook(folder, "post-commit", f'echo ran >>"{log}"\n')
    first = install_hooks(repo, orch_home, "main")
    assert any("kept your post-commit hook" in line for line in first)
    before = snapshot(folder)
    assert install_hooks(repo, orch_home, "main") == []
    assert snapshot(folder) == before
    assert not (folder / "post-commit.orch-user.orch-user").exists()
    git(repo, "commit", "-q", "--allow-empty", "-m", "x")
    assert log.read_text() == "ran\n"  # once, not wrapped twice
    # a second ORCH_HOME and another upstream are added to the data files, once
    other = tmp_path / "other-home"
    assert install_hooks(repo, other, "release")
    assert install_hooks(repo, other, "release") == []
    assert (folder / HOME_FILE).read_text() == f"{orch_home}\n{other}\n"
    assert (folder / UPSTREAM_FILE).read_text() == "main\nrelease\n"


def test_hooks_and_data_files_hold_no_paths(repo, tmp_path, orch_home):
    install_hooks(repo, orch_home, "main")
    folder = hooks_dir(repo)
    for name in HOOK_NAMES:
        text = (folder / name).read_text()
        assert text == hook_script(name)
        assert MARKER in text.splitlines()[:3]
        assert str(tmp_path) not in text
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o755
    for data in (HOME_FILE, UPSTREAM_FILE):
        assert stat.S_IMODE((folder / data).stat().st_mode) == 0o600
    assert (folder / HOME_FILE).read_text() == f"{orch_home}\n"


def test_remove_restores_the_users_hooks_byte_for_byte(repo, tmp_path, orch_home):
    folder = hooks_dir(repo)
    user_hook(folder, "post-commit", "echo mine\n", mode=0o750)
    (folder / "post-merge").write_bytes(b"#!/bin/sh\n# caf\xe9 \xff not utf-8\r\nexit 0\n")
    (folder / "post-merge").chmod(0o700)
    user_hook(folder, "shared-script", "exit 0\n")
    (folder / "post-rewrite").symlink_to("shared-script")
    (folder / "reference-transaction").write_text("not executable: git ignores it\n")
    (folder / "reference-transaction").chmod(0o644)
    before = snapshot(folder)

    install_hooks(repo, orch_home, "main")
    assert (folder / "post-rewrite.orch-user").is_symlink()
    assert (folder / "post-commit.orch-user").read_text() == "#!/bin/sh\necho mine\n"
    git(repo, "commit", "-q", "--allow-empty", "-m", "x")  # the 0644 user hook is skipped, as git would

    done = remove_hooks(repo)
    assert sum("restored your" in line for line in done) == 4
    assert snapshot(folder) == before
    assert remove_hooks(repo) == []
    assert not hooks_installed(repo, orch_home, "main")


def test_remove_leaves_what_is_not_orchs(repo, orch_home):
    folder = hooks_dir(repo)
    user_hook(folder, "post-commit", "echo v1\n")
    install_hooks(repo, orch_home, "main")
    # a hook manager re-installs itself over orch's hook
    user_hook(folder, "post-commit", "echo v2\n")
    assert not hooks_installed(repo, orch_home, "main")
    done = install_hooks(repo, orch_home, "main")
    assert any("left" in line and "post-commit" in line for line in done)
    assert (folder / "post-commit").read_text() == "#!/bin/sh\necho v2\n"
    done = remove_hooks(repo)
    assert (folder / "post-commit").read_text() == "#!/bin/sh\necho v2\n"
    assert (folder / "post-commit.orch-user").read_text() == "#!/bin/sh\necho v1\n"
    assert not (folder / "post-merge").exists()
    assert not (folder / HOME_FILE).exists()


def test_installed_means_this_home_and_this_upstream_are_listed(repo, tmp_path, orch_home):
    other = tmp_path / "other-home"
    install_hooks(repo, orch_home, "main")
    assert hooks_installed(repo, orch_home, "main")
    assert not hooks_installed(repo, other, "main")  # a second ORCH_HOME would never be woken
    assert not hooks_installed(repo, orch_home, "release")  # nor a changed upstream
    install_hooks(repo, other, "release")
    assert hooks_installed(repo, other, "release") and hooks_installed(repo, orch_home, "main")


def test_remove_for_one_home_keeps_hooks_for_another(repo, tmp_path, orch_home):
    other = tmp_path / "other-home"
    install_hooks(repo, orch_home, "main")
    install_hooks(repo, other, "main")
    remove_hooks(repo, home=other)
    assert hooks_installed(repo, orch_home, "main")
    assert (hooks_dir(repo) / HOME_FILE).read_text() == f"{orch_home}\n"
    remove_hooks(repo, home=orch_home)
    assert not hooks_installed(repo, orch_home, "main")
    assert not (hooks_dir(repo) / "post-commit").exists()


@pytest.mark.parametrize("where", ["relative", "absolute"])
def test_core_hooks_path_is_honoured(repo, tmp_path, orch_home, watcher, where):
    target = tmp_path / "shared hooks" if where == "absolute" else repo / "myhooks"
    git(repo, "config", "core.hooksPath", str(target) if where == "absolute" else "myhooks")
    if where == "relative":  # inside the checkout: orch writes there only where git ignores it
        assert "not installed" in install_hooks(repo, orch_home, "main")[0]
        assert not target.exists()
        (repo / ".git" / "info" / "exclude").write_text("/myhooks/\n")
    assert hooks_dir(repo) == target
    (repo / "sub").mkdir()
    assert hooks_dir(repo / "sub") == target
    install_hooks(repo, orch_home, "main")
    assert (target / "post-commit").is_file()
    assert not (repo / ".git" / "hooks" / "post-commit").exists()
    watcher.take()
    git(repo / "sub", "commit", "-q", "--allow-empty", "-m", "from a subfolder")
    assert watcher.wait("a poke through core.hooksPath")
    assert git(repo, "status", "--porcelain", "--ignored=no").stdout == ""
    remove_hooks(repo)
    assert not (target / "post-commit").exists()


def test_tracked_hooks_folder_in_the_checkout_is_left_alone(repo, orch_home):
    """core.hooksPath=.githooks, committed with the project: orch must not dirty the checkout."""
    folder = repo / ".githooks"
    folder.mkdir()
    user_hook(folder, "post-commit", "exit 0\n")
    git(repo, "add", ".githooks")
    git(repo, "commit", "-q", "-m", "shared hooks")
    git(repo, "config", "core.hooksPath", ".githooks")
    done = install_hooks(repo, orch_home, "main")
    assert len(done) == 1 and "not installed" in done[0] and "post-commit" in done[0]
    assert sorted(path.name for path in folder.iterdir()) == ["post-commit"]
    assert git(repo, "status", "--porcelain").stdout == ""
    assert not hooks_installed(repo, orch_home, "main")


def test_bare_repository(tmp_path, repo, orch_home, watcher):
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    assert hooks_dir(bare) == bare / "hooks"
    install_hooks(bare, orch_home, "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "to push")
    watcher.take()
    git(repo, "push", "-q", str(bare), "main")  # receive-pack's ref update
    assert watcher.wait("a poke after a push into the bare repository")


def test_hostile_orch_home_path_works_and_executes_nothing(repo, tmp_path):
    home = tmp_path / "my home 'q' \"dq\" $(touch PWNED) `touch PWNED2` ; * [x] $HOME \\"
    reader = Watcher(home)
    decoy = Watcher(tmp_path / "my home 'q' \"dq\" $(touch PWNED) `touch PWNED2` ; a [x] $HOME \\")
    try:
        install_hooks(repo, home, "main")
        for name in HOOK_NAMES:
            assert "PWNED" not in (hooks_dir(repo) / name).read_text()
        git(repo, "commit", "-q", "--allow-empty", "-m", "x")
        assert reader.wait("a poke through a hostile path") == 2  # post-commit, and main moved
        git(repo, "update-ref", "refs/heads/main", "HEAD~1")
        assert reader.wait("a poke after update-ref") == 1
        assert decoy.take() == 0  # the `*` in the path is not a pattern
        assert not list(tmp_path.rglob("PWNED*")) and not list(Path.cwd().glob("PWNED*"))
        assert remove_hooks(repo)
    finally:
        reader.close()
        decoy.close()
    with pytest.raises(UserError):
        install_hooks(repo, tmp_path / "new\nline", "main")


def test_hooks_path_that_is_not_a_folder_is_reported(repo, orch_home):
    git(repo, "config", "core.hooksPath", "/dev/null")  # how some people turn hooks off
    done = install_hooks(repo, orch_home, "main")
    assert len(done) == 1 and "not installed" in done[0]
    assert not hooks_installed(repo, orch_home, "main")
    assert remove_hooks(repo) == []


def test_a_copy_of_orchs_hook_is_never_chained_to_itself(repo, orch_home, watcher):
    folder = hooks_dir(repo)
    (folder / "post-commit.orch-user").write_text(hook_script("post-commit"))
    (folder / "post-commit.orch-user").chmod(0o755)
    install_hooks(repo, orch_home, "main")
    assert not (folder / "post-commit.orch-user").exists()
    git(repo, "commit", "-q", "--allow-empty", "-m", "x")
    assert watcher.wait("a poke") == 2
