"""What kind of project a folder holds, with the evidence: rule-based, linguist-style.

Imperative shell: list the files (`git ls-files` in a repository, .gitignore honoured; else a
walk that skips vendored folders) and read a handful of dependency manifests. Functional core:
`score(paths, contents)` weighs signals by how much of the tree they cover, so a Go service
with a Dockerfile and a Helm chart of its own is code, and a Terraform module with Go tests is
infrastructure. Vendored, generated and documentation paths are left out as linguist does,
and `.gitattributes` linguist-vendored/-generated/-documentation overrides are honoured.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

AMBIGUOUS_BELOW = 0.6  # confidence under which the runner-up's distinctive roles are added
COVERAGE_POINTS = 10.0  # a type covering the whole tree scores this much from coverage
MARKER_CAP = 8.0  # markers alone never outweigh a tree that is mostly something else
MAX_MANIFEST_BYTES = 65536
MAX_MANIFESTS = 40
DEFAULT_TEMPLATES = {"code": "code_project", "web": "web_app", "library": "library", "data": "data_pipeline",
                     "research": "research", "infrastructure": "system_deployment"}

class Rule:
    """A path rule in two parts: one over the folder ("a/b/", cached per folder), one over the file name.

    A path matches when either part does, or with `both`, when both do. Splitting keeps the
    regexes on short strings and evaluates each folder once: 50,000 paths share a few thousand.
    """

    def __init__(self, folder: str | None = None, name: str | None = None, both: bool = False, flags: int = 0):
        self.folder = re.compile(folder, flags) if folder else None
        self.name = re.compile(name, flags) if name else None
        self.both = both
        self._folders: dict[str, bool] = {}

    def in_folder(self, folder: str) -> bool:
        hit = self._folders.get(folder)
        if hit is None:
            hit = self._folders[folder] = bool(self.folder and self.folder.search(folder))
        return hit

    def __call__(self, folder: str, name: str) -> bool:
        if self.both:
            return self.in_folder(folder) and bool(self.name and self.name.search(name))
        return self.in_folder(folder) or bool(self.name and self.name.search(name))


def split(path: str) -> tuple[str, str]:
    """'a/b/c.py' -> ('a/b/', 'c.py')."""
    cut = path.rfind("/") + 1
    return path[:cut], path[cut:]


# linguist's vendor.yml, generated-file rules and documentation.yml, the parts that matter here.
VENDORED = Rule(
    folder=r"(^|/)(node_modules|bower_components|vendor|vendors|third[-_]?party|extern|external|Godeps|Pods|Carthage"
           r"|\.yarn|\.venv|venv|site-packages|__pycache__|\.tox|\.git|\.terraform|cache|dist)/|^(deps|[Dd]ependencies)/",
    name=r"\.min\.(js|css)$|-min\.js$|^jquery[^/]*\.js$|^gradlew(\.bat)?$|^mvnw(\.cmd)?$")
GENERATED = Rule(
    folder=r"(^|/)generated/",
    name=r"^(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|Pipfile\.lock|uv\.lock|Cargo\.lock"
         r"|go\.sum|composer\.lock|Gemfile\.lock|\.terraform\.lock\.hcl)$"
         r"|_pb2(_grpc)?\.py$|\.pb\.go$|\.pb\.(cc|h)$|\.generated\.|\.js\.map$|\.css\.map$|\.pyc$")
DOCUMENTATION = Rule(
    folder=r"^[Dd]ocs?/|(^|/)[Dd]ocumentation/|(^|/)[Jj]avadoc/|^[Mm]an/|^[Ee]xamples/|^[Dd]emos?/",
    name=r"^(README|CHANGELOG|CHANGES|HISTORY|CONTRIBUTING|COPYING|INSTALL|LICEN[CS]E|AUTHORS|NOTICE)(\.[^/]*)?$",
    flags=re.IGNORECASE)

SOURCE = {ext: "code" for ext in (
    ".py", ".go", ".rs", ".java", ".kt", ".kts", ".c", ".cc", ".cpp", ".cxx", ".h", ".hpp", ".cs", ".rb",
    ".php", ".swift", ".scala", ".ex", ".exs", ".erl", ".hs", ".ml", ".clj", ".lua", ".zig", ".dart", ".m",
    ".pl", ".sh", ".nim", ".jl", ".groovy")}
WEB = {".tsx": 1.0, ".jsx": 1.0, ".vue": 1.0, ".svelte": 1.0, ".astro": 1.0, ".css": 1.0, ".scss": 1.0,
       ".sass": 1.0, ".less": 1.0, ".html": 0.7, ".htm": 0.7, ".erb": 0.7, ".ejs": 1.0, ".hbs": 1.0}
DATA_FILES = (".csv", ".tsv", ".parquet", ".avro", ".orc", ".jsonl", ".ndjson", ".feather", ".arrow")
DATA_DIRS = Rule(folder=r"(^|/)(dags|pipelines?|etl|elt|transforms?|ingestion|flows|stages|assets"
                        r"|models/(staging|marts|intermediate))/")
WEB_DIRS = Rule(folder=r"(^|/)(controllers|views|templates|pages|components)/")  # server-side code of a web app
INFRA_ROOTS = ("Chart.yaml", "Pulumi.yaml", "cdk.json")  # everything under such a folder is infrastructure
INFRA_DIRS = Rule(folder=r"(^|/)(k8s|kubernetes|manifests|deploy|deployments?|kustomize|overlays|helm|charts"
                         r"|roles|playbooks|group_vars|host_vars|inventory|inventories|cloudformation|cfn)/")
TESTS = Rule(folder=r"(^|/)(tests?|spec|__tests__)/", name=r"_test\.go$|^test_.*\.py$|\.(spec|test)\.[jt]sx?$")
DEPENDENCY_FILES = re.compile(r"^(requirements[^/]*\.txt|pyproject\.toml|setup\.py|setup\.cfg|Pipfile"
                              r"|environment\.ya?ml|package\.json|Cargo\.toml|Gemfile|go\.mod)$")

# (type, points, label, what in a dependency manifest says so)
DEPENDENCIES = (
    ("data", 2.0, "airflow", r"apache-airflow|\bairflow\b"), ("data", 3.0, "dbt", r"\bdbt-(core|postgres|snowflake|bigquery)"),
    ("data", 2.0, "spark", r"\bpyspark\b|spark-(core|sql)"), ("data", 3.0, "kedro", r"\bkedro\b"),
    ("data", 2.0, "dagster/prefect/luigi", r"\b(dagster|prefect|luigi)\b"),
    ("data", 1.0, "great_expectations", r"great[-_]expectations"), ("data", 1.0, "pandas/polars", r"\b(pandas|polars)\b"),
    ("research", 1.5, "jupyter", r"\b(jupyter|jupyterlab|notebook|ipykernel|papermill)\b"),
    ("research", 1.0, "plotting", r"\b(matplotlib|seaborn|plotly)\b"),
    ("research", 1.0, "ml/science", r"\b(scikit-learn|sklearn|torch|tensorflow|statsmodels|scipy|xarray)\b"),
    ("web", 3.0, "web framework (JS)", r'"(react|vue|svelte|next|nuxt|@angular/core|express|@remix-run/react|astro)"\s*:'),
    ("web", 2.5, "web framework (Python/Ruby/PHP)", r"\b(django|flask|fastapi|rails|laravel/framework)\b"),
)
# (type, points, label, Rule): each label counts once, however many files match.
MARKERS = (
    ("infrastructure", 3.0, "terraform", Rule(name=r"\.tf$")),
    ("infrastructure", 3.0, "terragrunt", Rule(name=r"^terragrunt\.hcl$")),
    ("infrastructure", 2.0, "helm chart", Rule(name=r"^Chart\.yaml$")),
    ("infrastructure", 2.0, "kustomize", Rule(name=r"^kustomization\.ya?ml$")),
    ("infrastructure", 3.0, "ansible", Rule(name=r"^(ansible\.cfg|site\.ya?ml)$")),
    ("infrastructure", 3.0, "ansible", Rule(folder=r"(^|/)playbooks?/$", name=r"\.ya?ml$", both=True)),
    ("infrastructure", 3.0, "pulumi", Rule(name=r"^Pulumi(\.[^/]+)?\.yaml$")),
    ("infrastructure", 3.0, "packer", Rule(name=r"\.pkr\.hcl$|^packer\.json$")),
    ("infrastructure", 3.0, "cloudformation", Rule(folder=r"(^|/)(cloudformation|cfn)/", name=r"\.cfn\.ya?ml$")),
    ("infrastructure", 0.5, "dockerfile", Rule(name=r"^(Dockerfile|Containerfile)|^docker-compose[^/]*\.ya?ml$")),
    ("data", 4.0, "dbt project", Rule(name=r"^dbt_project\.yml$")),
    ("data", 3.0, "airflow dags", Rule(folder=r"(^|/)dags/$", name=r"\.py$", both=True)),
    ("data", 3.0, "kedro catalog", Rule(folder=r"(^|/)conf/base/$", name=r"^catalog\.ya?ml$", both=True)),
    ("data", 2.0, "dvc", Rule(name=r"^dvc\.yaml$|\.dvc$")),
    ("research", 2.0, "paper", Rule(name=r"\.(tex|bib)$")),
    ("research", 1.0, "experiments", Rule(folder=r"(^|/)experiments?/")),
    ("web", 3.0, "web build config", Rule(name=r"^(next|vite|nuxt|svelte|astro|webpack)\.config\.[cm]?[jt]s$|^angular\.json$")),
    ("web", 3.0, "django app", Rule(name=r"^manage\.py$")),
    ("web", 1.0, "web templates", Rule(folder=r"(^|/)templates/$", name=r"\.html$", both=True)),
    ("web", 1.0, "public assets", Rule(folder=r"(^|/)(public|static)/")),
    ("code", 2.0, "language manifest", Rule(name=r"^(go\.mod|Cargo\.toml|pyproject\.toml|setup\.py|package\.json|pom\.xml"
                                             r"|build\.gradle(\.kts)?|CMakeLists\.txt|Gemfile|composer\.json|mix\.exs"
                                             r"|.+\.csproj|Package\.swift)$")),
    ("code", 2.0, "program entry point", Rule(folder=r"(^|/)cmd/[^/]+/", name=r"^(main\.(go|rs|c|cpp|py)|__main__\.py)$")),
    ("code", 1.0, "tests", Rule(folder=r"(^|/)(tests?|spec)/", name=r"_test\.go$|^test_.*\.py$")),
    ("library", 3.0, "library layout", Rule(folder=r"^src/$", name=r"^lib\.rs$", both=True)),
    ("library", 3.0, "library layout", Rule(folder=r"^src/[a-z_]+/$", name=r"^__init__\.py$", both=True)),
    ("library", 3.0, "library layout", Rule(folder=r"^lib/$", name=r"\.rb$", both=True)),
)
LIBRARY_DOCS = (("changelog", re.compile(r"(^|/)(CHANGELOG|CHANGES|HISTORY)(\.[^/]*)?$", re.IGNORECASE)),
                ("docs or examples folder", re.compile(r"^([Dd]ocs?|[Ee]xamples)/")))
TIE_ORDER = ("code", "web", "infrastructure", "data", "research", "library")  # on equal points, the earlier
# Necessary conditions of every marker, for one cheap pass over the tree before the markers' own.
_ANY_MARKER_NAME = re.compile("|".join(f"(?:{rule.name.pattern})" for *_, rule in MARKERS
                                        if rule.name and not rule.both))  # a `both` rule needs its folder
_ANY_MARKER_FOLDER = Rule(folder="|".join(f"(?:{rule.folder.pattern})" for *_, rule in MARKERS if rule.folder))
_DEPENDENCIES = [(kind, points, label, re.compile(pattern, re.IGNORECASE)) for kind, points, label, pattern in DEPENDENCIES]
APP_SIGNS = ("program entry point", "dockerfile", "web build config", "django app")


@dataclass(frozen=True)
class Evidence:
    type: str
    signal: str
    points: float
    files: tuple[str, ...]  # up to three examples
    count: int

    def as_dict(self) -> dict:
        return {"type": self.type, "signal": self.signal, "points": round(self.points, 2),
                "count": self.count, "files": list(self.files)}


@dataclass(frozen=True)
class Detection:
    type: str
    confidence: float
    runner_up: str | None
    scores: dict[str, float]
    evidence: tuple[Evidence, ...]
    files_total: int
    files_scored: int
    excluded: dict[str, int]
    source: str = "walk"  # "git" or "walk"
    template: str | None = None
    runner_up_template: str | None = None

    @property
    def ambiguous(self) -> bool:
        return self.runner_up is not None and self.confidence < AMBIGUOUS_BELOW

    def summary(self) -> str:
        text = f"detected {self.type} (confidence {self.confidence:.2f}"
        if self.runner_up:
            text += f", runner-up {self.runner_up}"
        return text + ")"

    def as_dict(self) -> dict:
        return {"type": self.type, "template": self.template, "confidence": self.confidence,
                "runner_up": None if self.runner_up is None else {
                    "type": self.runner_up, "template": self.runner_up_template,
                    "score": self.scores.get(self.runner_up, 0.0)},
                "ambiguous": self.ambiguous, "scores": self.scores,
                "evidence": [e.as_dict() for e in self.evidence],
                "files": {"total": self.files_total, "scored": self.files_scored, "excluded": self.excluded,
                          "source": self.source}}


# -- the shell: files and a few contents ----------------------------------------------------


def list_files(root: Path) -> tuple[list[str], str]:
    """Paths relative to ROOT: tracked and unignored files in a git repository, else a pruned walk."""
    try:
        result = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard", "--", "."], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        result = None
    if result is not None and result.returncode == 0:
        files = os.fsdecode(result.stdout).split("\0")
        return sorted({f for f in files if f}), "git"
    files = []
    for folder, dirs, names in os.walk(root):
        relative = os.path.relpath(folder, root)
        prefix = "" if relative == "." else relative.replace(os.sep, "/") + "/"
        dirs[:] = sorted(d for d in dirs if not VENDORED.in_folder(prefix + d + "/"))
        files.extend(prefix + name for name in names)
    return sorted(files), "walk"


def read_contents(root: Path, paths: list[str]) -> dict[str, str]:
    """The dependency manifests (shallowest first, a bounded number), for the framework signals."""
    wanted = sorted((p for p in paths if DEPENDENCY_FILES.search(split(p)[1])), key=lambda p: (p.count("/"), p))
    contents = {}
    for path in wanted[:MAX_MANIFESTS]:
        try:
            with open(root / path, "rb") as handle:
                contents[path] = handle.read(MAX_MANIFEST_BYTES).decode("utf-8", "replace")
        except OSError:
            continue
    return contents


def detect(root: Path, folders=None) -> Detection:
    """Detect ROOT's project type; with template folders, also name the template for each type."""
    from dataclasses import replace

    root = Path(root)
    paths, source = list_files(root)
    attributes = (root / ".gitattributes").read_text(errors="replace") if (root / ".gitattributes").is_file() else ""
    kept, excluded, documentation = exclude(paths, parse_gitattributes(attributes))
    detection = replace(score(kept, read_contents(root, kept), excluded, documentation),
                        files_total=len(paths), source=source)
    if folders is None:
        return detection
    served = templates_by_type(folders)
    return replace(detection, template=served.get(detection.type),
                   runner_up_template=served.get(detection.runner_up) if detection.runner_up else None)


