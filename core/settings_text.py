"""The run-config schema in words: what each setting allows, and one line per bad value.

core.settings declares the pydantic models; this module reads their field information to tell
the widgets a setting's label, help and limits (`field_facts`) and to turn a pydantic
`ValidationError` into lines a user can act on (`problem_lines`), each of the form

    training.learning_rate: got 'abc' — a number > 0, e.g. 3e-4
"""

from __future__ import annotations

import difflib
import typing
from typing import Any

import annotated_types
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

# How each bound reads: (annotated_types class, attribute, symbol)
BOUNDS = (
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "≤"),
    (annotated_types.Lt, "lt", "<"),
)
KIND_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def extra_of(info: FieldInfo) -> dict:
    """The studio's own metadata of a field (expert, example, allowed)."""
    extra = info.json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


def bounds_of(info: FieldInfo) -> dict[str, Any]:
    """The numeric limits of a field: {"ge": 1, "le": 512} and the like."""
    found = {}
    for constraint in info.metadata:
        for kind, attr, _ in BOUNDS:
            if isinstance(constraint, kind):
                found[attr] = getattr(constraint, attr)
    return found


def choices_of(info: FieldInfo) -> tuple | None:
    """The allowed values of a Literal field, or None."""
    if typing.get_origin(info.annotation) is typing.Literal:
        return typing.get_args(info.annotation)
    return None


def field_facts(model: type[BaseModel], name: str) -> dict:
    """Name, default, help, label, expert flag, choices and min / max of one field, for widgets.

    Raises:
        KeyError: the model has no such field.
    """
    info = model.model_fields[name]
    extra, bounds, choices = extra_of(info), bounds_of(info), choices_of(info)
    facts = {
        "name": name,
        "default": info.get_default(call_default_factory=True),
        "help": info.description or "",
        "label": info.title or name.replace("_", " ").capitalize(),
        "expert": bool(extra.get("expert", False)),
    }
    if choices:
        facts["choices"] = choices
    for key, attr in (("min", "ge"), ("max", "le")):
        if attr in bounds:
            facts[key] = bounds[attr]
    return facts


def allowed_text(info: FieldInfo) -> str:
    """What a field accepts, in words: 'a number > 0, e.g. 3e-4', 'one of lora, full'."""
    extra = extra_of(info)
    if "allowed" in extra:
        return extra["allowed"]
    choices = choices_of(info)
    if choices:
        return "one of " + ", ".join(str(choice) for choice in choices)
    if typing.get_origin(info.annotation) is list:
        example = extra.get("example", "[q_proj, v_proj]")
        return f"a list of names in brackets, e.g. {example}"
    words = KIND_WORDS.get(info.annotation, "a value")
    bounds = bounds_of(info)
    if "ge" in bounds and "le" in bounds:
        words += f" from {bounds['ge']:g} to {bounds['le']:g}"
    elif bounds:
        words += " " + " and ".join(
            f"{symbol} {bounds[attr]:g}" for _, attr, symbol in BOUNDS if attr in bounds
        )
    example = extra.get("example", info.get_default(call_default_factory=True))
    if info.annotation in (int, float) and example is not None:
        words += f", e.g. {example}"
    return words


def _path(loc: tuple) -> str:
    """('lora', 'target_modules', 0) → 'lora.target_modules[0]'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "config"


def _got(value: Any) -> str:
    """The bad value as the user wrote it, shortened."""
    if isinstance(value, dict):
        return "a mapping"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _did_you_mean(word: Any, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(str(word), known, n=1, cutoff=0.6)
    if close:
        return f"unknown {what} — did you mean '{close[0]}'?"
    return f"unknown {what} — known: {', '.join(known)}"


def _nested_model(info: FieldInfo | None) -> type[BaseModel] | None:
    annotation = info.annotation if info is not None else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _walk(root: type[BaseModel], loc: tuple) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model holding the last named key of `loc`, and that key's field (None if unknown)."""
    owner, info = root, None
    for index, part in enumerate(loc):
        if isinstance(part, int):
            break
        if index and _nested_model(info) is None:
            return None, None
        owner = _nested_model(info) if index else root
        info = owner.model_fields.get(part)
    return owner, info


def _line(error: dict, root: type[BaseModel]) -> str:
    """One pydantic error as one line: the field path, the value and what is allowed."""
    loc = tuple(error["loc"])
    path, got = _path(loc), _got(error.get("input"))
    owner, info = _walk(root, loc)
    if error["type"] == "extra_forbidden" and owner is not None:
        what = "section" if owner is root else "setting"
        return f"{path}: {_did_you_mean(loc[-1], list(owner.model_fields), what)}"
    if error["type"] in ("model_type", "model_attributes_type"):
        section = loc[-1] if loc else "config"
        return f"{path}: got {got} — a mapping of {section} settings (key: value lines)"
    if info is None:
        return f"{path}: got {got} — {error['msg']}"
    return f"{path}: got {got} — {allowed_text(info)}"


def problem_lines(err: ValidationError, root: type[BaseModel]) -> list[str]:
    """Every problem pydantic found in a config, one line each, in the file's order."""
    return [_line(error, root) for error in err.errors()]
