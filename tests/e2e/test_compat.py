"""The old Tmux-Orchestrator scripts, as `orch compat install` writes them, against real toy agents.

Agents briefed with the old instructions run `send-claude-message.sh session:window MESSAGE` and
`schedule_with_note.sh MINUTES NOTE [session:window]`; both must keep working, through orch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from reconciler.compat import match_target
from reconciler.errors import UserError
from reconciler.model.agents import ObservedPane
from tests.conftest import BIN, ORCH, tmux, toy_log, toy_manifest, wait_until

SCHEDULED = re.compile(r"^SCHEDULED TO RUN AT: (\d\d:\d\d:\d\d)$", re.M)


def texts(log: Path) -> list[str]:
    return [entry["text"] for entry in toy_log(log)]


def run(script: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=env, timeout=60)


class Toy:
    def __init__(self, tmp_path: Path, socket: str, session: str, scripts: Path):
        self.logs = tmp_path / "logs"
        self.socket = socket
        self.session = session
        self.send = scripts / "send-claude-message.sh"
        self.schedule = scripts / "schedule_with_note.sh"

    def window_index(self, name: str) -> str:
        rows = tmux(self.socket, "list-windows", "-t", self.session, "-F", "#{window_name}\t#{window_index}")
        return dict(line.split("\t") for line in rows.splitlines())[name]

    def pane_pid(self, name: str) -> int:
        rows = tmux(self.socket, "list-panes", "-s", "-t", self.session, "-F", "#{window_name}\t#{pane_pid}")
        return int(dict(line.split("\t") for line in rows.splitlines())[name])


@pytest.fixture
def toy(tmp_path, orch, tmux_socket) -> Toy:
    """Project 'demo' (toy agents pm and dev) applied and at their prompts; the scripts installed."""
    result = orch("apply", str(toy_manifest(tmp_path)))
    assert result.returncode == 0, result.stderr
    session = orch.json("status", "demo")["projects"][0]["session"]
    for name in ("pm", "dev"):
        wait_until(lambda: "ready" in tmux(tmux_socket, "capture-pane", "-p", "-t", f"{session}:{name}"),
                   what=f"{name}'s prompt")
    installed = orch("compat", "install", str(tmp_path / "compat"))
    assert installed.returncode == 0, installed.stderr
    return Toy(tmp_path, tmux_socket, session, tmp_path / "compat")


def checkins(orch) -> list[dict]:
    return orch.json("checkin", "--list")["checkins"]


def due_seconds(item: dict) -> float:
    return datetime.fromisoformat(item["next_due"].replace("Z", "+00:00")).timestamp()


# -- installing ------------------------------------------------------------------------------


def test_install_writes_two_executable_wrappers(tmp_path, orch):
    target = tmp_path / "bin"
    result = orch("compat", "install", str(target))
    assert result.returncode == 0, result.stderr
    for name in ("schedule_with_note.sh", "send-claude-message.sh"):
        path = target / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o755
        text = path.read_text()
        assert text.startswith("#!/bin/sh\n")
        assert f"ORCH={ORCH}\n" in text  # the absolute path of the orch that installed them
        assert "eval" not in text and "sh -c" not in text
        assert subprocess.run(["sh", "-n", str(path)]).returncode == 0
    again = orch("compat", "install", str(target), "-o", "json")
    assert again.returncode == 0
    assert {f["status"] for f in json.loads(again.stdout)["files"]} == {"unchanged"}


def test_a_different_existing_file_is_kept_unless_forced(tmp_path, orch):
    target = tmp_path / "bin"
    target.mkdir()
    mine = target / "send-claude-message.sh"
    mine.write_text("#!/bin/sh\necho my own\n")
    result = orch("compat", "install", str(target))
    assert result.returncode == 1
    assert "--force" in result.stderr and "Traceback" not in result.stderr
    assert mine.read_text() == "#!/bin/sh\necho my own\n"
    assert not (target / "schedule_with_note.sh").exists()  # all or nothing
    forced = orch("compat", "install", str(target), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "orch" in mine.read_text() and stat.S_IMODE(mine.stat().st_mode) == 0o755


def test_an_orch_path_with_spaces_and_quotes_is_embedded_safely(tmp_path, orch, tmux_socket):
    odd = tmp_path / "it's a $(dir)"
    odd.mkdir()
    shutil.copy2(ORCH, odd / "orch")  # a console script: its shebang names the venv's python
    result = subprocess.run([str(odd / "orch"), "compat", "install", str(tmp_path / "bin")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "dir").exists()
    # Without orch on PATH the script can only work through the embedded path.
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    schedule = run(tmp_path / "bin" / "schedule_with_note.sh", "1", "note", "nosuch:dev", env=env)
    assert schedule.returncode == 1
    assert "no tmux session 'nosuch'" in schedule.stderr
    assert not (tmp_path / "dir").exists()


# -- send-claude-message.sh ------------------------------------------------------------------


def test_send_by_window_name(toy):
    result = run(toy.send, f"{toy.session}:dev", "hello", "world")
    assert result.returncode == 0, result.stderr
    wait_until(lambda: texts(toy.logs / "dev.log") == ["hello world"], what="hello world at dev")
    assert texts(toy.logs / "pm.log") == []


def test_send_by_window_index(toy):
    result = run(toy.send, f"{toy.session}:{toy.window_index('pm')}", "by index")
    assert result.returncode == 0, result.stderr
    wait_until(lambda: texts(toy.logs / "pm.log") == ["by index"], what="the message at pm")
    assert texts(toy.logs / "dev.log") == []


def test_send_with_fewer_than_two_arguments_is_a_usage_error(toy, orch):
    for args in ((), (f"{toy.session}:dev",)):
        result = run(toy.send, *args)
        assert result.returncode == 1
        assert "Usage:" in result.stderr and "<session:window>" in result.stderr
    # A barrier instead of a sleep: the next message is the first the agent ever got.
    assert orch("send", "demo/dev", "barrier").returncode == 0
    wait_until(lambda: texts(toy.logs / "dev.log") == ["barrier"], what="only the barrier at dev")


def test_send_passes_metacharacters_and_dashes_verbatim(toy, tmp_path):
    pwned = tmp_path / "pwned"
    words = [f"$(touch {pwned});", "`touch", f"{pwned}`", "-p", "demo", "--force", "'quoted'", '"x"', "*"]
    result = run(toy.send, f"{toy.session}:dev", *words)
    assert result.returncode == 0, result.stderr
    wait_until(lambda: texts(toy.logs / "dev.log") == [" ".join(words)], what="the message verbatim")
    assert not pwned.exists()


# -- schedule_with_note.sh -------------------------------------------------------------------


def test_schedule_with_a_target_creates_a_one_off_checkin(toy, orch):
    before = time.time()
    result = run(toy.schedule, "0.05", "note text", f"{toy.session}:dev")
    after = time.time()
    assert result.returncode == 0, result.stderr
    printed = SCHEDULED.search(result.stdout)
    assert printed, result.stdout
    [item] = checkins(orch)
    assert (item["project"], item["agent"], item["kind"], item["note"]) == ("demo", "dev", "once", "note text")
    due = due_seconds(item)
    assert before + 3 - 0.01 <= due <= after + 3 + 0.01
    assert printed.group(1) == time.strftime("%H:%M:%S", time.localtime(due))


def test_schedule_by_window_index(toy, orch):
    result = run(toy.schedule, "2", "in two minutes", f"{toy.session}:{toy.window_index('pm')}")
    assert result.returncode == 0, result.stderr
    [item] = checkins(orch)
    assert (item["agent"], item["note"]) == ("pm", "in two minutes")
    assert 100 < due_seconds(item) - time.time() <= 120


def test_a_note_with_shell_metacharacters_is_stored_verbatim(toy, orch, tmp_path):
    pwned = tmp_path / "pwned"
    note = f"$(touch {pwned}); echo hi `touch {pwned}` && rm -rf \"$HOME\" | '*'\n--note=x"
    result = run(toy.schedule, "5", note, f"{toy.session}:dev")
    assert result.returncode == 0, result.stderr
    assert "hi" not in result.stdout.split()
    [item] = checkins(orch)
    assert item["note"] == note
    assert not pwned.exists()
    assert Path(os.environ["HOME"]).is_dir()


def test_unknown_targets_are_clear_errors(toy, orch, tmux_socket, tmp_path):
    tmux(tmux_socket, "new-window", "-d", "-t", toy.session, "-n", "mine", "sleep 600")
    pwned = tmp_path / "pwned"
    cases = {
        "nosuch:dev": "no tmux session 'nosuch'",
        f"{toy.session}:nobody": f"session '{toy.session}' has no window 'nobody'",
        f"{toy.session}:97": "has no window '97'",
        f"{toy.session}:mine": "not an orch agent's",
        "dev": "is not a tmux target",
        f"x:$(touch {pwned})": "no tmux session 'x'",
    }
    for target, message in cases.items():
        for result in (run(toy.send, target, "hello"), run(toy.schedule, "1", "note", target)):
            assert result.returncode == 1, (target, result.stdout)
            assert message in result.stderr, (target, result.stderr)
            assert "Traceback" not in result.stderr
    assert checkins(orch) == []
    assert not pwned.exists()
    assert orch("send", "demo/dev", "barrier").returncode == 0
    wait_until(lambda: texts(toy.logs / "dev.log") == ["barrier"], what="only the barrier at dev")


def test_bad_minutes_and_no_target_outside_an_agent_are_usage_errors(toy, orch):
    for args in (("soon", "note", f"{toy.session}:dev"), ("1.2.3", "note", f"{toy.session}:dev"),
                 ("1", "an", "unquoted", "note"), ("1", "note")):
        result = run(toy.schedule, *args)
        assert result.returncode == 1, args
        assert "Usage:" in result.stderr, (args, result.stderr)
    assert checkins(orch) == []


def test_inside_an_agent_window_the_scripts_need_no_target(toy, orch):
    """Run with dev's own process environment, as an agent running the old script in its window would."""
    raw = Path(f"/proc/{toy.pane_pid('dev')}/environ").read_bytes()
    env = dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
    assert (env["ORCH_PROJECT"], env["ORCH_AGENT"]) == ("demo", "dev")
    env["PATH"] = f"{BIN}{os.pathsep}/usr/bin:/bin"
    result = run(toy.schedule, ".05", "check on yourself", env=env)
    assert result.returncode == 0, result.stderr
    assert SCHEDULED.search(result.stdout), result.stdout
    [item] = checkins(orch)
    assert (item["project"], item["agent"], item["note"]) == ("demo", "dev", "check on yourself")
    assert due_seconds(item) - time.time() <= 3
    result = run(toy.send, f"{toy.session}:pm", "from dev", env=env)
    assert result.returncode == 0, result.stderr
    wait_until(lambda: texts(toy.logs / "pm.log") == ["from dev"], what="dev's message at pm")


