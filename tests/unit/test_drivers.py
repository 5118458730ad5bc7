"""Drivers on real texts: which kind a command selects, and each kind's limit notices and resets.

Codex texts are UsageLimitReachedError's (codex-rs/core/src/error.rs) as users reported them;
Gemini CLI's are its quota dialog's rows and API error; Aider's are litellm's rate-limit lines
with Aider's retry. Every time is a fixed epoch; nothing reads the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from reconciler import drivers
from reconciler.plan.notices import find_notice, reset_time


def at(year, month, day, hour=0, minute=0, tz="UTC") -> float:
    zone = tz if isinstance(tz, timezone) else ZoneInfo(tz)
    return datetime(year, month, day, hour, minute, tzinfo=zone).timestamp()


@pytest.mark.parametrize(("command", "kind"), [
    ("claude --dangerously-skip-permissions", "claude"),
    ("/root/.cache/orch-test/claude-2.1.328/node_modules/.bin/claude --settings /x.json", "claude"),
    ("ANTHROPIC_MODEL=opus claude", "claude"),
    ("env -i claude", "claude"),
    ("npx @anthropic-ai/claude-code", "claude"),
    ("codex --full-auto", "codex"),
    ("npx -y @openai/codex", "codex"),
    ("gemini --yolo", "gemini"),
    ("npx @google/gemini-cli", "gemini"),
    ("aider --model sonnet", "aider"),
    ("/home/u/.local/bin/aider", "aider"),
    ("orch-toyagent --name pm", "generic"),
    ("python3 -m reconciler.toyagent", "generic"),
    ("bash -lc 'claude'", "generic"),  # a shell runs it: orch cannot add to its arguments
    ("claude-wrapper.sh", "generic"),
    ("'unbalanced", "generic"),
])
def test_kind_from_the_commands_program(command, kind):
    assert drivers.detect(command) == kind


def test_an_explicit_kind_wins():
    assert drivers.resolve("generic", "claude").kind == "generic"
    assert drivers.resolve(None, "claude").kind == "claude"
    assert drivers.resolve("codex", "my-wrapper").kind == "codex"


def test_every_kind_has_a_driver():
    assert tuple(drivers.get(kind).kind for kind in drivers.KINDS) == drivers.KINDS


def test_generic_keeps_claudes_texts_and_reports_nothing():
    assert drivers.GENERIC.limit_patterns == drivers.CLAUDE.limit_patterns
    assert not drivers.GENERIC.reports and drivers.CLAUDE.reports
    assert not any(d.reports for d in (drivers.CODEX, drivers.GEMINI, drivers.AIDER))


CODEX_PRO = ("You've hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit "
             "https://chatgpt.com/codex/settings/usage to purchase more credits or try again at 3:15 PM.")
SEEN = at(2026, 12, 2, 14, 0)

# (kind, screen rows, first seen, local zone, expected reset or None for "held, no time stated")
HITS = [
    ("codex", ["■ " + CODEX_PRO], SEEN, "UTC", at(2026, 12, 2, 15, 15)),
    ("codex", ["ERROR: " + CODEX_PRO], SEEN, "UTC", at(2026, 12, 2, 15, 15)),
    ("codex", ["■ " + CODEX_PRO.replace("'", "’")], SEEN, "UTC", at(2026, 12, 2, 15, 15)),
    ("codex", ["■ You've hit your usage limit. Upgrade to Plus to continue using Codex "
               "(https://chatgpt.com/explore/plus), or try again at 9:05 AM."], SEEN, "Europe/Berlin",
     at(2026, 12, 3, 9, 5, tz="Europe/Berlin")),  # earlier than seen: tomorrow (Codex would print the date)
    ("codex", ["■ You've hit your usage limit. Visit https://chatgpt.com/codex/settings/usage to purchase "
               "more credits or try again at Dec 3rd, 2026 1:20 PM."], SEEN, "America/New_York",
     at(2026, 12, 3, 13, 20, tz="America/New_York")),
    ("codex", ["■ You've hit your usage limit. Try again at Jan 1st, 2027 12:05 AM."], SEEN, "UTC",
     at(2027, 1, 1, 0, 5)),
    ("codex", ["■ You've hit your usage limit. Try again at Dec 11th, 2026 4:00 PM."], SEEN, "UTC",
     at(2026, 12, 11, 16)),
    ("codex", ["■ You've hit your usage limit. Try again later."], SEEN, "UTC", None),
    ("codex", ["■ You've hit your usage limit. Upgrade to Plus to continue using Codex "
               "(https://chatgpt.com/explore/plus), or try again later."], SEEN, "UTC", None),
    ("codex", ["ERROR: Quota exceeded. Check your plan and billing details."], SEEN, "UTC", None),
    ("codex", ["■ Model gpt-5-codex is at capacity. Please try a different model. Try again in 5m."], SEEN,
     "UTC", SEEN + 300),
    ("codex", ["■ Model gpt-5-codex is at capacity. Please try a different model. Try again later."], SEEN,
     "UTC", None),
    ("gemini", ["│ Usage limit reached for gemini-2.5-pro.", "│ Access resets at 3:45 PM UTC.",
                "│ /stats model for usage details"], SEEN, "UTC", at(2026, 12, 2, 15, 45)),
    ("gemini", ["Usage limit reached for all Pro models.", "Access resets at 11:00 AM GMT+2."], SEEN, "UTC",
     at(2026, 12, 3, 11, tz=timezone(timedelta(hours=2)))),  # 09:00 UTC: earlier than seen, so tomorrow
    ("gemini", ["Usage limit reached for gemini-2.5-pro.", "Access resets at 4:30 PM PST."], SEEN,
     "America/Los_Angeles", at(2026, 12, 2, 16, 30, tz="America/Los_Angeles")),  # PST: read in the local zone
    ("gemini", ["│ Usage limit reached for gemini-2.5-pro.  │", "│ /model to switch models.  │"], SEEN, "UTC", None),
    ("gemini", ["│ We are currently experiencing high demand for gemini-2.5-flash.",
                "│ We apologize and appreciate your patience."], SEEN, "UTC", None),
    ("gemini", ["✕ [API Error: You have exhausted your capacity on this model. Your quota will reset after "
                "2h52m39s.]"], SEEN, "UTC", SEEN + 2 * 3600 + 52 * 60 + 39),
    ("aider", ["litellm.RateLimitError: AnthropicException - rate limit exceeded",
               "The API provider has rate limited you. Try again later or check your quotas.",
               "Retrying in 0.2 seconds..."], SEEN, "UTC", None),
    ("aider", ["litellm.RateLimitError: RateLimitError: OpenrouterException - rate limit exceeded"], SEEN, "UTC",
     None),
]


@pytest.mark.parametrize(("kind", "rows", "first_seen", "zone", "expected"), HITS)
def test_limit_notices_and_their_reset(kind, rows, first_seen, zone, expected):
    notice = find_notice(rows, driver=drivers.get(kind))
    assert notice is not None
    assert reset_time(notice, first_seen, zone) == expected


NOT_HITS = [
    ("codex", ["› You've hit your usage limit. Try again at 3:15 PM."]),  # typed into codex's prompt
    ("codex", ["• The message says: You've hit your usage limit. Try again at 3:15 PM."]),
    ("codex", ["  72% of your 5h limit left"]),
    ("gemini", ["> Usage limit reached for gemini-2.5-pro."]),  # a typed prompt
    ("gemini", ["✦ When Gemini says We are currently experiencing high demand for x, wait."]),
    ("aider", ["> The API provider has rate limited me? what does that mean"]),
    ("aider", ["Retrying in 0.2 seconds..."]),
    ("codex", ["  ⎿  You've hit your 5-hour limit · resets 11:57am (UTC)"]),  # Claude's text is not Codex's
    ("aider", ["  ⎿  You've hit your 5-hour limit · resets 11:57am (UTC)"]),
]


@pytest.mark.parametrize(("kind", "rows"), NOT_HITS)
def test_quotes_typed_prompts_and_other_kinds_texts_are_not_hits(kind, rows):
    assert find_notice(rows, driver=drivers.get(kind)) is None


def test_claudes_texts_are_the_claude_and_generic_drivers():
    line = "  ⎿  You've hit your 5-hour limit · resets 11:57am (UTC)"
    for driver in (drivers.CLAUDE, drivers.GENERIC):
        notice = find_notice([line], driver=driver)
        assert notice is not None and notice.reset_text == "11:57am (UTC)"


def test_every_pattern_of_every_driver_is_exercised():
    for kind in ("codex", "gemini", "aider"):
        rows = [row for k, lines, *_ in HITS if k == kind for row in lines]
        for pattern in drivers.get(kind).limit_patterns:
            assert any(pattern.search(row.strip()) for row in rows), (kind, pattern.pattern)


def _desired(tmp_path, agent_lines: str):
    from reconciler.manifest.desired import desired_project
    from reconciler.manifest.loader import load_manifest

    manifest = tmp_path / "orch.yaml"
    manifest.write_text("apiVersion: orch/v1\nkind: Project\nmetadata:\n  name: shop\nspec:\n  agents:\n"
                        "    - name: dev\n" + agent_lines)
    return desired_project(load_manifest(manifest), "1a2b3c4d", tmp_path / "home", None).agents[0]


def test_the_manifests_kind_reaches_the_desired_agent(tmp_path):
    detected = _desired(tmp_path, "      command: claude --dangerously-skip-permissions\n")
    assert detected.kind == "claude"
    generic = _desired(tmp_path, "      command: orch-toyagent\n")
    assert generic.kind == "generic"
    explicit = _desired(tmp_path, "      command: my-wrapper\n      kind: codex\n")
    assert explicit.kind == "codex"


def test_a_detected_kind_leaves_the_windows_hash_alone_a_given_one_is_part_of_it(tmp_path):
    detected = _desired(tmp_path, "      command: claude\n")
    given = _desired(tmp_path, "      command: claude\n      kind: claude\n")
    assert dict(detected.spec).keys() == {"command", "cwd", "env"}
    assert dict(given.spec)["kind"] == "claude" and given.spec_hash != detected.spec_hash


def test_an_unknown_kind_is_a_manifest_error(tmp_path):
    from reconciler.manifest.loader import ManifestError

    with pytest.raises(ManifestError, match="kind"):
        _desired(tmp_path, "      command: claude\n      kind: copilot\n")


# -- each kind's dialogs: never typed into (an Enter would pick the highlighted option) -------------

from reconciler.plan.screen import input_ready, menu_open, parse_capture  # noqa: E402

GEMINI_QUOTA = ["╭──────────────────────────────────────────────╮",
                "│ Usage limit reached for gemini-2.5-pro.      │",
                "│ Access resets at 3:45 PM UTC.                │",
                "│ /stats model for usage details               │",
                "│                                              │",
                "│ ● 1. Keep trying                             │",
                "│   2. Switch to gemini-2.5-flash              │",
                "│   3. Stop                                    │",
                "╰──────────────────────────────────────────────╯"]
GEMINI_READY = ["╭──────────────────────────────────────────────╮",
                "│ >   Type your message or @path/to/file        │",
                "╰──────────────────────────────────────────────╯"]
AIDER_QUESTION = ["Tokens: 9.8k sent, 213 received.", ".pylintrc",
                  "Add file to the chat? (Y)es/(N)o/(D)on't ask again [Yes]: "]
AIDER_READY = ["Tokens: 9.8k sent, 213 received.", "", "> "]
CODEX_APPROVAL = ["  Would you like to run the following command?", "", "  $ rm -rf build", "",
                  "› 1. Yes, proceed (y)", "  2. No, and tell Codex what to do differently (esc)", "",
                  "  Press enter to confirm or esc to cancel"]
CODEX_READY = ["› ", "", "  100% context left · ? for shortcuts"]


@pytest.mark.parametrize(("kind", "rows", "cursor_y", "menu"), [
    ("gemini", GEMINI_QUOTA, 5, True),
    ("gemini", GEMINI_READY, 1, False),
    ("aider", AIDER_QUESTION, 2, True),
    ("aider", AIDER_READY, 2, False),
    ("codex", CODEX_APPROVAL, 4, True),
    ("codex", CODEX_READY, 0, False),
])
def test_each_kinds_dialogs_are_menus(kind, rows, cursor_y, menu):
    screen = parse_capture("\n".join(rows) + "\n", 2, cursor_y, dialogs=drivers.get(kind).dialogs)
    assert menu_open(screen) is menu
    if menu:
        assert not input_ready(screen)


def test_without_its_driver_geminis_quota_dialog_would_look_typeable():
    screen = parse_capture("\n".join(GEMINI_QUOTA) + "\n", 2, 5)
    assert menu_open(screen) is False  # why the gemini driver carries its dialog rows
