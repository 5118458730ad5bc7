"""Read a manifest file into a validated `Manifest`, or into errors that point at file:line:col.

ruamel.yaml's round-trip loader keeps the line and column of every key and value, so each
pydantic error (a path like spec.agents[1].checkins[0].every) is mapped back to where the
user has to look.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from reconciler.errors import UserError


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ManifestError(UserError):
    """A manifest that cannot be used; carries every diagnostic, not only the first."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        super().__init__("\n".join(str(d) for d in diagnostics))


@dataclass(frozen=True)
class LoadedManifest:
    path: Path  # absolute
    text: str
    sha256: str  # of the text, and of the composed team when there is one (a changed template misses the cache)
    manifest: Any  # reconciler.manifest.models.Manifest (imported lazily), the team's agents included
    team: Any = None  # reconciler.teams.manifest.TeamInfo when spec.team names a template

    @property
    def folder(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        """A path from the manifest, resolved against the manifest's folder."""
        return (self.folder / Path(relative).expanduser()).resolve()


def format_loc(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def _position(root: Any, loc: tuple[str | int, ...], at_key: bool) -> tuple[int, int]:
    """Line and column (1-based) of the node at `loc`, or of its nearest existing parent."""
    node, line, col = root, 0, 0
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        try:
            if isinstance(part, int) and hasattr(node, "lc") and isinstance(node, list):
                line, col = node.lc.item(part)  # type: ignore[attr-defined]  # ruamel's CommentedSeq
                node = node[part]
            elif hasattr(node, "lc") and isinstance(node, dict) and part in node:
                line, col = node.lc.key(part) if (at_key and last) else node.lc.value(part)  # type: ignore[attr-defined]
                if not (at_key and last) and not hasattr(node[part], "lc"):
                    line, col = node.lc.value(part)  # type: ignore[attr-defined]  # CommentedMap
                node = node[part]
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    if (line, col) == (0, 0) and hasattr(root, "lc"):
        line, col = root.lc.line, root.lc.col
    return line + 1, col + 1


def _clean_message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    kind = error.get("type")
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see `orch schema` or manifests/reference.yaml)"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        return f"{error.get('input')!r} is not allowed: {message}"
    if kind == "string_pattern_mismatch":
        return f"{error.get('input')!r} does not match {error.get('ctx', {}).get('pattern')}"
    return message


_PYDANTIC_TAG = re.compile(r"^(\[key\]|[a-z]+(-[a-z]+)*\[.*\])$")


def _pydantic_loc(raw_loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's tags ('[key]', 'function-after[...]') from an error location.

    Only the tags: a user's key such as `check-ins` or `escalate-to` stays in the path.
    """
    return tuple(p for p in raw_loc if isinstance(p, int) or not _PYDANTIC_TAG.match(p))


def _top_level_kind(data: Any) -> str:
    if isinstance(data, list):
        return "a list"
    if isinstance(data, bool):
        return "true/false"
    if isinstance(data, (int, float)):
        return "a number"
    if isinstance(data, str):
        return "plain text"
    return type(data).__name__


def load_manifest(file: str | Path) -> LoadedManifest:
    """Parse, validate and check the file-system facts of one manifest; raise ManifestError."""
    path = Path(file).expanduser()
    shown = str(file)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError([Diagnostic(shown, 1, 1, "", "no such file")]) from None
    except (IsADirectoryError, PermissionError) as err:
        raise ManifestError([Diagnostic(shown, 1, 1, "", f"cannot read: {err.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ManifestError([Diagnostic(shown, 1, 1, "", f"not UTF-8 text ({err.reason})")]) from None
    return parse_manifest(text, path, shown)


def parse_manifest(text: str, path: Path, shown: str | None = None) -> LoadedManifest:
    """Validate manifest `text` as if read from `path` (relative paths resolve against its folder)."""
    shown = shown or str(path)
    raw = text.encode("utf-8")
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = err.problem or err.context or "syntax error"
        if err.problem and (err.context or "").startswith("while parsing") and err.context_mark \
                and err.context_mark.line + 1 != line:
            # e.g. an unclosed '[' is found only at the end of the file: name where it opened
            problem += f" ({err.context} at line {err.context_mark.line + 1}, column {err.context_mark.column + 1})"
        raise ManifestError([Diagnostic(shown, line, col, "", f"YAML syntax error: {problem}")]) from None
    except YAMLError as err:
        raise ManifestError([Diagnostic(shown, 1, 1, "", f"YAML error: {err}")]) from None
    if data is None:
        raise ManifestError(
            [Diagnostic(shown, 1, 1, "", "the manifest is empty (start with 'apiVersion: orch/v1'; see `orch init`)")]
        )
    if not isinstance(data, dict):
        raise ManifestError(
            [Diagnostic(shown, 1, 1, "", f"expected a mapping at the top level, found {_top_level_kind(data)}")]
        )

    from pydantic import ValidationError

    from reconciler.manifest.models import Manifest, cross_reference_errors

    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as err:
        diagnostics = []
        for error in err.errors(include_url=False):
            loc = _pydantic_loc(error["loc"])
            at_key = error["type"] == "extra_forbidden" or tuple(error["loc"][-1:]) == ("[key]",)
            line, col = _position(data, loc, at_key=at_key)
            diagnostics.append(Diagnostic(shown, line, col, format_loc(loc), _clean_message(error)))
        raise ManifestError(sorted(diagnostics, key=lambda d: (d.line, d.column))) from None

    team = None
    problems: list[tuple[tuple[str | int, ...], str]] = []
    template_diagnostics: list[Diagnostic] = []
    if manifest.spec.team is not None and manifest.spec.team.template is not None:
        from reconciler.teams.manifest import compose_manifest

        manifest, team, problems, template_diagnostics = compose_manifest(manifest, path.resolve().parent)
    digest = hashlib.sha256(raw + (team.digest.encode() if team else b"")).hexdigest()
    loaded = LoadedManifest(path=path.resolve(), text=text, sha256=digest, manifest=manifest, team=team)
    if not problems:
        problems = [(_written_loc(loc, team), msg) for loc, msg in
                    cross_reference_errors(manifest) + _filesystem_errors(loaded)]
    if problems or template_diagnostics:
        diagnostics = [Diagnostic(shown, *_position(data, loc, at_key=False), format_loc(loc), msg) for loc, msg in problems]
        raise ManifestError(sorted(diagnostics, key=lambda d: (d.line, d.column)) + template_diagnostics)
    return loaded


def _written_loc(loc: tuple[str | int, ...], team) -> tuple[str | int, ...]:
    """An agents[i] location of the composed list, as the manifest's own index (or its spec.team)."""
    if team is None or loc[:2] != ("spec", "agents") or len(loc) < 3 or not isinstance(loc[2], int):
        return loc
    written = team.written_index[loc[2]]
    return ("spec", "agents", written, *loc[3:]) if written is not None else ("spec", "team", "template")


def _filesystem_errors(loaded: LoadedManifest) -> list[tuple[tuple[str | int, ...], str]]:
    spec = loaded.manifest.spec
    errors: list[tuple[tuple[str | int, ...], str]] = []
    if spec.repo is not None:
        repo = loaded.resolve(spec.repo)
        if not repo.is_dir():
            errors.append((("spec", "repo"), f"{str(repo)!r} does not exist (paths are relative to the manifest's folder)"))
        elif not _is_git_repository(repo):
            errors.append((("spec", "repo"), f"{str(repo)!r} is not a git repository (run `git init` there, or fix the path)"))
    for index, agent in enumerate(spec.agents):
        if agent.cwd is not None and not loaded.resolve(agent.cwd).is_dir():
            errors.append(
                (("spec", "agents", index, "cwd"),
                 f"{str(loaded.resolve(agent.cwd))!r} is not a folder (paths are relative to the manifest's folder)")
            )
    return errors


def _is_git_repository(folder: Path) -> bool:
    try:
        result = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--git-dir"],
            capture_output=True, text=True, timeout=10,
        )
    except FileNotFoundError:
        raise UserError("git is not installed (install it, e.g. `apt-get install git`)") from None
    return result.returncode == 0
