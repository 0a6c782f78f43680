"""The README and docs/ say only what is true of the code (fast: no brokers, no servers).

What the pages name is read from their code: inline `code spans` and fenced code blocks
(python blocks are skipped for commands: `from kafkalab import ...` is no command).

- Commands: every `kafkalab COMMAND [SUBCOMMAND] [--option]...` must exist in the parser
  that kafkalab/app/cli.py builds. The second word is checked where the command takes a
  choice of actions (`db url|stop|status`, `server up|down|...`); options are checked up to
  the end of the line or a `#` comment.
- Spec paths: a dotted name whose first segment is a spec field with fields of its own
  (`cluster`, `topic`, `producer`, `consumer`, `retries`, `faults`, `integrity`, and the
  sweep's `scaling`, `base`, `axes`, `cells`) is a spec path and must exist in the pydantic
  schema (kafkalab/spec/models.py), as the field tables of docs/specs.md list it. List
  entries are written `faults[].broker` or `faults.0.broker`; after `base.`, `axes.` and
  `cells[].` comes an experiment path (`axes.cluster.brokers`). The rule for Kafka
  properties: below a settings mapping (a field typed mapping of Kafka setting -> value:
  `cluster.broker_config`, `topic.config`, `producer.props`, `consumer.props`) the rest of
  the path is a Kafka property name and free-form (`producer.props.linger.ms`,
  `topic.config.min.insync.replicas`): the spec does not list Kafka's properties, Kafka
  itself checks broker settings before a broker starts.
- Repository paths: a name in code that starts with a top-level entry of the repository
  (`kafkalab/spec/models.py`, `experiments/quickstart.yaml`, `.ci/run`) must exist, and so
  must a dotted module `kafkalab.x.y` (with at most one attribute after the module). Every
  markdown link to a file must point to a file in the repository, and a `#anchor` to a
  heading there.
- `make TARGET` names a target of the Makefile.
- README.md has at most 300 lines, and the field tables of docs/specs.md are what
  `python -m kafkalab.app.docs` writes now.
"""

from __future__ import annotations

import argparse
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from kafkalab.app import docs
from kafkalab.app.cli import build_parser
from kafkalab.spec import ExperimentSpec, SweepSpec

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 300


@dataclass(frozen=True)
class Code:
    page: Path
    line: int
    lang: str | None  # None: an inline span; "" or "sh", "yaml", ...: a fenced block
    text: str

    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.M | re.S)
SPAN = re.compile(r"`([^`]+)`")


def code_of(page: Path) -> list[Code]:
    text = page.read_text(encoding="utf-8")
    pieces: list[Code] = []

    for fence in FENCE.finditer(text):
        pieces.append(Code(page, text.count("\n", 0, fence.start(2)) + 1, fence.group(1), fence.group(2)))
    prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)  # the same line numbers
    for span in SPAN.finditer(prose):
        pieces.append(Code(page, prose.count("\n", 0, span.start()) + 1, None,
                           " ".join(span.group(1).split()).replace("\\|", "|")))
    return pieces


def prose_of(page: Path) -> str:
    """The page without its code, for links and headings."""
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), page.read_text(encoding="utf-8"))
    return SPAN.sub("", text)


ALL_CODE = [piece for page in PAGES for piece in code_of(page)]


def test_the_pages_are_found():
    names = {p.relative_to(REPO).as_posix() for p in PAGES}
    assert {"README.md", "docs/index.md", "docs/specs.md"} <= names
    assert len(ALL_CODE) > 100


# --------------------------------------------------------------------------- commands

