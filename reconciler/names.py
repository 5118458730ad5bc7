"""Project and agent names: one rule, checked wherever a name comes in (manifest, command line)
before it reaches a path, a lock file or tmux. No pydantic here: every command imports this."""

from __future__ import annotations

import re

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"
_NAME_RE = re.compile(NAME_PATTERN)
RULE = "lowercase letters, digits and '-', 1-40 characters, starting and ending with a letter or digit"


def name_problem(value: object) -> str | None:
    """Why `value` is not a name, or None (fullmatch: "$" alone would let a trailing newline through)."""
    if isinstance(value, str) and _NAME_RE.fullmatch(value):
        return None
    return f"{value!r} is not a valid name ({RULE})"


def check_name(value: object, label: str = "project") -> str:
    """`value` when it is a valid name; a UserError naming the rule otherwise."""
    problem = name_problem(value)
    if problem is not None:
        from reconciler.errors import UserError

        raise UserError(problem.replace("a valid name", f"a valid {label} name", 1))
    return value  # type: ignore[return-value]
