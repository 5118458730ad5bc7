"""Optional AI refinement of a team: a model adjusts the roles from the file listing and the README.

The rule-based team is always the fallback. A provider is anything with `suggest(prompt) -> str`;
the Anthropic one needs the extra `orch[ai]` and ANTHROPIC_API_KEY, and takes its model from
spec.team.model or ORCH_AI_MODEL (never a built-in default). The answer is checked against the
roles the templates define (unknown ones dropped, counts bounded) and cached by the hash of
what was asked, so a watcher reloading the manifest does not ask again.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from reconciler.teams.templates import Role, Template, TemplateError, available, resolve

MAX_REFINED_COUNT = 4
LISTING_FILES = 400
README_LINES = 40
ENABLE = ("AI refinement is off: install the extra (pip install 'orch[ai]'), set ANTHROPIC_API_KEY, "
          "and name the model in spec.team.model or ORCH_AI_MODEL; using the rule-based team")


class Provider(Protocol):
    name: str

    def suggest(self, prompt: str) -> str:
        """The model's answer to PROMPT (expected: a JSON object, see `prompt_for`)."""


class AnthropicProvider:
    """The Messages API through the `anthropic` SDK (key and base URL from its usual environment)."""

    def __init__(self, model: str):
        import anthropic

        self.name = f"anthropic:{model}"
        self.model = model
        self.client = anthropic.Anthropic()

    def suggest(self, prompt: str) -> str:
        message = self.client.messages.create(model=self.model, max_tokens=1024,
                                              messages=[{"role": "user", "content": prompt}])
        return "".join(getattr(block, "text", "") for block in message.content)


def provider_from_environment(model: str | None) -> tuple[Provider | None, str | None]:
    """(the Anthropic provider, None) or (None, how to enable it)."""
    model = model or os.environ.get("ORCH_AI_MODEL")
    if not os.environ.get("ANTHROPIC_API_KEY") or not model:
        return None, ENABLE
    try:
        return AnthropicProvider(model), None
    except ImportError:
        return None, ENABLE


def registry(folders) -> dict[str, Role]:
    """Every role any template defines (the first template to define a name wins)."""
    roles: dict[str, Role] = {}
    for name, _origin, _file in available(folders):
        try:
            template = resolve(name, folders)
        except TemplateError:
            continue
        for role in template.roles:
            roles.setdefault(role.name, role)
    return roles


def listing(root: Path) -> tuple[list[str], str]:
    """The scored file listing (bounded) and the README's head: what the model is shown."""
    from reconciler.teams.detect import exclude, list_files, parse_gitattributes

    paths, _ = list_files(root)
    attributes = (root / ".gitattributes").read_text(errors="replace") if (root / ".gitattributes").is_file() else ""
    kept, _, _ = exclude(paths, parse_gitattributes(attributes))
    readme = next((root / name for name in ("README.md", "README.rst", "README", "README.txt")
                   if (root / name).is_file()), None)
    head = "\n".join(readme.read_text(errors="replace").splitlines()[:README_LINES]) if readme else ""
    return kept[:LISTING_FILES], head


def prompt_for(template: Template, roles: dict[str, Role], files: list[str], readme: str) -> str:
    known = "\n".join(f"- {name}: {role.description}" for name, role in sorted(roles.items()))
    current = ", ".join(f"{role.name} x{role.count}" for role in template.roles)
    return (
        "You choose the team of AI coding agents for a software repository.\n"
        f"Rule-based detection chose the template {template.name!r} with roles: {current}.\n"
        f"Roles you may use (no others):\n{known}\n\n"
        f"README (first lines):\n{readme or '(none)'}\n\nFiles ({len(files)} shown):\n" + "\n".join(files) + "\n\n"
        'Answer with one JSON object only: {"roles": [{"name": "<role>", "count": <1-'
        f'{MAX_REFINED_COUNT}>' '}], "reason": "<one sentence>"}. Keep the manager role '
        f"{template.manager!r}."
    )


def apply_answer(template: Template, roles: dict[str, Role], answer: str) -> tuple[Template, str]:
    """The template with the answer's roles (validated), and a note saying what changed or why not."""
    try:
        start, end = answer.index("{"), answer.rindex("}") + 1
        data = json.loads(answer[start:end])
        wanted = data["roles"]
        assert isinstance(wanted, list)
    except (ValueError, KeyError, AssertionError, TypeError):
        return template, "AI refinement: the model's answer was not the JSON asked for; using the rule-based team"
    chosen: dict[str, Role] = {}
    dropped = []
    for item in wanted:
        name = item.get("name") if isinstance(item, dict) else None
        if name not in roles or name in chosen:
            dropped.append(str(name))
            continue
        count = item.get("count", 1)
        count = min(max(count, 1), MAX_REFINED_COUNT) if isinstance(count, int) and not isinstance(count, bool) else 1
        own = next((role for role in template.roles if role.name == name), roles[name])
        chosen[name] = replace(own, count=count)
    if template.manager and template.manager not in chosen:
        chosen = {template.manager: next(r for r in template.roles if r.name == template.manager), **chosen}
    before = {role.name: role.count for role in template.roles}
    after = {name: role.count for name, role in chosen.items()}
    changes = [f"+{n}" for n in after if n not in before] + [f"-{n}" for n in before if n not in after]
    changes += [f"{n} x{after[n]}" for n in after if n in before and before[n] != after[n]]
    note = "AI refinement: " + (", ".join(changes) if changes else "no change")
    if dropped:
        note += f" (unknown roles dropped: {', '.join(dropped)})"
    reason = data.get("reason") if isinstance(data, dict) else None
    if isinstance(reason, str) and reason.strip():
        note += f"; reason: {reason.strip()[:200]}"
    return replace(template, roles=tuple(chosen.values())), note


def refine_team(template: Template, root: Path, folders, model: str | None = None,
                provider: Provider | None = None, cache_dir: Path | None = None) -> tuple[Template, str | None]:
    """The refined template and a note; the rule-based one (and how to enable) when no provider."""
    if provider is None:
        provider, why = provider_from_environment(model)
        if provider is None:
            return template, why
    roles = registry(folders)
    files, readme = listing(Path(root))
    prompt = prompt_for(template, roles, files, readme)
    key = hashlib.sha256(f"{provider.name}\0{prompt}".encode()).hexdigest()
    cache = _cache_file(cache_dir, key)
    answer = cache.read_text() if cache.is_file() else None
    if answer is None:
        try:
            answer = provider.suggest(prompt)
        except Exception as err:  # a network or API error must never stop orch: say it, keep the rules
            return template, f"AI refinement failed ({type(err).__name__}: {err}); using the rule-based team"
        _write_private(cache, answer)
    return apply_answer(template, roles, answer)


def _cache_file(cache_dir: Path | None, key: str) -> Path:
    if cache_dir is None:
        from reconciler.home import resolve_home

        cache_dir = resolve_home(None) / "cache" / "refine"
    return cache_dir / f"{key}.json"


def _write_private(path: Path, text: str) -> None:
    from reconciler.home import private_dir

    private_dir(path.parent.parent)
    private_dir(path.parent)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)
