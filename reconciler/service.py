"""`orch service install|uninstall`: the watcher as a systemd user service.

`unit_text` is a pure builder of the unit file; `install`/`uninstall` are the small writer.
Values are escaped per systemd's rules (quoting, `%` specifiers, `$` in command lines) and
refused when they hold a newline, which no escaping can carry in a unit file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import UserError
from reconciler.home import write_atomic

UNIT_NAME = "orch-watch.service"
UNIT_MODE = 0o644
WANTED_BY = "default.target"

ENABLE_COMMAND = f"systemctl --user daemon-reload && systemctl --user enable --now {UNIT_NAME}"
LINGER_COMMAND = "loginctl enable-linger $USER"
RESTART_COMMAND = f"systemctl --user daemon-reload && systemctl --user restart {UNIT_NAME}"
STOP_COMMAND = f"systemctl --user stop {UNIT_NAME}; systemctl --user daemon-reload"

_SAFE_WORD = re.compile(r"^[A-Za-z0-9/._+,:=@-]+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def config_home(environ: dict[str, str] | os._Environ = os.environ) -> Path:
    """$XDG_CONFIG_HOME when set to an absolute path (as the spec requires), else ~/.config."""
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg)
    return Path(environ.get("HOME") or Path.home()) / ".config"


def unit_path(environ: dict[str, str] | os._Environ = os.environ) -> Path:
    return config_home(environ) / "systemd" / "user" / UNIT_NAME


def _check(label: str, value: str) -> None:
    if any(c in value for c in "\n\r\0"):
        raise UserError(f"{label} contains a newline (or NUL), which a systemd unit cannot hold: {value!r}")


def _escape(value: str) -> str:
    """Inside a double-quoted systemd string: backslash and quote escaped, `%` doubled (specifiers)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")


def exec_path(path: str) -> str:
    """The executable of an ExecStart= line: quoted if need be, `%` doubled.

    systemd expands no variables in the executable itself (a `$` stays literal) and refuses
    one that contains a quote or a backslash ("Executable name contains special characters").
    """
    _check("the orch path", path)
    if not os.path.isabs(path):
        raise UserError(f"the orch path must be absolute, not {path!r}")
    if any(c in path for c in "\"'\\") or any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise UserError(f"systemd cannot run an executable whose path holds quotes, backslashes or control "
                        f"characters: {path!r}; install orch elsewhere")
    return path if _SAFE_WORD.match(path) else '"' + _escape(path) + '"'


def exec_word(word: str) -> str:
    """An argument of an ExecStart= line: `$` is variable expansion there, so it is doubled too."""
    _check("a command-line word", word)
    if _SAFE_WORD.match(word):
        return word
    return '"' + _escape(word).replace("$", "$$") + '"'


def environment_line(name: str, value: str) -> str:
    """`Environment="NAME=value"` (no variable expansion happens in Environment= values)."""
    if not _ENV_NAME.match(name):
        raise UserError(f"{name!r} is not a valid environment variable name")
    _check(name, value)
    return f'Environment="{name}={_escape(value)}"'


def unit_text(orch_path: str, environment: dict[str, str] | None = None) -> str:
    """The unit file: `<orch> reconcile --watch`, restarted always, 2 s apart."""
    command = " ".join([exec_path(orch_path)] + [exec_word(word) for word in ("reconcile", "--watch")])
    env_lines = "".join(environment_line(name, value) + "\n" for name, value in (environment or {}).items())
    return (
        f"# {UNIT_NAME}: keeps orch's projects converged (restarts, check-ins, sync).\n"
        "# Written by `orch service install`; remove it with `orch service uninstall`.\n"
        "[Unit]\n"
        "Description=orch watcher: keep AI coding agents running in tmux\n"
        "\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={command}\n"
        "Restart=always\n"
        "RestartSec=2\n"
        f"{env_lines}"
        "# A tmux server this watcher starts lives in the service's cgroup: stop or restart\n"
        "# only the watcher, never the agents' tmux server.\n"
        "KillMode=process\n"
        "\n"
        "[Install]\n"
        f"WantedBy={WANTED_BY}\n"
    )


@dataclass(frozen=True)
class Change:
    path: Path
    status: str  # "created" | "updated" | "unchanged" | "removed" | "absent"
    also_removed: tuple[Path, ...] = ()


def install(path: Path, text: str) -> Change:
    """Write the unit atomically with mode 0644, creating its folder."""
    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    if old == text:
        os.chmod(path, UNIT_MODE)
        return Change(path, "unchanged")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text, UNIT_MODE)
    return Change(path, "created" if old is None else "updated")


def uninstall(path: Path) -> Change:
    """Remove the unit and the `default.target.wants` link `systemctl enable` made to it.

    Removing the link is what `systemctl --user disable` does; without it, `disable` on a
    unit whose file is gone fails, and a stale link would be left behind.
    """
    path = Path(path)
    link = path.parent / f"{WANTED_BY}.wants" / UNIT_NAME
    removed = []
    if link.is_symlink():
        link.unlink()
        removed.append(link)
    if not path.exists() and not path.is_symlink():
        return Change(path, "absent", tuple(removed))
    path.unlink()
    return Change(path, "removed", tuple(removed))
