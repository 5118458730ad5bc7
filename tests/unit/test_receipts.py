"""Who confirms a delivery: the agent's own receipt where it reports one, else the screen."""

from __future__ import annotations

import json

import pytest

from reconciler.execute import delivery
from reconciler.execute.delivery import Receipts, confirmation
from reconciler.plan.screen import parse_capture

RULE = "─" * 40
PASTED = parse_capture("\n".join([RULE, "❯\xa0run the tests", RULE]) + "\n", 5, 1)
EMPTY = parse_capture("\n".join(["❯ run the tests", RULE, "❯\xa0", RULE]) + "\n", 2, 2)


def append(path, event: str, prompt: str) -> None:
    with open(path, "a") as handle:
        handle.write(json.dumps({"event": event, "time": 1.0, "data": {"prompt": prompt}}) + "\n")


@pytest.fixture
def stream(tmp_path, monkeypatch):
    monkeypatch.setattr(delivery, "RECEIPT_GRACE_S", 0.05)
    path = tmp_path / "events.jsonl"
    append(path, "UserPromptSubmit", "run the tests")  # an earlier, identical submission
    return path


def test_without_a_stream_the_screen_decides(tmp_path):
    assert Receipts.watch(None, "run the tests") is None
    assert Receipts.watch(tmp_path / "missing.jsonl", "run the tests") is None
    assert confirmation(None, PASTED, EMPTY) == "screen"
    assert confirmation(None, PASTED, PASTED) is None


def test_the_receipt_confirms_even_before_the_screen_shows_it(stream):
    watch = Receipts.watch(stream, "run the tests")
    assert confirmation(watch, PASTED, PASTED) is None  # the earlier submission does not count
    append(stream, "UserPromptSubmit", "run the tests")
    assert confirmation(watch, PASTED, PASTED) == "receipt"


def test_no_receipt_in_time_falls_back_to_the_screen(stream):
    watch = Receipts.watch(stream, "run the tests")
    append(stream, "UserPromptSubmit", "something else")
    append(stream, "Stop", "run the tests")
    assert confirmation(watch, PASTED, EMPTY) == "screen"


def test_a_half_written_line_is_read_once_whole(stream):
    watch = Receipts.watch(stream, "status?", "[orch:1a2b3c]")
    line = json.dumps({"event": "UserPromptSubmit", "time": 2.0, "data": {"prompt": "status? [orch:1a2b3c]"}})
    with open(stream, "a") as handle:
        handle.write(line[:20])
    assert not watch.seen()
    with open(stream, "a") as handle:
        handle.write(line[20:] + "\n")
    assert watch.seen()


def test_a_long_stream_is_moved_aside_and_the_hook_starts_a_new_one(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from reconciler import agent_events, hook

    stream = tmp_path / "events.jsonl"
    for index in range(3):
        append(stream, "UserPromptSubmit", f"prompt {index}")
    size = stream.stat().st_size
    assert not agent_events.rotate(stream, size)
    assert agent_events.rotate(stream, size - 1)
    assert not stream.exists() and (tmp_path / "events.1.jsonl").stat().st_size == size
    subprocess.run([sys.executable, "-I", "-S", str(Path(hook.__file__)), "Stop", str(stream), str(tmp_path / "run")],
                   input="{}", text=True, check=True, timeout=10)
    assert [e["event"] for e in agent_events.recent_events(stream)] == ["Stop"]
