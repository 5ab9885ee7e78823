"""Tags: the rule every API shares, and the tag lists EC2 and ELBv2 keep.

Every API reserves keys starting with ``aws:`` (in any case) for AWS. EC2 and
ELBv2 keep a resource's tags in its body as ``Tags: [{"Key", "Value"}]``
(VPC Lattice keeps a ``{key: value}`` map); adding tags there puts a new key
last and gives a key already present its new value in place.
"""

from __future__ import annotations

from typing import Callable

from latticework.api.context import RequestContext
from latticework.store import Record


def reserved(key: str) -> bool:
    """A key only AWS may set."""
    return key.lower().startswith("aws:")


def add(ctx: RequestContext, record: Record, new: list[dict], limit: int, too_many: Callable[[], Exception]) -> None:
    """Add ``new`` to the record's ``Tags`` and store it; ``too_many()`` is the API's error for more than ``limit``."""
    merged = {t["Key"]: t for t in record.body.get("Tags") or []}
    merged.update({t["Key"]: t for t in new})
    if len(merged) > limit:
        raise too_many()
    record.body["Tags"] = list(merged.values())
    ctx.tx.put(record)
