"""Git hooks that wake the watcher: post-commit, post-merge, post-rewrite, reference-transaction.

They go where git reads hooks for the repository (`git rev-parse --git-path hooks`, so
`core.hooksPath` is honoured and linked worktrees share them through the common dir). A hook
the user already has is kept beside ours as `<name>.orch-user` (same bytes, same mode, moved
by a hard link so there is never a moment without it) and still runs first, with the same
arguments and input; its exit status is passed through unchanged. orch's own part never
fails: it writes one byte to every `wake-*.fifo` under each listed ORCH_HOME, opening the
FIFO read-write so that the open never blocks, and ignores every error.

The scripts are constant text: no path, note or name is ever interpolated into shell. What
they need comes from data files beside them (0600), read with the `read` builtin:

    orch-hook.home      one ORCH_HOME per line (absolute): whose watchers to wake
    orch-hook.upstream  one branch per line: reference-transaction wakes only when one of
                        these `refs/heads/<branch>` changes (empty: any refs/heads/ change)

Only shell builtins run in orch's part (no grep/sed/cat processes), so a hook run costs
about one start of `/bin/sh`; a commit runs three (reference-transaction "prepared" and
"committed", post-commit): ~3 ms in all (benchmarks/bench_hook.py).

Where core.hooksPath points into a checkout (`.githooks/`), orch writes there only if git
ignores every file it would write: it never makes a checkout dirty.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from reconciler.errors import UserError
from reconciler.git.observe import git
from reconciler.home import TEMP_TAG, write_atomic
from reconciler.locks import hooks_lock

HOOK_NAMES = ("post-commit", "post-merge", "post-rewrite", "reference-transaction")
MARKER = "# orch-managed-hook v1"
MARKER_PREFIX = b"# orch-managed-hook "
USER_SUFFIX = ".orch-user"
HOME_FILE = "orch-hook.home"
UPSTREAM_FILE = "orch-hook.upstream"
DATA_FILES = (HOME_FILE, UPSTREAM_FILE)


# -- the scripts (constant text; nothing from outside is ever put into them) -------------------

_PRELUDE = r"""#!/bin/sh
@MARKER@
# Installed by orch; `orch destroy` removes it. Do not edit: orch rewrites this file.
# Your own @NAME@ hook, if you had one, is kept as @NAME@.orch-user
# and runs first, with the same arguments and input; this hook exits with its status.
# Then the orch watchers whose ORCH_HOME is listed in orch-hook.home are woken: one byte
# to each ORCH_HOME/run/wake-*.fifo, opened read-write so it never blocks. Builtins only.
case $0 in */*) orch_dir=${0%/*} ;; *) orch_dir=. ;; esac
orch_user=$orch_dir/@NAME@.orch-user
orch_poke() {
    [ -n "$ORCH_HOOKS_QUIET" ] && return 0  # orch's own git work: it knows already
    [ -r "$orch_dir/orch-hook.home" ] || return 0
    while IFS= read -r orch_home || [ -n "$orch_home" ]; do
        case $orch_home in /*) ;; *) continue ;; esac
        for orch_fifo in "$orch_home"/run/wake-*.fifo; do
            [ -p "$orch_fifo" ] && printf x 2>/dev/null 1<>"$orch_fifo"
        done
    done <"$orch_dir/orch-hook.home"
    return 0
}
"""

_POST_BODY = r"""orch_status=0
if [ -x "$orch_user" ]; then
    "$orch_user" "$@"
    orch_status=$?
fi
orch_poke
exit $orch_status
"""

# reference-transaction runs for "prepared", "committed" and "aborted". Only "prepared" can
# abort the update (non-zero status): there orch does nothing but hand over to the user's
# hook with `exec` (same stdin, same status). In "committed" it wakes the watchers when an
# upstream branch moved; the user's hook gets the very lines git wrote (captured with `read`).
_REFTX_BODY = r"""if [ "$1" != committed ]; then
    [ -x "$orch_user" ] && exec "$orch_user" "$@"
    exit 0
fi
orch_nl='
'
orch_want=$orch_nl
if [ -r "$orch_dir/orch-hook.upstream" ]; then
    while IFS= read -r orch_line || [ -n "$orch_line" ]; do
        [ -n "$orch_line" ] && orch_want=${orch_want}refs/heads/$orch_line$orch_nl
    done <"$orch_dir/orch-hook.upstream"
fi
orch_keep=
[ -x "$orch_user" ] && orch_keep=1
orch_hit=
orch_in=
orch_chunk=
orch_n=0
while IFS= read -r orch_line || [ -n "$orch_line" ]; do
    if [ -z "$orch_hit" ]; then
        orch_ref=${orch_line#* * }
        case $orch_ref in
            refs/heads/*)
                if [ "$orch_want" = "$orch_nl" ]; then
                    orch_hit=1
                else
                    case $orch_want in *"$orch_nl$orch_ref$orch_nl"*) orch_hit=1 ;; esac
                fi ;;
        esac
    fi
    if [ -n "$orch_keep" ]; then
        orch_chunk=$orch_chunk$orch_line$orch_nl
        orch_n=$((orch_n + 1))
        if [ "$orch_n" -ge 64 ]; then
            orch_in=$orch_in$orch_chunk
            orch_chunk=
            orch_n=0
        fi
    elif [ -n "$orch_hit" ]; then
        break
    fi
done
orch_status=0
if [ -n "$orch_keep" ]; then
    orch_in=$orch_in$orch_chunk
    if [ -n "$orch_in" ]; then
        "$orch_user" "$@" <<ORCH_INPUT
${orch_in%?}
ORCH_INPUT
        orch_status=$?
    else
        "$orch_user" "$@" </dev/null
        orch_status=$?
    fi
fi
[ -n "$orch_hit" ] && orch_poke
exit $orch_status
"""


def hook_script(name: str) -> str:
    """The text of orch's hook `name` (one of HOOK_NAMES); the same for every repository."""
    if name not in HOOK_NAMES:
        raise ValueError(f"orch installs no {name!r} hook")
    body = _REFTX_BODY if name == "reference-transaction" else _POST_BODY
    return _PRELUDE.replace("@MARKER@", MARKER).replace("@NAME@", name) + body


# -- where the hooks go ------------------------------------------------------------------------


def hooks_dir(repo: Path) -> Path:
    """The absolute folder git reads this repository's hooks from (honours core.hooksPath).

    `--git-path hooks` is printed relative to the folder git works from (the worktree's top,
    or the git dir of a bare repository) or is absolute; git 2.31+ resolves it for us with
    `--path-format=absolute`. A relative core.hooksPath is relative to that same folder,
    which is also where hooks run.
    """
    repo = Path(repo)
    found = git("rev-parse", "--path-format=absolute", "--git-path", "hooks", cwd=repo, check=False)
    lines = found.stdout.splitlines()
    if found.returncode == 0 and lines and os.path.isabs(lines[-1]):
        return Path(os.path.normpath(lines[-1]))
    # older git: no --path-format; resolve against the folder git chdirs to
    plain = git("rev-parse", "--git-path", "hooks", cwd=repo).stdout.strip()
    if os.path.isabs(plain):
        return Path(os.path.normpath(plain))
    base = git("rev-parse", "--show-toplevel", cwd=repo, check=False).stdout.strip()
    if not base:  # bare repository: git works (and runs hooks) in the git dir
        base = git("rev-parse", "--absolute-git-dir", cwd=repo).stdout.strip()
    return Path(os.path.normpath(os.path.join(base, plain)))


def _is_orch_hook(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return any(line.startswith(MARKER_PREFIX) for line in head.splitlines()[:4])


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def hooks_installed(repo: Path, home: Path, upstream: str | None) -> bool:
    """True when every orch hook is in place and its data files list this ORCH_HOME (whose watchers it
    wakes) and this upstream (whose moves it reports): a second ORCH_HOME on the same repository, or a
    changed upstream, is not installed yet."""
    folder = hooks_dir(repo)
    if os.fsencode(os.path.abspath(home)) not in _read_lines(folder / HOME_FILE):
        return False
    if upstream and upstream.encode() not in _read_lines(folder / UPSTREAM_FILE):
        return False
    return all(_is_orch_hook(folder / name) for name in HOOK_NAMES)


def is_refusal(line: str) -> bool:
    """Is this line of install_hooks' report a hook or folder left alone (not something done)?"""
    return line.startswith(("left ", "orch's git hooks not installed"))


# -- files -------------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [line for line in data.split(b"\n") if line]


def _write_lines(path: Path, lines: list[bytes]) -> None:
    write_atomic(path, b"".join(line + b"\n" for line in lines), 0o600)


def _merge_line(path: Path, line: bytes) -> bool:
    """Add `line` to the data file `path` unless there; whether the file changed."""
    lines = _read_lines(path)
    if line in lines and path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600:
        return False
    _write_lines(path, lines + ([line] if line not in lines else []))
    return True


@contextmanager
def _locked(home: Path | None, folder: Path) -> Iterator[None]:
    """One installer/remover per hooks folder at a time (an flock under ORCH_HOME/locks)."""
    if home is None:
        yield
        return
    lock = hooks_lock(home, folder)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _keep_user_hook(hook: Path, kept: Path) -> None:
    """Make `kept` the user's hook (same inode: bytes and mode) while `hook` still is it."""
    try:
        os.link(hook, kept, follow_symlinks=False)
    except OSError as err:
        if err.errno == errno.EEXIST:
            raise
        os.rename(hook, kept)  # no hard links here: a moment without the hook, then ours


# -- install / remove --------------------------------------------------------------------------


def install_hooks(repo: Path, home: Path, upstream: str | None) -> list[str]:
    """Install orch's hooks for `repo`, waking the watchers of `home`; what was done.

    Idempotent: a second call changes nothing and returns []. A hook of the user's own is
    kept as `<name>.orch-user` and chained; one that appears although `<name>.orch-user`
    already exists (a hook manager re-installed itself) is left alone and reported.
    """
    folder = hooks_dir(repo)
    home_line = os.fsencode(os.path.abspath(home))
    if b"\n" in home_line:
        raise UserError(f"ORCH_HOME {str(home)!r} contains a newline; choose another --home")
    upstream_line = upstream.encode() if upstream else b""
    if b"\n" in upstream_line or b"\r" in upstream_line:
        raise UserError(f"upstream branch {upstream!r} is not a branch name")
    if os.path.lexists(folder) and not folder.is_dir():  # e.g. core.hooksPath=/dev/null
        return [f"orch's git hooks not installed: git reads hooks from {folder}, which is not a folder "
                "(core.hooksPath); the watcher is not woken by commits in this repository"]
    blocker = _in_a_working_tree(folder)
    if blocker:
        return [f"orch's git hooks not installed: {blocker}"]
    done: list[str] = []
    try:
        with _locked(Path(os.fsdecode(home_line)), folder):
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                done.append(f"created hooks folder {folder}")
            # data first, so a hook that appears finds what it needs
            if _merge_line(folder / HOME_FILE, home_line):
                done.append(f"{folder / HOME_FILE}: wakes watchers of {os.fsdecode(home_line)}")
            if upstream_line and _merge_line(folder / UPSTREAM_FILE, upstream_line):
                done.append(f"{folder / UPSTREAM_FILE}: wakes on changes of refs/heads/{upstream}")
            for name in HOOK_NAMES:
                done.extend(_install_one(folder, name))
    except OSError as err:
        raise UserError(f"could not install orch's git hooks in {folder}: {err.strerror or err}") from None
    return done


def _in_a_working_tree(folder: Path) -> str | None:
    """Why orch must not write into `folder`, when core.hooksPath puts it in a working tree.

    A hooks folder under `.git` is git's own. One inside a checkout (`.githooks/`, husky's
    `.husky/_`) is fine only where git ignores every file orch would write there: replacing a
    tracked hook, or adding untracked files, would make that checkout dirty (and a dirty
    checkout is not synced).
    """
    probe = folder
    while not probe.is_dir():
        if probe.parent == probe:
            return None
        probe = probe.parent
    inside = git("rev-parse", "--is-inside-work-tree", cwd=probe, check=False).stdout.strip()
    if inside != "true":
        return None
    names = [*HOOK_NAMES, *(f"{name}{USER_SUFFIX}" for name in HOOK_NAMES), *DATA_FILES]
    paths = [str(folder / name) for name in names]
    found = git("check-ignore", "--stdin", "-z", cwd=probe, check=False, input="\0".join(paths) + "\0")
    ignored = set(found.stdout.split("\0"))
    exposed = [name for name, path in zip(names, paths) if path not in ignored]
    if not exposed:
        return None
    return (f"git reads hooks from {folder} (core.hooksPath), inside a working tree where "
            f"{', '.join(exposed[:3])}{' ...' if len(exposed) > 3 else ''} would be tracked or untracked "
            f"changes; ignore them there (e.g. `{folder.name}/` in .git/info/exclude) or unset core.hooksPath")


def _install_one(folder: Path, name: str) -> list[str]:
    hook, kept = folder / name, folder / f"{name}{USER_SUFFIX}"
    text = hook_script(name).encode()
    done: list[str] = []
    if _is_orch_hook(kept):  # never chain orch's hook to itself (it would run itself forever)
        kept.unlink()
        done.append(f"removed {kept}: a copy of orch's own hook, not yours")
    if _exists(hook) and not _is_orch_hook(hook):
        if hook.is_dir() and not hook.is_symlink():
            return [f"left {hook} alone: it is a folder, not a hook (orch's {name} hook not installed)"]
        if _exists(kept):
            return [f"left {hook} alone: it is not orch's and {kept.name} already exists "
                    f"(orch's {name} hook not installed; move one of them away and apply again)"]
        _keep_user_hook(hook, kept)
        done.append(f"kept your {name} hook as {kept} (it still runs first)")
    elif _is_orch_hook(hook):
        current = hook.read_bytes()
        if current == text and stat.S_IMODE(hook.stat().st_mode) == 0o755:
            return []
        write_atomic(hook, text, 0o755)
        return [f"updated orch's {name} hook in {folder}"]
    write_atomic(hook, text, 0o755)
    done.append(f"installed orch's {name} hook in {folder}")
    return done


def remove_hooks(repo: Path, home: Path | None = None) -> list[str]:
    """Remove orch's hooks and data files; put back the user's own hooks; what was done.

    With `home`, only that ORCH_HOME is forgotten, and the hooks stay while another ORCH_HOME
    is still listed. Anything that is not orch's is left untouched.
    """
    folder = hooks_dir(repo)
    if not folder.is_dir():
        return []
    homes = _read_lines(folder / HOME_FILE)
    lock_home = home if home is not None else (Path(os.fsdecode(homes[0])) if homes else None)
    if lock_home is not None and not lock_home.is_dir():
        lock_home = None  # never create an ORCH_HOME just to remove hooks
    try:
        with _locked(lock_home, folder):
            return _remove_all(folder, home)
    except OSError as err:
        raise UserError(f"could not remove orch's git hooks from {folder}: {err.strerror or err}") from None


def _remove_all(folder: Path, home: Path | None) -> list[str]:
    done: list[str] = []
    if home is not None:
        homes = _read_lines(folder / HOME_FILE)
        mine = os.fsencode(os.path.abspath(home))
        rest = [line for line in homes if line != mine]
        if rest:
            if rest != homes:
                _write_lines(folder / HOME_FILE, rest)
                done.append(f"{folder / HOME_FILE}: no longer wakes watchers of {os.fsdecode(mine)}")
            return done
    for name in HOOK_NAMES:
        done.extend(_remove_one(folder, name))
    for data in DATA_FILES:
        path = folder / data
        if path.is_file() and not path.is_symlink():
            path.unlink()
            done.append(f"removed {path}")
    for leftover in folder.glob(f".*{TEMP_TAG}*"):
        if any(leftover.name.startswith(f".{n}{TEMP_TAG}") for n in (*HOOK_NAMES, *DATA_FILES)):
            leftover.unlink(missing_ok=True)
    return done


def _remove_one(folder: Path, name: str) -> list[str]:
    hook, kept = folder / name, folder / f"{name}{USER_SUFFIX}"
    if _is_orch_hook(hook):
        if _exists(kept):
            os.replace(kept, hook)  # atomic: the user's hook, its bytes and its mode
            return [f"restored your {name} hook from {kept.name}"]
        hook.unlink()
        return [f"removed orch's {name} hook from {folder}"]
    if _exists(kept) and not _exists(hook):
        os.rename(kept, hook)
        return [f"restored your {name} hook from {kept.name}"]
    if _exists(kept):
        return [f"left {hook} and {kept.name} alone: {name} is not orch's hook"]
    return []
