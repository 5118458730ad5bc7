"""`orch hook EVENT`: an agent's own hook reports an event to orch. Tiny on purpose.

Claude Code runs it for every hook event orch gave it (`--settings`, see
reconciler/drivers/claude.py), on each turn, and waits for it: so it imports only `os` and
`sys`, starts as `python -I -S hook.py EVENT EVENTS_FILE RUN_DIR` (no site-packages, ~10 ms),
appends one line `{"event", "time", "data": <the hook's JSON from stdin>}` to the agent's
event stream with a single O_APPEND write, and writes a byte to each watcher's wake FIFO
without ever blocking (none there: nothing more to do). It never fails the agent: whatever
goes wrong, it prints nothing and exits 0.
"""

import errno
import os
import sys
import time

MAX_INPUT = 4 << 20  # a hook's JSON holds at most one prompt; past this it is recorded as truncated


def record(event: str, events_file: str, run_dir: str, payload: bytes) -> None:
    payload = payload.strip() or b"null"
    if len(payload) >= MAX_INPUT:
        payload = b'{"truncated":true}'
    if b"\n" in payload or not payload.startswith(b"{"):  # not the one-line object hooks send: re-encode
        import json

        try:
            payload = json.dumps(json.loads(payload)).encode()
        except ValueError:
            payload = json.dumps(payload.decode("utf-8", "replace")).encode()
    line = b'{"event":"%s","time":%.6f,"data":%s}\n' % (event.encode(), time.time(), payload)
    fd = os.open(events_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    poke(run_dir)


def poke(run_dir: str, remove_stale: bool = False) -> int:
    """One byte to every watcher's FIFO in `run_dir`, never waiting; how many were reached.

    With `remove_stale`, a FIFO nobody reads any more (its watcher is gone) is removed."""
    try:
        names = os.listdir(run_dir)
    except OSError:
        return 0
    reached = 0
    for name in names:
        if not (name.startswith("wake-") and name.endswith(".fifo")):
            continue
        path = os.path.join(run_dir, name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as err:
            if remove_stale and err.errno == errno.ENXIO:  # no reader
                try:
                    os.unlink(path)
                except OSError:
                    pass
            continue
        try:
            os.write(fd, b"x")
        except OSError:
            pass  # full of unread pokes: it wakes anyway
        finally:
            os.close(fd)
        reached += 1
    return reached


def read_stdin() -> bytes:
    chunks, size = [], 0
    while size < MAX_INPUT:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)[:MAX_INPUT]


def main(argv: list) -> int:
    try:
        event, events_file, run_dir = argv[1:4]
        if event.isidentifier():
            record(event, events_file, run_dir, read_stdin())
    except Exception:  # noqa: BLE001  the agent must never see orch fail
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
