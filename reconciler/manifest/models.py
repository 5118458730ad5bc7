"""The manifest schema (DESIGN.md section 2): pydantic models, unknown keys forbidden.

The models only check shape and local rules (names, durations, cross references inside the
document). Checks that need the file system (is `spec.repo` a repository?) live in the
loader, so the JSON Schema stays a pure description of the document.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from reconciler.manifest.durations import parse_duration
from reconciler.names import NAME_PATTERN, name_problem

ENV_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
RESERVED_ENV = ("ORCH_PROJECT", "ORCH_AGENT", "ORCH_HOME", "ORCH_TMUX_SOCKET")
SESSION_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$"  # tmux turns "." and ":" into "_"


def _check_name(value: str) -> str:
    problem = name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _duration_text(value: object) -> object:
    # YAML reads `every: 5` as a number: say what a duration is, not "should be a valid string".
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration (a number needs a unit: use 90s, 15m, 2h, 1d)")
    return value


def _check_duration(value: str) -> str:
    parse_duration(value)
    return value


def _check_command(value: str) -> str:
    if not value.strip():
        raise ValueError("command is empty (give the program to run, e.g. 'claude')")
    if "\n" in value or "\x00" in value:
        raise ValueError("command must be one line")
    return value


def _check_env_key(key: str) -> str:
    # Checked per key (not per dict) so the error points at the offending key's line.
    if not re.fullmatch(ENV_KEY_PATTERN, key):
        raise ValueError(f"{key!r} is not a valid environment variable name")
    if key in RESERVED_ENV:
        raise ValueError(f"{key} is set by orch itself and cannot be overridden")
    return key


def _check_env_value(value: str) -> str:
    if "\x00" in value:
        raise ValueError("value contains a NUL byte")
    return value


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as err:
        raise ValueError(f"{pattern!r} is not a valid regex: {err}") from None
    return pattern


_BAD_REF = re.compile(r"(^[-/.])|(\.\.)|([\x00-\x20~^:?*\[\\\x7f])|(@\{)|(//)|([/.]$)|(\.lock$)")


def _check_branch(value: str) -> str:
    if not value or _BAD_REF.search(value) or value == "@":
        raise ValueError(f"{value!r} is not a valid git branch name")
    return value


def _check_path(value: str) -> str:
    if "\x00" in value or "\n" in value:
        raise ValueError("path contains a NUL byte or a newline")
    return value


Name = Annotated[str, AfterValidator(_check_name), Field(json_schema_extra={"pattern": NAME_PATTERN})]
Duration = Annotated[
    str,
    BeforeValidator(_duration_text),
    AfterValidator(_check_duration),
    Field(description="A duration: 90s, 15m, 2h, 1d (minimum 1s)", examples=["30m"]),
]
Command = Annotated[str, AfterValidator(_check_command)]
EnvKey = Annotated[str, AfterValidator(_check_env_key)]
EnvValue = Annotated[str, AfterValidator(_check_env_value)]
Env = dict[EnvKey, EnvValue]
Regex = Annotated[str, AfterValidator(_check_regex)]
PathText = Annotated[str, AfterValidator(_check_path)]
Branch = Annotated[str, AfterValidator(_check_branch)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


class Metadata(Strict):
    name: Name = Field(description="Project name; also the default session name's prefix.")


class Checkin(Strict):
    every: Duration = Field(description="How often the note is delivered.")
    note: str = Field(min_length=1, description="The text typed into the agent's input box.")


class Agent(Strict):
    name: Name = Field(description="Unique within the project; also the tmux window name.")
    role: str | None = Field(default=None, description="Free text; templates name roles.")
    command: Command | None = Field(default=None, description="The program run in the window.")
    kind: Literal["claude", "codex", "gemini", "aider", "generic"] | None = Field(
        default=None,
        description="Which driver knows the program (its limit texts, its hooks); default: from the "
                    "command's program name, else generic (screen only).",
    )
    cwd: PathText | None = Field(
        default=None,
        description="Working folder; default: the worktree, else the repo, else the manifest folder.",
    )
    env: Env = Field(default_factory=dict, description="Extra environment for the agent.")
    worktree: bool | None = Field(default=None, description="Default true when spec.repo is set.")
    branch: Branch | None = Field(default=None, description='Default "orch/<agent name>".')
    brief: str | None = Field(default=None, description="Delivered once to each fresh agent process.")
    checkins: list[Checkin] = Field(default_factory=list)


class Defaults(Strict):
    command: Command | None = None
    env: Env = Field(default_factory=dict)
    checkins: list[Checkin] = Field(default_factory=list)


class Team(Strict):
    template: str | None = Field(default=None, description="auto | a template name.")
    templates_dir: PathText | None = Field(
        default=None, description="The user's templates (also ORCH_TEMPLATES); they shadow built-ins by name."
    )
    refine: bool = Field(default=False, description="Ask a model to adjust the roles (extra orch[ai] and a key).")
    model: str | None = Field(default=None, description="The model refinement asks (else ORCH_AI_MODEL).")
    add_roles: list[str] = Field(
        default_factory=list, description="Roles of other templates added to the team (`orch init` writes the "
                                          "runner-up's distinctive roles here when detection is ambiguous)."
    )


class Sync(Strict):
    mode: Literal["rebase", "merge", "off"] | None = Field(
        default=None, description="Default rebase when spec.repo is set, else off."
    )
    escalate_to: Name | None = Field(default=None, description="Agent told about conflicts.")
    integrate: Literal["off", "fast-forward"] = "off"
    gate: str | None = Field(default=None, description="Command that must pass before integrating.")


class CheckinPolicy(Strict):
    missed: Literal["fire_once", "skip"] = "fire_once"
    when: Literal["idle", "any"] = Field(
        default="idle",
        description="idle: a due check-in waits while its agent reports a turn under way (kinds that "
                    "report it: claude), at most max_wait; any: typed when due.",
    )
    max_wait: Duration = Field(default="10m", description="The longest a check-in waits for its agent to be idle.")


class Credit(Strict):
    patterns: list[Regex] = Field(default_factory=list, description="Extra regexes meaning 'out of credit'.")
    resume_note: str = Field(default="", description="Sent when the reset time has passed.")
    shared: bool = Field(default=False, description="One agent's limit holds the whole project.")


class Spec(Strict):
    repo: PathText | None = Field(default=None, description="Git repository, relative to the manifest.")
    upstream: Branch | None = Field(default=None, description="Branch worktrees follow.")
    session: Annotated[str, Field(pattern=SESSION_PATTERN)] | None = Field(
        default=None, description='Fixed tmux session name; default "<name>-<8 hex>".'
    )
    team: Team | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    agents: list[Agent] = Field(default_factory=list)
    sync: Sync = Field(default_factory=Sync)
    checkin_policy: CheckinPolicy = Field(default_factory=CheckinPolicy)
    credit: Credit = Field(default_factory=Credit)



class Manifest(Strict):
    apiVersion: Literal["orch/v1"]
    kind: Literal["Project"]
    metadata: Metadata
    spec: Spec


def cross_reference_errors(manifest: Manifest) -> list[tuple[tuple[str | int, ...], str]]:
    """Rules that span several fields, each reported at the field to fix."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    spec = manifest.spec
    seen: dict[str, int] = {}
    for index, agent in enumerate(spec.agents):
        if agent.name in seen:
            errors.append(
                (("spec", "agents", index, "name"),
                 f"{agent.name!r} is already the name of agents[{seen[agent.name]}] (names must be unique)")
            )
        seen.setdefault(agent.name, index)
        if agent.command is None and spec.defaults.command is None:
            errors.append(
                (("spec", "agents", index),
                 f"agent {agent.name!r} has no command (set its command, or spec.defaults.command)")
            )
    if spec.sync.escalate_to is not None and spec.sync.escalate_to not in seen:
        errors.append(
            (("spec", "sync", "escalate_to"),
             f"{spec.sync.escalate_to!r} is not an agent of this project "
             f"(agents: {', '.join(seen) or 'none'})")
        )
    return errors
