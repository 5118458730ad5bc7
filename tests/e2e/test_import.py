"""`orch import`: a manifest for a session started by hand, read from tmux and /proc."""

from __future__ import annotations

import shutil

from tests.conftest import BIN, tmux, wait_until


def hand_made_session(tmp_path, socket: str) -> None:
    """What the old scripts left: a window started with its command, one where a shell was opened
    and the agent typed into it, and a bare shell."""
    work = tmp_path / "work"
    work.mkdir()
    toy = str(BIN / "orch-toyagent")
    tmux(socket, "new-session", "-d", "-s", "team", "-n", "Dev Agent", "-c", str(work), f"{toy} --name dev")
    tmux(socket, "new-window", "-t", "=team", "-n", "pm", "-c", str(work), shutil.which("sh"))
    tmux(socket, "send-keys", "-t", "=team:=pm", f"{toy} --name pm", "Enter")
    tmux(socket, "new-window", "-t", "=team", "-n", "shell", "-c", str(work), shutil.which("sh"))
    wait_until(lambda: "ready" in tmux(socket, "capture-pane", "-p", "-t", "=team:=pm"), what="pm's toy agent")


def test_import_writes_a_manifest_that_validates(tmp_path, orch, tmux_socket):
    hand_made_session(tmp_path, tmux_socket)
    target = tmp_path / "team.yaml"
    result = orch("import", "team", "--file", str(target))
    assert result.returncode == 0, result.stderr
    assert "--adopt" in result.stdout
    text = target.read_text()
    assert orch("validate", str(target)).returncode == 0, text
    assert f'"{BIN / "orch-toyagent"} --name dev"' in text  # from the start command
    assert f"{BIN / 'orch-toyagent'} --name pm" in text and "foreground process" in text
    assert "command: sh  # the window runs a bare shell" in text
    assert "name: dev-agent" in text and f'cwd: "{tmp_path / "work"}"' in text

    again = orch("import", "team", "--file", str(target))
    assert again.returncode == 1 and "--force" in again.stderr
    assert orch("import", "team", "--file", "-").stdout == text


def test_import_of_a_missing_session_says_so(orch, tmux_socket):
    result = orch("import", "nosuch")
    assert result.returncode == 1 and "no tmux session named 'nosuch'" in result.stderr
    assert orch("import", "../x").returncode == 1


def pids(socket: str) -> dict[str, str]:
    return dict(line.split("\t") for line in tmux(socket, "list-panes", "-s", "-t", "=team", "-F",
                                                   "#{window_name}\t#{pane_pid}").splitlines())


def test_apply_adopt_takes_the_windows_over_without_restarting_them(tmp_path, orch, tmux_socket):
    hand_made_session(tmp_path, tmux_socket)
    before = pids(tmux_socket)
    target = tmp_path / "team.yaml"
    assert orch("import", "team", "--file", str(target)).returncode == 0

    refused = orch("apply", str(target))
    assert refused.returncode == 1 and "belongs to not orch" in refused.stderr
    preview = orch("plan", str(target), "--adopt")
    assert preview.returncode == 0 and "adopted" in preview.stdout

    adopted = orch("apply", str(target), "--adopt")
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    after = pids(tmux_socket)
    assert after == {("dev-agent" if name == "Dev Agent" else name): pid for name, pid in before.items()}
    status = orch.json("status", "team")["projects"][0]
    assert {a["name"]: a["alive"] for a in status["agents"]} == {"dev-agent": True, "pm": True, "shell": True}
    assert orch("plan", str(target), "--detailed-exitcode").returncode == 0  # converged: nothing to do
    assert orch("apply", str(target)).returncode == 0 and pids(tmux_socket) == after
    assert "agent.adopted" in orch("events", "team").stdout
