"""ORCH_HOME: where orch keeps its database, locks and per-project folders (0700, files 0600)."""

from __future__ import annotations

import os
from pathlib import Path


def default_home() -> Path:
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "orch"


def resolve_home(explicit: str | None) -> Path:
    chosen = explicit or os.environ.get("ORCH_HOME")
    return (Path(chosen).expanduser() if chosen else default_home()).resolve()  # git records real paths


def private_dir(path: Path) -> Path:
    """Create `path` and its missing parents 0700 (mkdir(parents=True) would give the parents the
    umask's mode); make `path` 0700; refuse a folder owned by someone else, or a path that is (or
    lies under) a file."""
    from reconciler.errors import UserError

    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise UserError(f"{blocker} is not a folder: orch needs {path} to be one; "
                        "choose another --home (or ORCH_HOME)")
    for level in reversed([p for p in (path, *path.parents) if not p.exists()]):
        level.mkdir(mode=0o700, exist_ok=True)
    info = path.stat()
    if info.st_uid != os.getuid():
        raise UserError(f"{path} belongs to another user; choose another --home")
    if info.st_mode & 0o077:
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Make sure `path` exists with mode 0600."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path


TEMP_TAG = ".orch-tmp-"


def write_atomic(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Write `path` whole or not at all (a temp file in the same folder, then a rename), with `mode`."""
    import secrets

    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}{TEMP_TAG}{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        os.fchmod(fd, mode)  # the umask does not get a say
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def project_folder(home: Path, project: str, project_id: str) -> Path:
    """ORCH_HOME/projects/<project>-<id>: a project's worktrees, saved logs and session_state.json."""
    return home / "projects" / f"{project}-{project_id}"
