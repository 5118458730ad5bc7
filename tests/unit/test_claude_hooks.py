"""The Claude driver's hooks through --settings: the command lines, the merge, where they go."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.drivers import claude
from reconciler import hook

PY, SCRIPT = "/usr/bin/python3", "/opt/orch/reconciler/hook.py"


def test_the_hook_command_quotes_every_path():
    command = claude.hook_command(PY, SCRIPT, "Stop", "/home/a b/it's/events.jsonl", "/home/a b/run")
    assert shlex.split(command) == [PY, "-I", "-S", SCRIPT, "Stop", "/home/a b/it's/events.jsonl", "/home/a b/run"]


@pytest.mark.parametrize("bad", ["relative/events.jsonl", "/tmp/a\nb", "/tmp/a\x00b", "/tmp/\x1b[2J"])
def test_a_path_that_cannot_go_into_a_command_line_is_refused(bad):
    with pytest.raises(ValueError):
        claude.hook_command(PY, SCRIPT, "Stop", bad, "/run")


def test_settings_hold_every_event_orch_reads():
    settings = claude.hook_settings(PY, SCRIPT, "/h/events.jsonl", "/h/run")
    assert set(settings["hooks"]) == {"SessionStart", "UserPromptSubmit", "Stop", "StopFailure", "Notification",
                                      "PreCompact"}
    entry = settings["hooks"]["UserPromptSubmit"][0]["hooks"][0]
    assert entry["type"] == "command" and entry["timeout"] == claude.HOOK_TIMEOUT_S
    assert shlex.split(entry["command"])[4] == "UserPromptSubmit"


def test_the_users_settings_are_merged_not_replaced():
    theirs = {"hooks": {"UserPromptSubmit": [{"hooks": [{"type": "command", "command": "log-it"}]}],
                        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "guard"}]}]},
              "model": "opus"}
    ours = claude.hook_settings(PY, SCRIPT, "/h/e.jsonl", "/h/run")
    merged = claude.merge_settings(theirs, ours)
    assert merged["model"] == "opus"
    assert merged["hooks"]["PreToolUse"] == theirs["hooks"]["PreToolUse"]
    assert merged["hooks"]["UserPromptSubmit"][0] == theirs["hooks"]["UserPromptSubmit"][0]  # theirs first
    assert merged["hooks"]["UserPromptSubmit"][1:] == ours["hooks"]["UserPromptSubmit"]
    assert theirs["hooks"]["UserPromptSubmit"] == [{"hooks": [{"type": "command", "command": "log-it"}]}]


@pytest.mark.parametrize(("command", "words"), [
    ("claude --dangerously-skip-permissions", ["claude", "--dangerously-skip-permissions"]),
    ("claude 'fix the bug; then stop'", ["claude", "fix the bug; then stop"]),  # quoted: just text
    ("claude; rm -rf x", None),
    ("claude && echo done", None),
    ("claude | tee log", None),
    ("claude > out.txt", None),
    ("(claude)", None),
    ("claude -- 'a prompt'", None),  # options end there: nothing can follow
    ("claude 'unbalanced", None),
])
def test_orch_adds_to_simple_commands_only(command, words):
    assert claude.simple_words(command) == words


@pytest.mark.parametrize(("command", "value"), [
    ("claude", None),
    ("claude --settings /x/s.json", "/x/s.json"),
    ("claude --settings=rel.json -c", "rel.json"),
    ("claude --settings '{\"model\": \"opus\"}'", '{"model": "opus"}'),
])
def test_the_users_own_settings_are_found(command, value):
    assert claude.user_settings(shlex.split(command)) == value


def test_orchs_settings_come_last():
    command = claude.with_settings("claude --settings mine.json", "/h/p x/claude-settings.json")
    assert shlex.split(command)[-2:] == ["--settings", "/h/p x/claude-settings.json"]


def test_the_hook_appends_one_line_and_pokes_watchers_and_never_fails(tmp_path):
    events, run = tmp_path / "events.jsonl", tmp_path / "run"
    run.mkdir()
    fifo = run / "wake-1.fifo"
    os.mkfifo(fifo, 0o600)
    reader = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    payload = {"session_id": "s", "prompt": "line one\nline two [orch:abc123]"}
    script = str(Path(hook.__file__).resolve())
    for _ in range(2):
        done = subprocess.run([sys.executable, "-I", "-S", script, "UserPromptSubmit", str(events), str(run)],
                              input=json.dumps(payload), capture_output=True, text=True, timeout=10)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    assert [(e["event"], e["data"]) for e in lines] == [("UserPromptSubmit", payload)] * 2
    assert os.read(reader, 10) == b"xx"
    assert events.stat().st_mode & 0o777 == 0o600
    for args, stdin in (([], ""), (["Stop", str(tmp_path / "missing" / "e.jsonl"), str(run)], "{}"),
                        (["Stop", str(events), str(run)], "not json\n{")):
        done = subprocess.run([sys.executable, "-I", "-S", script, *args], input=stdin, capture_output=True,
                              text=True, timeout=10)
        assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(events.read_text().splitlines()[-1])["data"] == "not json\n{"
    os.close(reader)


def _submit(prompt) -> dict:
    return {"event": "UserPromptSubmit", "time": 1.0, "data": {"session_id": "s", "prompt": prompt}}


@pytest.mark.parametrize(("event", "text", "tag", "expected"), [
    (_submit("please run the tests"), "please run the tests", "", True),
    (_submit("please run the tests"), "please run the test", "", False),
    (_submit("a\n    b"), "a\n\tb\n", "", True),  # tabs become 4 spaces, trailing blanks go
    (_submit('\n\n<pasted_content id="k1">\n' + "x" * 2000 + '\n</pasted_content id="k1">\n'), "x" * 2000, "",
     True),  # a long paste, expanded in the hook's prompt (2.1.328)
    (_submit('\n\n<pasted_content id="k2">\nfour\nlines\nof\ntext\n</pasted_content id="k2">\n [orch:1a2b3c]'),
     "four\nlines\nof\ntext", " [orch:1a2b3c]".strip(), True),  # a check-in: its marker decides
    (_submit("status? [orch:1a2b3c]"), "status?", "[orch:ffffff]", False),  # another firing's marker
    ({"event": "Stop", "data": {"last_assistant_message": "please run the tests"}}, "please run the tests", "",
     False),
    ({"event": "UserPromptSubmit", "data": {}}, "x", "", False),
    ({"event": "UserPromptSubmit", "data": None}, "x", "", False),
])
def test_a_receipt_is_the_submission_of_that_very_text(event, text, tag, expected):
    assert claude.is_receipt(event, text, tag) is expected


def _agent(command: str, cwd: str, kind: str = "claude"):
    from reconciler.model.agents import DesiredAgent, DesiredProject

    agent = DesiredAgent("dev", None, command, cwd, (), None, "h", (), kind)
    return DesiredProject("shop", "1a2b3c4d", "shop-1a2b3c4d", "/m.yaml", (agent,), ()), agent


def test_launch_adds_orchs_settings_with_the_users_merged_in(tmp_path):
    from reconciler.execute.agent_hooks import launch_command

    (tmp_path / "mine.json").write_text(json.dumps({"model": "opus"}))
    project, agent = _agent("claude --settings mine.json", str(tmp_path))
    command = launch_command(tmp_path / "home", project, agent)
    words = shlex.split(command)
    assert words[:3] == ["claude", "--settings", "mine.json"] and words[-2] == "--settings"
    settings = json.loads(Path(words[-1]).read_text())
    assert settings["model"] == "opus" and "UserPromptSubmit" in settings["hooks"]
    assert json.loads((tmp_path / "mine.json").read_text()) == {"model": "opus"}  # untouched


@pytest.mark.parametrize("command", ["claude && echo done", "claude --settings missing.json",
                                     "claude --settings '{not json'"])
def test_launch_runs_what_it_cannot_add_to_as_written_and_forgets_an_old_stream(tmp_path, command):
    from reconciler import agent_events
    from reconciler.execute.agent_hooks import launch_command

    project, agent = _agent("claude", str(tmp_path))
    launch_command(tmp_path / "home", project, agent)  # an earlier launch, with hooks
    stream = agent_events.events_file(tmp_path / "home", "shop", "1a2b3c4d", "dev")
    assert stream.exists()
    project, agent = _agent(command, str(tmp_path))
    assert launch_command(tmp_path / "home", project, agent) == command
    assert not stream.exists() and not stream.with_name("claude-settings.json").exists()


def test_other_kinds_run_as_written(tmp_path):
    from reconciler.execute.agent_hooks import launch_command

    project, agent = _agent("codex --full-auto", str(tmp_path), kind="codex")
    assert launch_command(tmp_path / "home", project, agent) == "codex --full-auto"
    assert not (tmp_path / "home").exists()


def _session_option(command: str) -> tuple[str, str]:
    words = shlex.split(command)
    index = next(i for i, w in enumerate(words) if w in ("--session-id", "--resume"))
    assert words[-2] == "--settings", "orch's --settings must stay last"
    return words[index], words[index + 1]


def test_a_fresh_start_names_a_new_conversation_and_a_restart_resumes_it(tmp_path):
    from reconciler import agent_events
    from reconciler.execute.agent_hooks import launch_command, resumed

    project, agent = _agent("claude", str(tmp_path))
    home = tmp_path / "home"
    option, first = _session_option(launch_command(home, project, agent))
    folder = agent_events.agent_dir(home, "shop", "1a2b3c4d", "dev")
    assert option == "--session-id" and not resumed(folder)
    assert (folder / "claude-session.json").stat().st_mode & 0o777 == 0o600
    assert _session_option(launch_command(home, project, agent, resume=True)) == ("--resume", first)
    assert resumed(folder)
    option, other = _session_option(launch_command(home, project, agent))  # created or replaced: fresh
    assert option == "--session-id" and other != first and not resumed(folder)


def test_a_conversation_whose_transcript_is_gone_starts_fresh(tmp_path):
    from reconciler import agent_events
    from reconciler.execute.agent_hooks import launch_command

    project, agent = _agent("claude", str(tmp_path))
    home = tmp_path / "home"
    _, first = _session_option(launch_command(home, project, agent))
    transcript = tmp_path / "t.jsonl"
    stream = agent_events.events_file(home, "shop", "1a2b3c4d", "dev")
    stream.write_text(json.dumps({"event": "SessionStart", "time": 1.0, "data": {
        "session_id": first, "transcript_path": str(transcript), "source": "startup"}}) + "\n")
    assert _session_option(launch_command(home, project, agent, resume=True))[0] == "--session-id"
    _, second = _session_option(launch_command(home, project, agent))
    stream.write_text(json.dumps({"event": "SessionStart", "time": 2.0, "data": {
        "session_id": second, "transcript_path": str(transcript), "source": "startup"}}) + "\n")
    transcript.write_text("{}\n")
    assert _session_option(launch_command(home, project, agent, resume=True)) == ("--resume", second)


@pytest.mark.parametrize("command", ["claude --resume 0b6d2c1e-0000-4000-8000-000000000000", "claude -c",
                                     "claude --continue", "claude --session-id=0b6d2c1e-0000-4000-8000-000000000000"])
def test_a_command_that_picks_its_conversation_is_left_to_it(tmp_path, command):
    from reconciler.execute.agent_hooks import launch_command

    project, agent = _agent(command, str(tmp_path))
    words = shlex.split(launch_command(tmp_path / "home", project, agent, resume=True))
    assert words[:-2] == shlex.split(command)