# -- the core: exclusions and scores --------------------------------------------------------


def _glob_regex(pattern: str) -> re.Pattern:
    """A .gitattributes pattern as a regex over repository paths."""
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.lstrip("/")
    out, index = "", 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            out, index = out + "(.*/)?", index + 3
        elif pattern.startswith("**", index):
            out, index = out + ".*", index + 2
        elif pattern[index] == "*":
            out, index = out + "[^/]*", index + 1
        elif pattern[index] == "?":
            out, index = out + "[^/]", index + 1
        else:
            out, index = out + re.escape(pattern[index]), index + 1
    return re.compile(("^" if anchored else "(^|.*/)") + out + "(/.*)?$")


def parse_gitattributes(text: str) -> list[tuple[re.Pattern, dict[str, bool]]]:
    """The linguist-vendored/-generated/-documentation settings, in file order (last one wins)."""
    rules = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        settings = {}
        for attr in parts[1:]:
            value = not attr.startswith("-")
            name, _, given = attr.lstrip("-!").partition("=")
            if given:
                value = given.lower() not in ("false", "0")
            if name in ("linguist-vendored", "linguist-generated", "linguist-documentation"):
                settings[name[len("linguist-"):]] = value
        if settings:
            rules.append((_glob_regex(parts[0]), settings))
    return rules


