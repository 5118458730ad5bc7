"""Team templates (DESIGN.md section 5): find them, parse them with positions, merge the chain.

A template names a parent with `inherits`; the child's roles change the parent's by name,
field by field (only the fields the child writes), `remove` drops parent roles, new roles are
appended. Every error is a Diagnostic at the template's own file:line:col and names the chain,
so a user sees which file of which chain to fix.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from reconciler.manifest.loader import (Diagnostic, ManifestError, _clean_message, _position, _pydantic_loc,
                                        format_loc)
from reconciler.manifest.models import Checkin

MAX_DEPTH = 10
TEMPLATE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")  # a file stem: no '/', '.', or '..'
ROLE_NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")  # leaves room for "-NN" in the agent's name
MAX_COUNT = 20
# <<name>>: no brace, so JSON, f-strings, shell ${VAR} and templating in prose stay literal.
PLACEHOLDER = re.compile(r"<<\s*([A-Za-z_][A-Za-z0-9_]*)\s*>>")
PLACEHOLDERS = ("self", "manager", "team", "project", "upstream", "branch")


class TemplateError(ManifestError):
    """A template that cannot be used; every diagnostic at its file:line:col."""


def _check_template_name(value: str) -> str:
    if not TEMPLATE_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a template name (lowercase letters, digits and '_', "
                         "starting with a letter: the file's stem, no paths)")
    return value


def _check_role_name(value: str) -> str:
    if not ROLE_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a role name (lowercase letters, digits and '_', "
                         "starting with a letter, at most 31 characters)")
    return value


TemplateName = Annotated[str, AfterValidator(_check_template_name)]
RoleName = Annotated[str, AfterValidator(_check_role_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleDoc(_Strict):
    name: RoleName
    description: str | None = None
    brief: str | None = None
    count: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    worktree: bool | None = None
    checkins: list[Checkin] | None = None


class TemplateDoc(_Strict):
    apiVersion: str = Field(pattern=r"^orch/v1$")
    kind: str = Field(pattern=r"^TeamTemplate$")
    name: TemplateName
    inherits: TemplateName | None = None
    type: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,30}$")] | None = None
    description: str | None = None
    manager: RoleName | None = None
    roles: list[RoleDoc] = Field(default_factory=list)
    remove: list[RoleName] = Field(default_factory=list)


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    brief: str
    count: int
    worktree: bool
    checkins: tuple[tuple[str, str], ...]  # (every, note)
    source: str  # template that last changed the role
    where: str  # file:line of that change


@dataclass(frozen=True)
class Template:
    name: str
    type: str | None
    description: str
    manager: str | None
    chain: tuple[str, ...]  # child first
    roles: tuple[Role, ...]
    path: str


@dataclass(frozen=True)
class _Parsed:
    doc: TemplateDoc
    data: Any  # ruamel tree, for positions
    path: Path


# -- where templates live -------------------------------------------------------------------


def builtin_dir() -> Path:
    """The bundled templates: the source tree's `templates/`, else where the wheel installed them."""
    source = Path(__file__).resolve().parents[2] / "templates"
    if (source / "base.yaml").is_file():
        return source
    return Path(sys.prefix) / "share" / "orch" / "templates"


def search_path(templates_dir: Path | None = None) -> list[tuple[str, Path]]:
    """Folders searched in order (first one holding NAME.yaml wins), each with where it came from."""
    folders: list[tuple[str, Path]] = []
    if templates_dir is not None:
        folders.append(("spec.team.templates_dir", templates_dir))
    for entry in (os.environ.get("ORCH_TEMPLATES") or "").split(os.pathsep):
        if entry:
            folders.append(("ORCH_TEMPLATES", Path(entry).expanduser()))
    folders.append(("built-in", builtin_dir()))
    return folders


def find(name: str, folders: list[tuple[str, Path]]) -> tuple[str, Path] | None:
    """The file for template NAME (the name validated first: it becomes a path)."""
    if not TEMPLATE_NAME.fullmatch(name):
        return None
    for origin, folder in folders:
        candidate = folder / f"{name}.yaml"
        if candidate.is_file():
            return origin, candidate
    return None


