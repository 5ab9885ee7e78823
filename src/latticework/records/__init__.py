"""Stored kinds and the typed views of their bodies, one module per construct family.

The control plane keeps every resource as a ``store.Record`` whose ``body``
holds the API-facing fields in the family's own wire casing (Lattice's
``camelCase``, EC2's ``PascalCase``) and whose ``internal`` holds what the
family keeps beside them (never shown by the API). Each family module here owns:

- the names of its record kinds (``lattice.SERVICE == "service"``...), the
  only place a kind is spelled;
- a ``RecordView`` per kind (``ServiceRecord``, ``VpcRecord``...) that other layers read: typed accessors over the body
  (and the internal fields),
  so the snapshot compiler (and any family reading another's records) never
  looks a wire key up itself.

Providers (``services/<family>``) write the bodies these views read; the
compiler (``snapshot``) reads records only through them. This package sits
just above ``store``: it imports nothing else of Latticework.
"""

from __future__ import annotations

from latticework.store import Record


class RecordView:
    """A stored record read through its family's accessors (the record itself stays shared: never mutated)."""

    __slots__ = ("record", "body", "internal")

    def __init__(self, record: Record) -> None:
        self.record = record
        self.body = record.body
        self.internal = record.internal

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def arn(self) -> str:
        """The record's ARN: every kind read through a view is stored with one."""
        assert self.record.arn is not None, f"{self.record.kind} {self.record.id} has no ARN"
        return self.record.arn

    @property
    def parent(self) -> str:
        """The id of what the record belongs to (a target's group, an association's network...)."""
        assert self.record.parent is not None, f"{self.record.kind} {self.record.id} has no parent"
        return self.record.parent


def tag_value(tags: list[dict] | None, key: str) -> str | None:
    """The value of tag ``key`` in an API tag list (``[{"Key": ..., "Value": ...}]``), None when absent."""
    for tag in tags or ():
        if tag.get("Key") == key:
            return tag.get("Value")
    return None
