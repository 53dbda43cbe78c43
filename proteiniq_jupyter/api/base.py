"""What every shape of the API shares: how a resource is declared, built from values
the server produced, and written as JSON; how a request body is declared.

Resources are built with ``model_construct``: the values are the server's own, and
a list page is built many times a second, so they are not validated again.

A response is written as ``json.dumps`` writes a dict (``", "`` and ``": "``
separators, ASCII escapes, Python's float format) with the keys in the order the
model declares them. A field whose value is ``MISSING`` is left out of the JSON
rather than written as null.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal, Self, cast

from pydantic import (
    MISSING,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    Strict,
    WithJsonSchema,
)
from pydantic.fields import FieldInfo

__all__ = [
    "MISSING",
    "JsonObject",
    "ListResource",
    "Request",
    "Resource",
    "Text",
    "Timestamp",
    "render",
]

JsonObject = dict[str, Any]

#: A moment, written as ``datetime.isoformat`` writes it (``+00:00``, not ``Z``).
Timestamp = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

#: Text in a request body: a number or a list is refused, not turned into text.
Text = Annotated[str, Strict()]


_set = object.__setattr__
_FIELDS: dict[type[Any], tuple[tuple[str, ...], dict[str, Any]]] = {}


def _fields(model: type[Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The names of ``model``'s fields in order, and the defaults of those that have one."""
    known = _FIELDS.get(model)
    if known is None:
        fields: dict[str, FieldInfo] = model.model_fields
        known = tuple(fields), {n: f.default for n, f in fields.items() if not f.is_required()}
        _FIELDS[model] = known
    return known


class _Lean:
    """pydantic's ``model_construct`` also handles aliases, extra fields and private
    attributes, which no resource has, at four times the cost; a page of jobs builds
    hundreds of resources. This one makes the same model of a closed model without
    aliases: the fields in their declared order, each given or its default. A
    required field left out is a KeyError rather than a model that cannot be written."""

    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:
        names, defaults = _fields(cls)
        given = set(values) if _fields_set is None else _fields_set
        if tuple(values) != names:  # given out of order, or leaving defaults out
            values = {name: values[name] if name in values else defaults[name] for name in names}
        resource = cls.__new__(cls)
        _set(resource, "__dict__", values)
        _set(resource, "__pydantic_fields_set__", given)
        _set(resource, "__pydantic_extra__", None)
        _set(resource, "__pydantic_private__", None)
        return resource


class Resource(_Lean, BaseModel):
    """A shape the server sends. Closed: a field the model does not declare is
    refused when a client reads it, and its schema says so."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Request(BaseModel):
    """A request body. Fields it does not declare are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ListResource(Resource):
    """One page of a list: ``data`` is declared by each list with its item shape."""

    object: Literal["list"]
    data: list[Any]
    has_more: bool
    next_cursor: str | None

    @classmethod
    def page(cls, items: Iterable[Any], next_cursor: str | None) -> Self:
        page = cls.model_construct(
            object="list",
            data=list(items),
            has_more=next_cursor is not None,
            next_cursor=next_cursor,
        )
        return cast(Self, page)  # the plugin types model_construct as the declaring class


def render(resource: BaseModel) -> str:
    """The JSON text of a response body."""
    return json.dumps(resource.model_dump(), default=str)