# Where a command line starts: a span or line, `$(`, `.venv/bin/`, `python -m `.
COMMAND = re.compile(
    r"(?:^[ \t]*|(?<=\$\()|(?<=bin/)|(?<=-m ))kafkalab[ \t]+([a-z][a-z-]*)(?:[ \t]+([a-z][a-z|-]*))?([^\n]*)", re.M
)


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def command_errors(pieces: list[Code]) -> list[str]:
    commands = _subcommands()
    errors = []
    for piece in pieces:
        if piece.lang == "python":
            continue
        for match in COMMAND.finditer(piece.text):
            name, second, rest = match.groups()
            said = f"{piece.where()}: `kafkalab {name}{' ' + second if second else ''}`"
            if name not in commands:
                errors.append(f"{said}: no such command (known: {', '.join(sorted(commands))})")
                continue
            sub = commands[name]
            actions = [a for a in sub._actions if not a.option_strings and a.choices]
            if second and actions:
                choices = set(actions[0].choices)
                unknown = [word for word in second.split("|") if word not in choices]
                if unknown:
                    errors.append(f"{said}: {name} has no action {'|'.join(unknown)} (it takes {'|'.join(choices)})")
            rest = re.split(r"\s#|\)", f"{second or ''}{rest}")[0]
            for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", rest):
                if option not in sub._option_string_actions:
                    errors.append(f"{said}: {name} has no option {option}")
    return errors


def test_every_command_the_docs_name_exists():
    assert command_errors(ALL_CODE) == []


MAKE = re.compile(r"(?:^[ \t]*|(?<=`))make[ \t]+([a-z][\w-]*)", re.M)


def make_target_errors(pieces: list[Code]) -> list[str]:
    targets = set(re.findall(r"^([\w-]+):", (REPO / "Makefile").read_text(encoding="utf-8"), re.M))
    return [f"{piece.where()}: `make {match.group(1)}`: no such target in the Makefile"
            for piece in pieces for match in MAKE.finditer(piece.text) if match.group(1) not in targets]


def test_every_make_target_the_docs_name_exists():
    assert make_target_errors(ALL_CODE) == []


# --------------------------------------------------------------------------- spec paths

EXPERIMENT_SECTIONS = list(docs.sections(ExperimentSpec))
SWEEP_SECTIONS = list(docs.sections(SweepSpec))
EXPERIMENT_PATHS = {f.path for s in EXPERIMENT_SECTIONS for f in s.fields} | {s.path for s in EXPERIMENT_SECTIONS}
SWEEP_PATHS = {f.path for s in SWEEP_SECTIONS for f in s.fields} | {s.path for s in SWEEP_SECTIONS}
SETTINGS = {f.path for s in EXPERIMENT_SECTIONS for f in s.fields if f.settings}
# The sweep fields whose keys are experiment paths (`axes.cluster.brokers`, `cells[].profile`).
HOLDS_EXPERIMENT_PATHS = ("base", "axes", "cells[]")
SECTIONS = {p.split(".")[0].removesuffix("[]") for p in EXPERIMENT_PATHS | SWEEP_PATHS if "." in p} | {"base", "axes", "cells"}
FILE_NAME = re.compile(r"\.(py|out|log|yaml|yml|json|sql|md|java|properties|html|png)$")
SPEC_PATH = re.compile(r"(?<![\w./:$<-])(" + "|".join(sorted(SECTIONS)) + r")((?:\.[\w-]+|\[\])+)")


def experiment_path_exists(path: str) -> bool:
    if path in EXPERIMENT_PATHS:
        return True
    return any(path.startswith(settings + ".") for settings in SETTINGS)


def spec_path_exists(path: str) -> bool:
    path = re.sub(r"\.\d+(?=\.|$)", "[]", path)  # faults.0.broker -> faults[].broker
    if path in SWEEP_PATHS or experiment_path_exists(path):
        return True
    for holder in HOLDS_EXPERIMENT_PATHS:
        if path.startswith(holder + "."):
            return experiment_path_exists(path[len(holder) + 1:])
    return False


def spec_path_errors(pieces: list[Code]) -> list[str]:
    errors = []
    for piece in pieces:
        for match in SPEC_PATH.finditer(piece.text):
            path = match.group(0).rstrip(".-")
            if FILE_NAME.search(path):
                continue  # `faults.py`, `producer.out`: a file, not a setting
            if not spec_path_exists(path):
                errors.append(f"{piece.where()}: `{path}` is no field of the spec (kafkalab/spec/models.py)")
    return errors