EXCLUSIONS = (("vendored", VENDORED), ("generated", GENERATED), ("documentation", DOCUMENTATION))
_ANY_EXCLUDED_NAME = re.compile("|".join(f"(?:{rule.name.pattern})" for _, rule in EXCLUSIONS if rule.name), re.IGNORECASE)


def _reason(folder: str, name: str, forced: dict[str, bool]) -> str | None:
    """Why a file is left out (the first of vendored, generated, documentation), or None."""
    for reason, rule in EXCLUSIONS:
        if forced.get(reason, rule(folder, name)):
            return reason
    return None


def exclude(paths: list[str], rules: list[tuple[re.Pattern, dict[str, bool]]]
            ) -> tuple[list[str], dict[str, int], tuple[str, ...]]:
    """PATHS without vendored, generated and documentation files; how many of each were left out,
    and the documentation paths (a library's signs). RULES: .gitattributes settings, last one wins."""
    counts: Counter[str] = Counter()
    kept, documentation = [], []
    folders: dict[str, str | None] = {}
    for path in paths:
        forced: dict[str, bool] = {}
        for regex, settings in rules:
            if regex.match(path):
                forced.update(settings)
        folder, name = split(path)
        if forced or _ANY_EXCLUDED_NAME.search(name):
            reason = _reason(folder, name, forced)
        else:  # only the folder can exclude it: decided once per folder
            reason = folders[folder] if folder in folders else folders.setdefault(folder, _reason(folder, "", {}))
        if reason is None:
            kept.append(path)
        else:
            counts[reason] += 1
            if reason == "documentation":
                documentation.append(path)
    return kept, dict(counts), tuple(documentation)


