"""Helpers to run the real Claude Code CLI (2.1.328) offline in tests.

- ensure_claude_installed(): npm-install the pinned CLI into a cache dir, return the binary.
- claude_env(): write a HOME/.claude.json that skips onboarding/trust dialogs, return env.
- prompt_hook_settings() / read_prompt_log(): a UserPromptSubmit hook that records every
  submitted prompt (exact text, duplicates included) as one JSON line in a file.

See /work/shared/REAL_CLAUDE.md and tests/realclaude/SCREEN_NOTES.md.
"""

from __future__ import annotations

import json
import re
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

CLAUDE_VERSION = "2.1.328"
CLAUDE_PACKAGE = f"@anthropic-ai/claude-code@{CLAUDE_VERSION}"
DEFAULT_CACHE = Path("~/.cache/orch-test") / f"claude-{CLAUDE_VERSION}"


def claude_cache_dir() -> Path:
    return Path(os.environ.get("ORCH_CLAUDE_CACHE") or DEFAULT_CACHE).expanduser()


def _installed_version(binary: Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                             timeout=60, env={**os.environ, "DISABLE_AUTOUPDATER": "1"})
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def ensure_claude_installed(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the path of the pinned `claude` binary, npm-installing it if missing.

    cache_dir defaults to $ORCH_CLAUDE_CACHE or ~/.cache/orch-test/claude-2.1.328.
    Raises RuntimeError if npm is missing or the install fails.
    """
    cache = Path(cache_dir).expanduser() if cache_dir else claude_cache_dir()
    binary = cache / "node_modules" / ".bin" / "claude"
    if binary.exists():
        version = _installed_version(binary)
        if version and version.startswith(CLAUDE_VERSION):
            return binary
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm not found; cannot install Claude Code")
    cache.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", CLAUDE_PACKAGE],
        capture_output=True, text=True, timeout=900,
    )
    if proc.returncode != 0 or not binary.exists():
        raise RuntimeError(
            f"npm install {CLAUDE_PACKAGE} failed (rc={proc.returncode}):\n"
            f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
    version = _installed_version(binary)
    if not version or not version.startswith(CLAUDE_VERSION):
        raise RuntimeError(f"installed claude reports version {version!r}")
    return binary


def write_claude_config(home_dir: str | os.PathLike[str],
                        workdirs: list[str | os.PathLike[str]]) -> Path:
    """Write HOME/.claude.json: onboarding done, each workdir trusted, bypass accepted."""
    home = Path(home_dir)
    home.mkdir(parents=True, exist_ok=True)
    cfg_path = home / ".claude.json"
    cfg: dict[str, Any] = {}
    if cfg_path.exists():
        try:
            cfg = json.loads(cfg_path.read_text())
        except ValueError:
            cfg = {}
    cfg.update({
        "hasCompletedOnboarding": True,
        "theme": "dark",
        "bypassPermissionsModeAccepted": True,
        "autoUpdates": False,
    })
    projects = cfg.setdefault("projects", {})
    for wd in workdirs:
        key = str(Path(wd).resolve())
        projects.setdefault(key, {}).update({
            "hasTrustDialogAccepted": True,
            "hasCompletedProjectOnboarding": True,
        })
    cfg_path.write_text(json.dumps(cfg, indent=2))
    return cfg_path


def claude_env(home_dir: str | os.PathLike[str], workdir: str | os.PathLike[str],
               api_url: str, *, oauth: bool = True,
               base_env: dict[str, str] | None = None) -> dict[str, str]:
    """Prepare HOME for an offline Claude Code run and return its environment.

    oauth=True (default) uses CLAUDE_CODE_OAUTH_TOKEN: the subscription mode that prints
    "You've hit your 5-hour limit". oauth=False uses ANTHROPIC_API_KEY (approved in config).
    """
    write_claude_config(home_dir, [workdir])
    src = dict(os.environ if base_env is None else base_env)
    env = {k: v for k, v in src.items()
           if not k.startswith(("ANTHROPIC_", "CLAUDE_", "CLAUDECODE", "TMUX"))}
    env.update({
        "HOME": str(Path(home_dir).resolve()),
        "ANTHROPIC_BASE_URL": api_url,
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "LANG": src.get("LANG") or "C.UTF-8",
        "LC_ALL": src.get("LC_ALL") or "C.UTF-8",
        "TZ": src.get("TZ") or "UTC",
    })
    env.pop("XDG_CONFIG_HOME", None)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # As root, --dangerously-skip-permissions refuses to start ("cannot be used with
        # root/sudo privileges") unless IS_SANDBOX=1.
        env["IS_SANDBOX"] = "1"
    if oauth:
        env["CLAUDE_CODE_OAUTH_TOKEN"] = "sk-ant-oat01-orch-test-offline-token"
    else:
        key = "sk-ant-api03-orch-test-offline-key-0123456789abcdefghij"
        env["ANTHROPIC_API_KEY"] = key
        cfg_path = Path(home_dir) / ".claude.json"
        cfg = json.loads(cfg_path.read_text())
        cfg.setdefault("customApiKeyResponses", {"approved": [], "rejected": []})
        approved = cfg["customApiKeyResponses"].setdefault("approved", [])
        if key[-20:] not in approved:
            approved.append(key[-20:])
        cfg_path.write_text(json.dumps(cfg, indent=2))
    return env


# ----- UserPromptSubmit receipt hook ------------------------------------------------

_HOOK_SCRIPT = r'''import json, os, sys, time
data = json.load(sys.stdin)
rec = {"prompt": data.get("prompt"), "session_id": data.get("session_id"),
       "prompt_id": data.get("prompt_id"), "time": time.time()}
line = (json.dumps(rec) + "\n").encode()
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
try:
    os.write(fd, line)
finally:
    os.close(fd)
'''


def prompt_hook_settings(log_file: str | os.PathLike[str],
                         settings_file: str | os.PathLike[str] | None = None,
                         extra: dict[str, Any] | None = None) -> str:
    """Build --settings JSON with a UserPromptSubmit hook appending each prompt to log_file.

    Each submitted prompt becomes one JSON line {"prompt", "session_id", "prompt_id",
    "time"}. Writes the hook script next to log_file. If settings_file is given the JSON
    is also written there and its path is returned; otherwise the JSON string is returned
    (both are accepted by `claude --settings`). `extra` is merged into the top level
    (e.g. {"promptSuggestionEnabled": False}).
    """
    log = Path(log_file).resolve()
    log.parent.mkdir(parents=True, exist_ok=True)
    script = log.with_name(log.name + ".hook.py")
    script.write_text(_HOOK_SCRIPT)
    command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} {shlex.quote(str(log))}"
    settings: dict[str, Any] = dict(extra or {})
    settings["hooks"] = {
        "UserPromptSubmit": [
            {"hooks": [{"type": "command", "command": command, "timeout": 30}]}
        ]
    }
    text = json.dumps(settings)
    if settings_file is not None:
        Path(settings_file).write_text(text)
        return str(Path(settings_file).resolve())
    return text


def read_prompt_log(log_file: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Records written by the prompt hook, oldest first ([] if none yet)."""
    path = Path(log_file)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # half-written line
    return out


def read_prompts(log_file: str | os.PathLike[str]) -> list[str]:
    """Just the prompt texts recorded by the hook."""
    return [r.get("prompt") or "" for r in read_prompt_log(log_file)]


_PASTE_BLOCK = re.compile(
    r'\n\n<pasted_content id="([^"]*)">\n(.*?)\n</pasted_content id="\1">\n', re.S)


def unwrap_pasted(prompt: str) -> str:
    """Undo Claude Code's wrapping of a collapsed paste in the hook's `prompt`.

    A paste shown as `[Pasted text #N ...]` (more than 800 chars or more than 3 lines)
    reaches the UserPromptSubmit hook as
    '\\n\\n<pasted_content id="XXXX">\\n' + text + '\\n</pasted_content id="XXXX">\\n'
    (checked on 2.1.328). Returns the prompt with each such block replaced by its text.
    """
    return _PASTE_BLOCK.sub(lambda m: m.group(2), prompt)


def expected_prompt(text: str) -> str:
    """What the hook reports for `text` pasted into an empty box and submitted.

    Claude Code turns each tab into 4 spaces and drops trailing whitespace/newlines;
    leading whitespace is kept. Compare with unwrap_pasted(hook_prompt).
    """
    return text.replace("\r\n", "\n").replace("\t", "    ").rstrip()