def available(folders: list[tuple[str, Path]]) -> list[tuple[str, str, Path]]:
    """Every template name visible through `folders` as (name, origin, file); shadowed ones left out."""
    seen: dict[str, tuple[str, str, Path]] = {}
    for origin, folder in folders:
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.yaml")):
            if TEMPLATE_NAME.fullmatch(file.stem) and file.stem not in seen:
                seen[file.stem] = (file.stem, origin, file)
    return sorted(seen.values())


# -- parsing --------------------------------------------------------------------------------


def _diag(parsed: _Parsed | None, path: Path, loc: tuple[str | int, ...], message: str,
          chain: tuple[str, ...] = (), at_key: bool = False) -> Diagnostic:
    line, col = _position(parsed.data, loc, at_key) if parsed is not None else (1, 1)
    if len(chain) > 1:
        message += f" (in chain {' -> '.join(chain)})"
    return Diagnostic(str(path), line, col, format_loc(loc), message)


def _parse(path: Path, chain: tuple[str, ...]) -> _Parsed:
    from pydantic import ValidationError
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        text = path.read_text(encoding="utf-8")
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise TemplateError([Diagnostic(str(path), line, col, "", f"YAML syntax error: {err.problem or err.context}")]) from None
    except (OSError, UnicodeDecodeError, YAMLError) as err:
        raise TemplateError([Diagnostic(str(path), 1, 1, "", f"cannot read the template: {err}")]) from None
    if not isinstance(data, dict):
        raise TemplateError([Diagnostic(str(path), 1, 1, "", "a template is a mapping (apiVersion, kind, name, roles...)")])
    try:
        doc = TemplateDoc.model_validate(data)
    except ValidationError as err:
        parsed = _Parsed(None, data, path)  # type: ignore[arg-type]
        diagnostics = []
        for error in err.errors(include_url=False):
            loc = _pydantic_loc(error["loc"])
            message = _clean_message(error)
            if error["type"] == "extra_forbidden":
                message = ("unknown field (a template has apiVersion, kind, name, inherits, type, description, "
                           "manager, roles, remove; a role has name, description, brief, count, worktree, checkins)")
            diagnostics.append(_diag(parsed, path, loc, message, chain, at_key=error["type"] == "extra_forbidden"))
        raise TemplateError(sorted(diagnostics, key=lambda d: (d.line, d.column))) from None
    parsed = _Parsed(doc, data, path)
    if doc.name != path.stem:
        raise TemplateError([_diag(parsed, path, ("name",), f"{doc.name!r} must be the file's stem {path.stem!r}", chain)])
    return parsed


# -- resolving a chain ----------------------------------------------------------------------