def _coverage(path: str, infra_roots: tuple[str, ...]) -> dict[str, float] | None:
    """How one file counts toward each type's share of the tree; None: it says nothing."""
    folder, name = split(path)
    ext = os.path.splitext(name)[1].lower()
    if infra_roots and path.startswith(infra_roots):
        return {"infrastructure": 1.0}
    if ext in (".tf", ".tfvars", ".hcl"):
        return {"infrastructure": 1.0}
    if ext in (".yaml", ".yml", ".j2") and INFRA_DIRS.in_folder(folder):
        return {"infrastructure": 1.0}
    if name.startswith(("Dockerfile", "Containerfile", "docker-compose")):
        return {"infrastructure": 0.5}
    if ext == ".ipynb":
        return {"research": 1.0, "data": 0.3}
    if ext in (".tex", ".bib", ".rmd"):
        return {"research": 1.0}
    if ext == ".r":
        return {"research": 0.5, "data": 0.5}
    if ext in (".sql", ".dvc"):
        return {"data": 1.0}
    if ext in DATA_FILES:
        return {"data": 0.5, "research": 0.3}
    if ext in WEB:
        return {"web": WEB[ext]}
    if ext in (".ts", ".js", ".mjs", ".cjs"):
        weight = 0.5 if TESTS(folder, name) else 1.0
        return {"web": 0.6 * weight, "code": 0.4 * weight}
    if ext in SOURCE:
        weight = 0.5 if TESTS(folder, name) else 1.0
        if ext == ".py" and DATA_DIRS.in_folder(folder):
            return {"data": weight}
        if ext in (".py", ".rb", ".php") and WEB_DIRS.in_folder(folder):
            return {"web": 0.6 * weight, "code": 0.4 * weight}
        return {"code": weight}
    return None


