"""Shared fixtures: a private tmux server per test, a private ORCH_HOME, the orch CLI as a process.

Real things only: tmux on a socket of its own (`-L orch-test-<random>`, killed afterwards),
real git repositories, real SQLite files. Waiting is polling with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Callable

import pytest

BIN = Path(sys.executable).parent
ORCH = str(BIN / "orch")


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = "") -> Any:
    """Poll `predicate` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@pytest.fixture
def tmux_socket() -> str:
    name = "orch-test-" + secrets.token_hex(4)
    yield name
    socket_path = subprocess.run(["tmux", "-L", name, "display", "-p", "#{socket_path}"],
                                 capture_output=True, text=True).stdout.strip()
    subprocess.run(["tmux", "-L", name, "kill-server"], capture_output=True)
    if socket_path:
        Path(socket_path).unlink(missing_ok=True)


@pytest.fixture
def orch_home(tmp_path: Path) -> Path:
    return tmp_path / "orch-home"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request) -> None:
    """Every test gets its own HOME and ORCH_HOME; orch's bin folder is on PATH for agents."""
    home = tmp_path / "user-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SHELL", "/bin/sh")
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("ORCH_HOME", str(tmp_path / "orch-home"))
    monkeypatch.delenv("ORCH_TMUX_SOCKET", raising=False)
    monkeypatch.delenv("ORCH_PROJECT", raising=False)
    monkeypatch.delenv("ORCH_AGENT", raising=False)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "orch test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "orch test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.invalid")
    if "tmux_socket" in request.fixturenames:
        monkeypatch.setenv("ORCH_TMUX_SOCKET", request.getfixturevalue("tmux_socket"))


class OrchCLI:
    """Runs `orch` as a user would, in a subprocess, with the test's environment."""

    def __call__(self, *args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([ORCH, *args], capture_output=True, text=True, input=input, timeout=timeout)

    def json(self, *args: str) -> Any:
        result = self(*args, "-o", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def orch() -> OrchCLI:
    return OrchCLI()


def tmux(socket: str, *args: str) -> str:
    result = subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True)
    return result.stdout


def write_manifest(folder: Path, text: str, name: str = "orch.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def toy_manifest(folder: Path, project: str = "demo", agents: dict[str, str] | None = None,
                 extra: str = "", log_dir: Path | None = None) -> Path:
    """A manifest of toy agents; `agents` maps name -> extra YAML lines for that agent."""
    agents = agents if agents is not None else {"pm": "", "dev": ""}
    log_dir = log_dir or folder / "logs"
    log_dir.mkdir(exist_ok=True)
    body = ""
    for name, lines in agents.items():
        body += f"    - name: {name}\n      command: orch-toyagent --log {log_dir}/{name}.log\n"
        for line in textwrap.dedent(lines).strip().splitlines():
            body += f"      {line}\n"
    text = (f"apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: {project}\nspec:\n"
            f"{extra}  agents:\n{body}")
    path = folder / "orch.yaml"
    path.write_text(text)
    return path


def toy_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