def resolve(name: str, folders: list[tuple[str, Path]], _chain: tuple[str, ...] = (),
            _child: tuple[_Parsed, tuple[str | int, ...]] | None = None) -> Template:
    """The template NAME with its whole chain merged; raise TemplateError naming the chain."""
    chain = _chain + (name,)
    where = find(name, folders)
    if where is None:
        looked = ", ".join(str(folder) for _, folder in folders)
        if _child is None:
            problem = (f"{name!r} is not a template name" if not TEMPLATE_NAME.fullmatch(name)
                       else f"no template {name!r}")
            raise TemplateError([Diagnostic(name, 1, 1, "", f"{problem} (looked in {looked}; see `orch team list`)")])
        parent_of, loc = _child
        raise TemplateError([_diag(parent_of, parent_of.path, loc,
                                   f"the parent template {name!r} does not exist (looked in {looked})", chain)])
    parsed = _parse(where[1], chain)
    doc = parsed.doc
    errors: list[Diagnostic] = []
    seen: dict[str, int] = {}
    for index, role in enumerate(doc.roles):
        if role.name in seen:
            errors.append(_diag(parsed, parsed.path, ("roles", index, "name"),
                                f"role {role.name!r} is already defined at roles[{seen[role.name]}] "
                                "(one entry per role; change fields in that entry)", chain))
        seen.setdefault(role.name, index)
    if errors:
        raise TemplateError(errors)

    roles: dict[str, Role] = {}
    manager = doc.manager
    kind = doc.type
    description = doc.description
    if doc.inherits is not None:
        if doc.inherits in chain:
            raise TemplateError([_diag(parsed, parsed.path, ("inherits",),
                                       f"inheritance cycle: {' -> '.join(chain + (doc.inherits,))}", chain)])
        if len(chain) >= MAX_DEPTH:
            raise TemplateError([_diag(parsed, parsed.path, ("inherits",),
                                       f"inheritance deeper than {MAX_DEPTH}: {' -> '.join(chain + (doc.inherits,))}",
                                       chain)])
        parent = resolve(doc.inherits, folders, chain, (parsed, ("inherits",)))
        roles = {role.name: role for role in parent.roles}
        manager = manager or parent.manager
        kind = kind or parent.type
        description = description or parent.description
    for index, name_ in enumerate(doc.remove):
        if name_ not in roles:
            errors.append(_diag(parsed, parsed.path, ("remove", index),
                                f"cannot remove {name_!r}: the parent has no such role "
                                f"(its roles: {', '.join(roles) or 'none'})", chain))
        roles.pop(name_, None)
    for index, role in enumerate(doc.roles):
        line, _ = _position(parsed.data, ("roles", index), False)
        merged = _merge(roles.get(role.name), role, doc.name, f"{parsed.path}:{line}")
        if isinstance(merged, str):
            errors.append(_diag(parsed, parsed.path, ("roles", index), merged, chain))
            continue
        roles[role.name] = merged
    if manager is not None and manager not in roles:
        errors.append(_diag(parsed, parsed.path, ("manager",) if doc.manager else ("inherits",),
                            f"the manager role {manager!r} is not a role of this template "
                            f"(roles: {', '.join(roles) or 'none'})", chain))
    errors += _placeholder_errors(parsed, roles, manager, chain)
    if errors:
        raise TemplateError(sorted(errors, key=lambda d: (d.file, d.line, d.column)))
    return Template(name=doc.name, type=kind, description=description or "", manager=manager, 
                    chain=(doc.name,) + (parent.chain if doc.inherits is not None else ()),
                    roles=tuple(roles.values()), path=str(parsed.path))


_ROLE_FIELDS = ("description", "brief", "count", "worktree", "checkins")


def _merge(parent: Role | None, child: RoleDoc, template: str, where: str) -> Role | str:
    """The parent's role with the fields the child writes replaced; a new role needs a brief."""
    written = {field: getattr(child, field) for field in _ROLE_FIELDS if field in child.model_fields_set}
    if "checkins" in written:
        written["checkins"] = tuple((c.every, c.note) for c in written["checkins"] or [])
    if parent is None:
        if not written.get("brief"):
            return f"new role {child.name!r} needs a brief (what the agent is, whom it reports to, how it works)"
        base = Role(name=child.name, description="", brief="", count=1, worktree=True, checkins=(),
                    source=template, where=where)
    else:
        base = parent
    values = {field: written[field] for field in written if written[field] is not None}
    return replace(base, **values, source=template, where=where)


def _placeholder_errors(parsed: _Parsed, roles: dict[str, Role], manager: str | None,
                        chain: tuple[str, ...]) -> list[Diagnostic]:
    """Unknown placeholders, or <<manager>> in a team without one, anywhere in the merged roles."""
    errors = []
    for role in roles.values():
        texts = [role.brief] + [note for _, note in role.checkins]
        for text in texts:
            for match in PLACEHOLDER.finditer(text):
                word = match.group(1)
                if word not in PLACEHOLDERS or (word == "manager" and manager is None):
                    why = ("this template has no manager role (set `manager:`)" if word in PLACEHOLDERS
                           else f"known: {', '.join('<<' + p + '>>' for p in PLACEHOLDERS)}")
                    file, _, line = role.where.rpartition(":")
                    errors.append(Diagnostic(file, int(line), 1, f"roles[{role.name}]",
                                             f"unresolved placeholder {match.group(0)} ({why})"
                                             + (f" (in chain {' -> '.join(chain)})" if len(chain) > 1 else "")))
    return errors