def score(paths: list[str], contents: dict[str, str], excluded: dict[str, int] | None = None,
          documentation: tuple[str, ...] = ()) -> Detection:
    """The project type of a tree of PATHS (already without vendored/generated/docs) and some contents.

    DOCUMENTATION (the paths left out as such) only feeds the library signals.
    """
    infra_roots = tuple(p.rsplit("/", 1)[0] + "/" if "/" in p else "" for p in paths
                        if p.rsplit("/", 1)[-1] in INFRA_ROOTS)
    shares: dict[str, float] = defaultdict(float)
    covering: dict[str, list[str]] = defaultdict(list)
    counted: Counter = Counter()
    scored = 0
    for path in paths:
        weights = _coverage(path, infra_roots)
        if not weights:
            continue
        scored += 1
        for kind, weight in weights.items():
            shares[kind] += weight
            counted[kind] += 1
            if len(covering[kind]) < 3:
                covering[kind].append(path)
    total = sum(shares.values()) or 1.0
    evidence: list[Evidence] = []
    points: dict[str, float] = defaultdict(float)
    for kind, share in shares.items():
        value = COVERAGE_POINTS * share / total
        points[kind] += value
        evidence.append(Evidence(kind, f"covers {100 * share / total:.0f}% of the scored files", value,
                                 tuple(covering[kind]), counted[kind]))
    marker_points: dict[str, float] = defaultdict(float)
    found: set[str] = set()
    candidates = [(path, *split(path)) for path in paths]
    candidates = [c for c in candidates if _ANY_MARKER_NAME.search(c[2]) or _ANY_MARKER_FOLDER.in_folder(c[1])]
    by_label: dict[str, tuple[str, float, list[str]]] = {}
    for kind, value, label, rule in MARKERS:
        hits = [path for path, folder, name in candidates if rule(folder, name)]
        if hits:
            by_label.setdefault(label, (kind, value, []))[2].extend(hits)
    for label, (kind, value, hits) in by_label.items():
        found.add(label)
        marker_points[kind] += value
        evidence.append(Evidence(kind, label, value, tuple(hits[:3]), len(hits)))
    for kind, value, label, regex in _DEPENDENCIES:
        hits = [p for p, text in contents.items() if regex.search(text)]
        if hits:
            marker_points[kind] += value
            evidence.append(Evidence(kind, f"depends on {label}", value, tuple(hits[:3]), len(hits)))
    for label, regex in LIBRARY_DOCS:
        hits = [p for p in documentation if regex.search(p)]
        if hits:
            marker_points["library"] += 1.0
            evidence.append(Evidence("library", label, 1.0, tuple(hits[:3]), len(hits)))
    for kind, value in marker_points.items():
        points[kind] += min(value, MARKER_CAP)
    # A library is code without an application's signs: it competes with code on code's own ground.
    if "library" in points and "code" in shares:
        app = sum(1 for sign in APP_SIGNS if sign in found)
        points["library"] = points["code"] - marker_points.get("code", 0.0) + points["library"] - 2.0 * app
    else:
        points.pop("library", None)
    order = {kind: index for index, kind in enumerate(TIE_ORDER)}
    ranked = sorted(((round(v, 2), k) for k, v in points.items() if v > 0),
                    key=lambda pair: (-pair[0], order.get(pair[1], len(order)), pair[1]))
    if not ranked:
        return Detection("code", 0.0, None, {}, (Evidence("code", "no signals: the default", 0.0, (), 0),),
                         len(paths), 0, excluded or {})
    best_points, best = ranked[0]
    runner_points, runner = ranked[1] if len(ranked) > 1 else (0.0, None)
    confidence = round(best_points / (best_points + runner_points), 2) if best_points else 0.0
    evidence.sort(key=lambda e: (-e.points, e.type, e.signal))
    return Detection(best, confidence, runner, {k: v for v, k in ranked}, tuple(evidence), len(paths), scored,
                     excluded or {})