def test_a_scheduled_note_is_delivered_verbatim_by_the_watcher(toy, tmp_path):
    pwned = tmp_path / "pwned"
    note = f"compat check-in: $(touch {pwned}); echo hi"
    assert run(toy.schedule, "0.02", note, f"{toy.session}:dev").returncode == 0
    watcher = subprocess.Popen([ORCH, "reconcile", "--watch"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: any(note in text for text in texts(toy.logs / "dev.log")), timeout=30,
                   what="the check-in at dev")
    finally:
        watcher.terminate()
        watcher.wait(timeout=30)
    assert not pwned.exists()


# -- the target resolution, on plain data -----------------------------------------------------


def pane(session: str, index: int, window: str, project: str = "", agent: str = "") -> ObservedPane:
    return ObservedPane(session_id="$1", session_name=session, session_project=project, window_id=f"@{index}",
                        window_index=index, window_name=window, pane_id=f"%{index}", pane_pid=1, pane_tty="",
                        dead=False, dead_status=None, dead_time=None, in_mode=False, project=project,
                        agent=agent, spec_hash="")


def test_target_matching_follows_tmux_index_first_then_name():
    panes = [pane("s", 0, "pm", "p", "pm"), pane("s", 1, "0", "p", "zero"), pane("s", 2, "dev", "p", "dev")]
    assert match_target(panes, "s:0") == ("p", "pm")  # tmux reads a number as an index first
    assert match_target(panes, "s:dev") == ("p", "dev")
    assert match_target(panes, "s:2") == ("p", "dev")
    assert match_target(panes, "s:dev.0") == ("p", "dev")  # the old scripts' session:window.pane
    with pytest.raises(UserError, match="ambiguous"):
        match_target([pane("s", 0, "w", "p", "a"), pane("s", 1, "w", "p", "b")], "s:w")
    with pytest.raises(UserError, match="not a tmux target"):
        match_target(panes, "s:")
