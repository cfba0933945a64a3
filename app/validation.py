"""A pydantic validation error in one sentence: the field's path and what is wrong with it.

The project's file formats (``.pose.json``, the model manifest) are pydantic models, their one
schema. Their loaders report the first error that :func:`first_error` picks as a
:class:`~app.errors.UserError` worded by :func:`describe`, e.g.
``frames[3].landmarks[12][0] must be a number, got '0.5'``, instead of pydantic's
several-line text.

A validator that finds a fault below the field it checks (a model checking its frames' times)
raises :class:`~pydantic_core.PydanticCustomError` with the rest of the path in the context
entry ``at``; its message is used as it is.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from app.errors import UserError

NOT_JSON = "not_json"
"""The error :func:`json_only` raises."""
TEXT_FAULTS = ("json_invalid", "finite_number", NOT_JSON)
"""Errors about the text rather than a field: reported before any other."""

_EXPECTED = {"float_type": "a number", "int_type": "a whole number", "string_type": "a string",
             "list_type": "a list", "tuple_type": "a list", "model_type": "a JSON object",
             "dict_type": "a JSON object"}
_LIMITS = {"greater_than": ("more than", "gt"), "greater_than_equal": ("at least", "ge"),
           "less_than": ("less than", "lt"), "less_than_equal": ("at most", "le")}


def read_document(path: Path, limit: int, error: type[UserError], label: str) -> bytes:
    """The bytes of a document file, refused with ``error`` (one sentence starting with
    ``label``) when it cannot be read or is larger than ``limit`` bytes."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise error(f"{label}: is {_size(size)}, over the limit of {_size(limit)}")
        return path.read_bytes()
    except OSError as exc:
        raise error(f"{label}: cannot be read ({exc.strerror})") from exc


def _size(n: int) -> str:
    """A file size as a reader takes it in: MiB from one MiB up, else bytes."""
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


def first_error(exc: ValidationError, header: Iterable[str] = ()) -> ErrorDetails:
    """The error to report: a fault of the text first, then one in the ``header`` fields
    (what the document is, before what it holds), else pydantic's first."""
    fields = tuple(header)
    return min(exc.errors(include_url=False), key=lambda e: (
        e["type"] not in TEXT_FAULTS, not (e["loc"] and e["loc"][0] in fields)))


def describe(error: ErrorDetails, fixed_length: str = "") -> str:
    """``error`` as words: ``is not valid JSON (...)`` for a text that is not JSON, else the
    field's path (``the document`` for the whole) and what is wrong with it.

    ``fixed_length`` names what a list holds when every bounded list of the schema has one
    length (``must list 33 points``); without it, a bound is a minimum or a maximum.
    """
    if error["type"] == "json_invalid":
        return f"is not valid JSON ({error.get('ctx', {}).get('error', error['msg'])})"
    return f"{path(error)} {problem(error, fixed_length)}"


def path(error: ErrorDetails) -> str:
    """Where the error is, as in JSON: ``frames[3].landmarks[12]``."""
    loc = (*error["loc"], *error.get("ctx", {}).get("at", ()))
    text = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
    return text.lstrip(".") or "the document"


def json_only(value: Any) -> Any:
    """``value`` (a decoded JSON value, e.g. an unknown field's) unless it holds NaN or an
    infinity, which JSON does not have."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise PydanticCustomError(
                NOT_JSON, "contains {value}, which is not a number JSON allows",
                {"value": _constant(item)},
            )
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return value


def problem(error: ErrorDetails, fixed_length: str = "") -> str:
    """What is wrong with the field, in words: ``must be a number, got '0.5'``."""
    kind, ctx, value = error["type"], error.get("ctx", {}), error["input"]
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, got {_shown(value)}"
    if kind == "literal_error":
        options = str(ctx["expected"])
        return f"must be {'one of ' if ' or ' in options else ''}{options}, got {_shown(value)}"
    if kind == "missing":
        return "is missing"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "finite_number":
        shown = _constant(value) if isinstance(value, float) else _shown(value)
        return f"contains {shown}, which is not a number JSON allows"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx['pattern']}, got {_shown(value)}"
    if kind in _LIMITS:
        words, key = _LIMITS[kind]
        return f"must be {words} {ctx[key]:g}, got {_shown(value)}"
    if kind in ("string_too_short", "string_too_long"):
        short = kind == "string_too_short"
        count = ctx["min_length" if short else "max_length"]
        return (f"must be {'at least' if short else 'at most'} {count} "
                f"{'character' if count == 1 else 'characters'} long, got {_shown(value)}")
    if kind in ("too_short", "too_long"):
        short = kind == "too_short"
        count = ctx["min_length" if short else "max_length"]
        bound = f"{count} {fixed_length}" if fixed_length else (
            f"{'at least' if short else 'at most'} {count} {'item' if count == 1 else 'items'}")
        return f"must list {bound}, got {ctx['actual_length']}"
    return str(error["msg"]).removeprefix("Value error, ")


def _constant(value: float) -> str:
    """The name JavaScript gives a non-finite number (what such a file would have written)."""
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _shown(value: Any) -> str:
    """``value`` in a few words: null, true and false as in JSON, text and numbers as Python
    writes them (as the project's other messages do), lists and objects by their kind."""
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    text = json.dumps(value) if value is None or isinstance(value, bool) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
