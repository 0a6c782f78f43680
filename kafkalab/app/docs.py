"""The spec field tables of docs/specs.md, generated from the pydantic models, so the page
says what the schema accepts and cannot drift from it (tests/test_docs.py checks it).

    .venv/bin/python -m kafkalab.app.docs          # rewrite the tables in docs/specs.md
    .venv/bin/python -m kafkalab.app.docs --check  # exit 1 when they are out of date

The tables go between `<!-- fields:begin -->` and `<!-- fields:end -->`; the rest of the
page is written by hand.
"""

from __future__ import annotations

import argparse
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from kafkalab.spec import ExperimentSpec, SweepSpec

BEGIN = "<!-- fields:begin -->"
END = "<!-- fields:end -->"
SPECS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "specs.md"
LIST_ITEM = "[]"  # `faults[].broker`: a field of each entry of the list `faults`


@dataclass(frozen=True)
class SpecField:
    path: str  # `cluster.kubernetes.image`, `faults[].at_s`
    type: str
    default: str
    description: str
    settings: bool  # a mapping of Kafka setting names (producer.props, topic.config, ...)


@dataclass(frozen=True)
class Section:
    path: str  # "" for the top level of the spec
    model: type[BaseModel]
    fields: list[SpecField]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)
        return _model_of(item)
    return None


def _is_settings(annotation: Any) -> bool:
    """dict[str, Scalar]: Kafka settings by name (the spec's free-form mappings)."""
    if typing.get_origin(annotation) is not dict:
        return False
    key, value = typing.get_args(annotation)
    return key is str and typing.get_origin(value) in (typing.Union, types.UnionType)


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args:
            rest = [a for a in args if a is not type(None)]
            return " or ".join(_type_name(a) for a in rest) + " or null"
        if set(args) == {str, int, float, bool}:
            return "scalar"
        return " or ".join(_type_name(a) for a in args)
    if _is_settings(annotation):
        return "mapping: Kafka setting -> value"
    if origin is dict:
        key, value = args
        if value is Any:
            return "mapping (an experiment spec)"
        return f"mapping: setting path -> {_type_name(value)}"
    if origin is list:
        (item,) = args
        if typing.get_origin(item) is dict:
            return "list of mappings: setting path -> " + _type_name(typing.get_args(item)[1])
        return "list of " + _type_name(item)
    if _model_of(annotation):
        return "section"
    return getattr(annotation, "__name__", str(annotation))


def _bounds(info: FieldInfo) -> str:
    words = []
    for item in info.metadata:
        if isinstance(item, annotated_types.Ge):
            words.append(f">= {item.ge}")
        elif isinstance(item, annotated_types.Gt):
            words.append(f"> {item.gt}")
        elif isinstance(item, annotated_types.Le):
            words.append(f"<= {item.le}")
        elif isinstance(item, annotated_types.Lt):
            words.append(f"< {item.lt}")
        elif isinstance(item, annotated_types.MaxLen):
            words.append(f"at most {item.max_length}")
        elif getattr(item, "pattern", None):
            words.append(f"pattern `{item.pattern}`")
    return f" ({', '.join(words)})" if words else ""


def _yaml_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        if _model_of(info.default_factory):
            return "(section)"
        return f"`{_yaml_value(info.default_factory())}`"  # {} or []
    if info.default is PydanticUndefined:
        return ""
    shown = _yaml_value(info.default)
    return '`""`' if shown == "" else f"`{shown}`"


def _first_sentence(doc: str | None) -> str:
    text = " ".join((doc or "").split())
    return text.split(". ")[0].rstrip(".") + "." if text else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").strip()


def sections(model: type[BaseModel] = ExperimentSpec, path: str = "") -> Iterator[Section]:
    """A model's fields, then each nested section's, depth first, in the order the model declares them."""
    rows: list[SpecField] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, info in model.model_fields.items():
        field_path = f"{path}.{name}" if path else name
        annotation = info.annotation
        sub, item = _model_of(annotation), _list_item_model(annotation)
        type_name = f"list of `{field_path}{LIST_ITEM}` entries" if item else _type_name(annotation)
        description = info.description or (_first_sentence(sub.__doc__) if sub else "")
        rows.append(SpecField(
            path=field_path, type=type_name + _bounds(info), default=_default(info),
            description=description, settings=_is_settings(annotation),
        ))
        if sub:
            nested.append((field_path, sub))
        elif item:
            nested.append((field_path + LIST_ITEM, item))
    yield Section(path, model, rows)
    for sub_path, sub in nested:
        yield from sections(sub, sub_path)


def _table(section: Section, title: str) -> list[str]:
    doc = " ".join((section.model.__doc__ or "").split())
    lines = [f"#### {title}", ""]
    if doc:
        lines += [doc, ""]
    lines += ["| field | type | default | description |", "|---|---|---|---|"]
    for field in section.fields:
        lines.append(f"| `{field.path}` | {_cell(field.type)} | {_cell(field.default)} | {_cell(field.description)} |")
    return lines + [""]


def render_fields() -> str:
    """The generated part of docs/specs.md: one table per section of ExperimentSpec, then SweepSpec's."""
    lines = ["<!-- Generated by `python -m kafkalab.app.docs` from kafkalab/spec/models.py: do not edit. -->", "",
             "### Experiment spec fields", ""]
    for section in sections(ExperimentSpec):
        lines += _table(section, f"`{section.path}`" if section.path else "Top level")
    lines += ["### Sweep spec fields", "",
              "`base` is an experiment spec (the fields above); `axes` and `cells` use the same paths as `--set`.", ""]
    for section in sections(SweepSpec):
        lines += _table(section, f"`{section.path}`" if section.path else "Top level")
    return "\n".join(lines).rstrip("\n") + "\n"


def replace_between_markers(page: str, generated: str) -> str:
    head, begin, rest = page.partition(BEGIN)
    body, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"docs/specs.md: needs the markers {BEGIN} and {END}")
    return f"{head}{BEGIN}\n{generated}{END}{tail}"


def committed_fields(page: str) -> str:
    """What the page holds between the markers now."""
    _, _, rest = page.partition(BEGIN)
    body, _, _ = rest.partition(END)
    return body.removeprefix("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kafkalab.app.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/specs.md's tables are out of date")
    parser.add_argument("--page", type=Path, default=SPECS_PAGE, help="the page to update (default docs/specs.md)")
    args = parser.parse_args(argv)
    page = args.page.read_text(encoding="utf-8")
    updated = replace_between_markers(page, render_fields())
    if args.check:
        if updated != page:
            print(f"{args.page}: the field tables are out of date; run `python -m kafkalab.app.docs`", file=sys.stderr)
            return 1
        return 0
    if updated != page:
        args.page.write_text(updated, encoding="utf-8")
        print(f"{args.page}: field tables updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
