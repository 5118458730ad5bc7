"""A toy agent: a tiny terminal REPL that stands in for Claude Code in the quickstart and tests.

It behaves like the real thing where orch cares: it turns on bracketed paste, keeps a pasted
multi-line text in its input line until Enter, shows each long paste as `[Pasted text #N +K lines]`
(what follows it, typed or pasted, shows after it), answers each submission, and appends every
submission to a log (one JSON object a line) so tests can count exactly what was delivered.
A few slash commands fake the hard cases:

  /limit TEXT         print TEXT as a usage-limit notice (e.g. "You've hit your limit · resets 5pm")
  /menu               show a numbered menu that blocks input until 1 or 2 is pressed (or Enter: 1)
  /menu-on-paste WORD the next paste holding WORD opens that menu (a permission prompt popping up
                      while text waits in the input line; the text stays there)
  /deaf N             ignore the next N Enter presses (an agent not taking input yet)
  /exit N             exit with status N

Run: python -m reconciler.toyagent [--name NAME] [--log FILE] [--startup-delay SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import termios
import time
import tty

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
PROMPT = "> "


class ToyAgent:
    def __init__(self, name: str, log_path: str | None):
        self.name = name
        self.log_path = log_path
        self.segments: list[list[str]] = []  # [text, shown] per paste or typed run; shown "" = as typed
        self.pastes = 0
        self.menu_open = False
        self.menu_trigger: str | None = None
        self.deaf = 0

    @property
    def buffer(self) -> str:
        return "".join(text for text, _ in self.segments)

    def out(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def redraw(self) -> None:
        self.out("\r\x1b[K" + PROMPT + "".join(shown or text for text, shown in self.segments))

    def open_menu(self) -> None:
        self.menu_open = True
        self.out("\r\nDo you want to proceed?\r\n❯ 1. Yes\r\n  2. No\r\n")

    def log(self, text: str) -> None:
        if not self.log_path:
            return
        record = {"ts": time.time(), "agent": self.name, "pid": os.getpid(), "text": text}
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def pasted(self, text: str) -> None:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self.menu_open:
            return  # like Claude Code: a paste into a menu is ignored
        shown = ""
        if "\n" in text or len(text) > 200:
            self.pastes += 1
            shown = f"[Pasted text #{self.pastes} +{text.count(chr(10)) + 1} lines]"
        self.segments.append([text, shown])
        self.redraw()
        if self.menu_trigger and self.menu_trigger in text:
            self.menu_trigger = None
            self.open_menu()

    def typed(self, char: str) -> None:
        if self.menu_open:
            if char in "12\r\n":
                self.menu_open = False
                self.out(f"\r\n(chose {'1' if char in chr(13) + chr(10) else char})\r\n")
                self.redraw()
            return
        if char in ("\n", "\r"):
            if self.deaf:
                self.deaf -= 1
            else:
                self.submit()
        elif char in ("\x7f", "\b"):
            if self.segments:
                last = self.segments[-1]
                last[0] = "" if last[1] else last[0][:-1]  # a placeholder goes as a whole
                if not last[0]:
                    self.segments.pop()
            self.redraw()
        elif char == "\x04" and not self.segments:
            raise EOFError
        elif char.isprintable():
            if self.segments and not self.segments[-1][1]:
                self.segments[-1][0] += char
            else:
                self.segments.append([char, ""])
            self.out(char)

    def submit(self) -> None:
        text, self.segments = self.buffer, []
        self.out("\r\n")
        if not text.strip():
            self.redraw()
            return
        self.log(text)
        if text.startswith("/exit"):
            raise SystemExit(int(text.split()[1]) if len(text.split()) > 1 else 0)
        if text.startswith("/limit"):
            self.out(text[len("/limit"):].strip() + "\r\n")
        elif text.startswith("/menu-on-paste"):
            self.menu_trigger = text[len("/menu-on-paste"):].strip() or None
        elif text.startswith("/menu"):
            self.open_menu()
            return
        elif text.startswith("/deaf"):
            self.deaf = int(text.split()[1]) if len(text.split()) > 1 else 1
        else:
            first = text.splitlines()[0]
            more = f" (+{len(text.splitlines()) - 1} lines)" if "\n" in text else ""
            self.out(f"toy[{self.name}]: you said: {first[:80]}{more}\r\n")
        self.redraw()

    def feed(self, data: bytes, pending: bytearray, in_paste: list[bool]) -> None:
        pending.extend(data)
        while pending:
            if in_paste[0]:
                end = pending.find(PASTE_END)
                if end < 0:
                    keep = len(PASTE_END) - 1
                    chunk, rest = pending[:-keep] if len(pending) > keep else b"", pending[-keep:]
                    if chunk:
                        self.pasted(bytes(chunk).decode("utf-8", "replace"))
                    pending[:] = rest
                    return
                self.pasted(bytes(pending[:end]).decode("utf-8", "replace"))
                del pending[: end + len(PASTE_END)]
                in_paste[0] = False
                continue
            start = pending.find(PASTE_START)
            if start == 0:
                del pending[: len(PASTE_START)]
                in_paste[0] = True
                continue
            if pending[0] == 0x1B and len(pending) < len(PASTE_START) and PASTE_START.startswith(bytes(pending)):
                return  # an incomplete escape sequence: wait for the rest
            upto = start if start > 0 else len(pending)
            text = bytes(pending[:upto]).decode("utf-8", "replace")
            del pending[:upto]
            for char in text:
                self.typed(char)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="toyagent", description="A toy stand-in for an AI agent.")
    parser.add_argument("--name", default=os.environ.get("ORCH_AGENT", "toy"))
    parser.add_argument("--log", default=os.environ.get("TOY_AGENT_LOG"))
    parser.add_argument("--startup-delay", type=float, default=float(os.environ.get("TOY_STARTUP_DELAY", "0")))
    args = parser.parse_args(argv)

    agent = ToyAgent(args.name, args.log)
    if args.startup_delay:
        agent.out(f"toy agent {args.name} starting...\r\n")
        time.sleep(args.startup_delay)
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    if saved is not None:
        tty.setcbreak(fd)
    agent.out("\x1b[?2004h")
    agent.out(f"toy agent {args.name} ready; type or paste a message, Enter sends it\r\n")
    agent.redraw()
    pending, in_paste = bytearray(), [False]
    try:
        while True:
            data = os.read(fd, 4096)
            if not data:
                break
            agent.feed(data, pending, in_paste)
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        agent.out("\x1b[?2004l\r\n")
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    return 0


if __name__ == "__main__":
    sys.exit(main())
