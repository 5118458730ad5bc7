"""`orch service`: the systemd user unit for the watcher (pure builder, and the CLI writing it)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.errors import UserError
from reconciler.service import environment_line, unit_path, unit_text
from tests.conftest import ORCH

ENABLE = "systemctl --user daemon-reload && systemctl --user enable --now orch-watch.service"


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_unit_runs_the_watcher_with_the_absolute_orch_and_restarts_always():
    text = unit_text("/opt/orch/bin/orch", {"ORCH_HOME": "/srv/orch", "ORCH_TMUX_SOCKET": "agents"})
    assert "ExecStart=/opt/orch/bin/orch reconcile --watch" in lines(text)
    assert "Restart=always" in lines(text)
    assert "RestartSec=2" in lines(text)
    assert 'Environment="ORCH_HOME=/srv/orch"' in lines(text)
    assert 'Environment="ORCH_TMUX_SOCKET=agents"' in lines(text)
    assert "KillMode=process" in lines(text)  # restarting the watcher never kills the agents' tmux server
    assert lines(text)[-2:] == ["[Install]", "WantedBy=default.target"]
    assert "Environment" not in unit_text("/opt/orch/bin/orch", {})


def test_values_are_escaped_per_systemd_rules():
    assert environment_line("ORCH_HOME", '/my state/50% "x" \\ $HOME') == \
        'Environment="ORCH_HOME=/my state/50%% \\"x\\" \\\\ $HOME"'
    text = unit_text("/home/me/my tools/100%/orch")
    assert 'ExecStart="/home/me/my tools/100%%/orch" reconcile --watch' in lines(text)


@pytest.mark.parametrize("bad", ["/srv/orch\nExecStartPre=/bin/rm -rf ~", "/srv/orch\r", "a\0b"])
def test_newlines_are_refused(bad):
    with pytest.raises(UserError, match="newline"):
        unit_text("/opt/orch/bin/orch", {"ORCH_HOME": bad})
    with pytest.raises(UserError, match="newline"):
        unit_text(bad if bad.startswith("/") else "/" + bad)


def test_a_relative_or_unrunnable_orch_path_is_refused():
    with pytest.raises(UserError, match="absolute"):
        unit_text("orch")
    with pytest.raises(UserError, match="quotes"):
        unit_text('/opt/"orch"/orch')


def test_systemd_accepts_the_unit(tmp_path):
    folder = tmp_path / "odd dir 50%"
    folder.mkdir()
    executable = folder / "orch"
    shutil.copy2(sys.executable, executable)
    unit = tmp_path / "orch-watch.service"
    unit.write_text(unit_text(str(executable), {"ORCH_HOME": '/state "50%" \\here', "ORCH_TMUX_SOCKET": "s"}))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "orch-watch.service" not in result.stderr, result.stderr


def test_unit_path_respects_xdg_config_home(tmp_path):
    assert unit_path({"XDG_CONFIG_HOME": str(tmp_path), "HOME": "/home/me"}) == \
        tmp_path / "systemd" / "user" / "orch-watch.service"
    assert unit_path({"HOME": "/home/me"}) == Path("/home/me/.config/systemd/user/orch-watch.service")
    assert unit_path({"XDG_CONFIG_HOME": "relative", "HOME": "/home/me"}).parts[:4] == ("/", "home", "me", ".config")


# -- the CLI -----------------------------------------------------------------------------------


def orch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ORCH, *args], capture_output=True, text=True, timeout=60)


def test_install_and_uninstall_under_xdg_config_home(tmp_path, monkeypatch):
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("ORCH_TMUX_SOCKET", "agents")
    unit = config / "systemd" / "user" / "orch-watch.service"

    result = orch("service", "install")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(unit.stat().st_mode) in (0o644, 0o600)
    text = unit.read_text()
    assert f"ExecStart={ORCH} reconcile --watch" in lines(text)
    assert f'Environment="ORCH_HOME={Path(os.environ["ORCH_HOME"]).resolve()}"' in lines(text)
    assert 'Environment="ORCH_TMUX_SOCKET=agents"' in lines(text)
    assert ENABLE in result.stdout
    assert "loginctl enable-linger $USER" in result.stdout

    again = orch("service", "install", "-o", "json")
    assert json.loads(again.stdout)["status"] == "unchanged"
    unit.write_text(text.replace("RestartSec=2", "RestartSec=9"))
    updated = orch("service", "install")
    assert "updated" in updated.stdout and "systemctl --user restart orch-watch.service" in updated.stdout
    assert unit.read_text() == text

    wants = unit.parent / "default.target.wants"  # what `systemctl --user enable` creates
    wants.mkdir()
    (wants / "orch-watch.service").symlink_to(unit)
    removed = orch("service", "uninstall")
    assert removed.returncode == 0, removed.stderr
    assert not unit.exists() and not (wants / "orch-watch.service").is_symlink()
    assert "systemctl --user stop orch-watch.service" in removed.stdout
    gone = orch("service", "uninstall")
    assert gone.returncode == 0 and "no unit" in gone.stdout


def test_print_shows_the_unit_without_writing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    result = orch("service", "install", "--print")
    assert result.returncode == 0, result.stderr
    assert f"ExecStart={ORCH} reconcile --watch" in lines(result.stdout)
    assert "Restart=always" in lines(result.stdout)
    assert "ORCH_TMUX_SOCKET" not in result.stdout  # not set here, so not written
    assert not (tmp_path / "config").exists()


def test_default_location_is_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    result = orch("service", "install")
    assert result.returncode == 0, result.stderr
    assert (Path(os.environ["HOME"]) / ".config" / "systemd" / "user" / "orch-watch.service").is_file()


def test_help_documents_enabling_and_the_tmux_alternative():
    result = orch("service", "--help")
    assert ENABLE in result.stdout
    assert "loginctl enable-linger $USER" in result.stdout
    assert "tmux new-window -d -n orch-watch 'orch reconcile --watch'" in result.stdout