def test_the_spec_path_rule_itself():
    assert spec_path_exists("producer.num_records")
    assert spec_path_exists("cluster.kubernetes.image")
    assert spec_path_exists("topic.config")
    assert spec_path_exists("topic.config.min.insync.replicas")  # free-form below a settings mapping
    assert spec_path_exists("faults.0.broker") and spec_path_exists("faults[].at_s")
    assert spec_path_exists("axes.cluster.brokers") and spec_path_exists("scaling.reassign_partitions")
    assert not spec_path_exists("producer.num_record")
    assert not spec_path_exists("cluster.kubernetes.images")
    assert not spec_path_exists("topic.configs.x")
    assert not spec_path_exists("axes.cluster.broker")


def test_every_spec_path_the_docs_name_exists():
    assert spec_path_errors(ALL_CODE) == []


# --------------------------------------------------------------------------- repository paths

TOP_LEVEL = sorted(
    entry.name for entry in REPO.iterdir()
    if entry.name not in {".git", ".venv", ".hypothesis", ".import_linter_cache", ".pytest-tmp", "test-output"}
    and not entry.name.endswith(".egg-info")
)
REPO_PATH = re.compile(r"(?<![\w./~$<:@-])((?:" + "|".join(map(re.escape, TOP_LEVEL)) + r")(?:/[\w.-]+)*/?)(?![\w<*])")
MODULE = re.compile(r"(?<![\w./-])kafkalab(?:\.\w+)+(?![\w./-])")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.M)


def module_exists(dotted: str) -> bool:
    """`kafkalab.reports.history` or `kafkalab.experiment.steps.producer_fanout` (one attribute)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = REPO.joinpath(*parts[:cut])
        if (base / "__init__.py").exists() or base.with_suffix(".py").exists():
            attributes = parts[cut:]
            if not attributes:
                return True
            if len(attributes) > 1:
                return False
            return hasattr(importlib.import_module(".".join(parts[:cut])), attributes[0])
    return False


def repo_path_errors(pieces: list[Code]) -> list[str]:
    errors = []
    for piece in pieces:
        for match in REPO_PATH.finditer(piece.text):
            name = match.group(1)
            if "/" not in name and not (REPO / name).is_file():
                continue  # a bare word that happens to be a directory's name (`kafkalab`, `tests`)
            if not (REPO / name).exists():
                errors.append(f"{piece.where()}: `{name}` is no file or directory of the repository")
        for match in MODULE.finditer(piece.text):
            if not module_exists(match.group(0)):
                errors.append(f"{piece.where()}: `{match.group(0)}` is no module (or attribute) of kafkalab")
    return errors


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    for heading in HEADING.findall(text):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        out.add(base if count == 0 else f"{base}-{count}")
    return out


def link_errors(page: Path) -> list[str]:
    errors = []
    for match in LINK.finditer(prose_of(page)):
        target = match.group(1)
        if re.match(r"^[a-z]+:", target):
            continue  # a URL
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        where = f"{page.relative_to(REPO)}: link ({target})"
        if not linked.is_relative_to(REPO) or not linked.exists():
            errors.append(f"{where}: no such file in the repository")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            errors.append(f"{where}: no heading #{anchor} in {linked.relative_to(REPO)}")
    return errors


def test_every_repository_path_the_docs_name_exists():
    assert repo_path_errors(ALL_CODE) == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_link_points_into_the_repository(page: Path):
    assert link_errors(page) == []


def test_every_docs_page_is_linked_from_the_index():
    index = (REPO / "docs" / "index.md").read_text(encoding="utf-8")
    for page in PAGES:
        if page.parent.name == "docs" and page.name != "index.md":
            assert f"]({page.name})" in index, f"docs/index.md does not link {page.name}"


# --------------------------------------------------------------------------- size and generated tables


def test_the_readme_fits_on_a_screen():
    lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines (at most {README_MAX_LINES}: move a subject to docs/)"


def test_the_field_tables_are_what_the_generator_writes_now():
    page = (REPO / "docs" / "specs.md").read_text(encoding="utf-8")
    assert docs.BEGIN in page and docs.END in page
    assert docs.committed_fields(page) == docs.render_fields(), (
        "docs/specs.md's field tables are out of date: run `.venv/bin/python -m kafkalab.app.docs`"
    )