# -- from a type to a team -------------------------------------------------------------------


def templates_by_type(folders) -> dict[str, str]:
    """For each project type, the template that serves it (the usual name first, else the most general)."""
    from reconciler.teams.templates import TemplateError, available, resolve

    candidates: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for name, _origin, _file in available(folders):
        try:
            template = resolve(name, folders)
        except TemplateError:
            continue  # a broken template serves nothing; `orch team show NAME` says why
        if template.type:
            candidates[template.type].append((len(template.chain), name))
    served: dict[str, str] = {}
    for kind, names in candidates.items():
        names.sort()
        usual = DEFAULT_TEMPLATES.get(kind)
        served[kind] = usual if usual is not None and any(n == usual for _, n in names) else names[0][1]
    return served


def choose_team(detection: Detection, folders):
    """(template, extra roles from the runner-up when ambiguous, a one-line summary)."""
    from dataclasses import replace as copy

    from reconciler.teams.templates import TemplateError, resolve

    if detection.template is None:
        raise TemplateError([_no_template(detection.type)])
    template = resolve(detection.template, folders)
    summary = f"auto: {detection.summary()}"
    if not detection.ambiguous or detection.runner_up_template is None:
        return template, (), summary
    other = resolve(detection.runner_up_template, folders)
    have = {role.name for role in template.roles}
    extra = tuple(copy(role, count=1) for role in other.roles if role.name not in have)
    if extra:
        summary += (f"; ambiguous, so the runner-up {other.name}'s distinctive roles are added: "
                    + ", ".join(role.name for role in extra))
    return template, extra, summary


def _no_template(kind: str):
    from reconciler.manifest.loader import Diagnostic

    return Diagnostic("auto", 1, 1, "", f"no template serves the detected type {kind!r} (see `orch team list`)")
