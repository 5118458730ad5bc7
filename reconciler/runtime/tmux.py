"""The one door to tmux: every tmux process orch starts goes through `Tmux.run`.

Commands are argv lists, never shell strings. Several commands are chained into one tmux
process with ";" arguments (one process for a whole batch of windows). Targets are tmux ids
(`$1`, `@2`, `%3`) or exact names (`=name`), so no user text is ever parsed as a target
pattern, and text that tmux would format-expand (`-c` folders) is escaped.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from reconciler.errors import UserError

Command = list[str]


class TmuxError(UserError):
    """tmux refused a command; the message carries tmux's own words."""


@dataclass(frozen=True)
class TmuxResult:
    returncode: int
    stdout: str
    stderr: str


def escape_format(text: str) -> str:
    """Protect text that tmux format-expands (e.g. `new-window -c`): '#' becomes '##'."""
    return text.replace("#", "##")


def chain(commands: list[Command]) -> list[str]:
    """Join commands into one argv with ';' separators.

    tmux ends a command at an argument that ends in ';', so such an argument gets a trailing
    space-free escape: tmux turns a final '\\;' back into ';'.
    """
    argv: list[str] = []
    for index, command in enumerate(commands):
        if index:
            argv.append(";")
        argv.extend(arg[:-1] + "\\;" if arg.endswith(";") else arg for arg in command)
    return argv


# tmux sends a command to its server as one message of at most 16 KiB (MAX_IMSGSIZE): a longer
# chain fails with "command too long" (or "failed to send command" just below it; 3.3a refused
# 16,350 bytes and took 16,300). Chains are cut well below that.
MAX_CHAIN_BYTES = 12_000


def chain_bytes(commands: list[Command]) -> int:
    """What a chain weighs in tmux's message: each argument and its terminating NUL."""
    return sum(len(arg.encode()) + 1 for arg in chain(commands))


def batches(groups: list[list[Command]], limit: int = MAX_CHAIN_BYTES) -> list[list[int]]:
    """Consecutive groups (indices) whose chain stays within `limit`; a group is never split
    (one over the limit goes alone, and tmux says why it refuses it)."""
    out: list[list[int]] = []
    size = 0
    for index, group in enumerate(groups):
        weight = chain_bytes(group) + 2  # and the ";" that joins it to the previous group
        if out and size + weight <= limit:
            out[-1].append(index)
            size += weight
        else:
            out.append([index])
            size = weight
    return out


class Tmux:
    """A tmux server: the user's default one, or `-L socket_name`."""

    def __init__(self, socket_name: str | None = None):
        self.socket_name = socket_name or None

    def base(self) -> list[str]:
        return ["tmux", "-L", self.socket_name] if self.socket_name else ["tmux"]

    def run(self, *commands: Command, input: str | None = None, check: bool = True) -> TmuxResult:
        argv = self.base() + chain(list(commands))
        try:
            proc = subprocess.run(
                argv, input=input, capture_output=True, text=True, timeout=30,
                env=_clean_env(),
            )
        except FileNotFoundError:
            raise UserError("tmux is not installed (install it, e.g. `apt-get install tmux`)") from None
        except subprocess.TimeoutExpired:
            raise TmuxError(f"tmux did not answer within 30 s: {' '.join(argv[:6])} ...") from None
        result = TmuxResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise TmuxError(f"tmux {commands[0][0]} failed: {proc.stderr.strip() or 'exit ' + str(proc.returncode)}")
        return result

    def server_running(self, result: TmuxResult) -> bool:
        err = result.stderr
        return not any(text in err for text in (
            "no server running", "error connecting", "No such file", "server exited unexpectedly"))


def _clean_env() -> dict[str, str]:
    """Our environment minus TMUX, so `-L` is honoured even when orch runs inside tmux."""
    env = dict(os.environ)
    env.pop("TMUX", None)
    env.pop("TMUX_PANE", None)
    return env
