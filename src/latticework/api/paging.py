"""Pagination: one core, which each API parameterises with its own wire contract.

A ``Pager`` holds what differs between APIs: the request member carrying the
token (``NextToken``, ``Marker``, ``nextToken``) and the response member for
the next one (``NextToken``, ``NextMarker``, ``nextToken``), the page-size
member and its default, a cap applied silently (EC2 lowers ``MaxResults``
above 1000), and the API's own error for a token it did not issue. The
token's content is the caller's: tokens stay opaque to clients and each API
keeps the format it has always sent.

Two ways to cut a page:

``slice``
    the whole result is already a list (EC2 and ELBv2 describe calls filter
    in memory); the token is the base64 offset of the next page.
``scan``
    the result is read from an ordered listing in batches and filtered as it
    comes (VPC Lattice's List* calls): ``fetch(after, n)`` yields up to ``n``
    items after the position ``after``, ``position(item)`` is an item's place
    in that order, and the token encodes the position of a page's last item.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence, TypeVar

Item = TypeVar("Item")
Position = TypeVar("Position")


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def _decode_offset(token: str) -> int:
    return int(base64.urlsafe_b64decode(token.encode()).decode())


@dataclass(frozen=True)
class Pager:
    token: str  # request member holding the token
    next_token: str  # response member for the next page's token
    size: str  # request member holding the page size
    default: int  # page size when the request gives none
    invalid: Callable[[], Exception]  # the API's error for a token it did not issue
    maximum: int | None = None  # a larger page size is lowered to this without an error

    def page_size(self, params: Mapping[str, Any]) -> int:
        size = params.get(self.size) or self.default
        return size if self.maximum is None else min(size, self.maximum)

    def start(self, params: Mapping[str, Any], decode: Callable[[str], Position]) -> Position | None:
        """The position the request's token names (None without one); a token that does not decode is
        the API's ``invalid`` error."""
        token = params.get(self.token)
        if not token:
            return None
        try:
            return decode(token)
        except (ValueError, KeyError, TypeError):
            raise self.invalid() from None

    def result(self, key: str, items: list, next_token: str | None) -> Any:
        result: dict[str, Any] = {key: items}
        if next_token is not None:
            result[self.next_token] = next_token
        return result

    def slice(self, items: Sequence[Any], params: Mapping[str, Any], key: str) -> Any:
        """One page of ``items`` under ``key``; the token is the offset of the next page.

        Typed ``Any``: it is the caller's ``List*``/``Describe*`` result."""
        start = self.start(params, _decode_offset) or 0
        size = self.page_size(params)
        more = start + size < len(items)
        return self.result(key, list(items[start:start + size]), _encode_offset(start + size) if more else None)

    def scan(self, params: Mapping[str, Any], key: str, fetch: Callable[[Position | None, int], list[Item]],
             position: Callable[[Item], Position], present: Callable[[Item], Any],
             encode: Callable[[Position], str], decode: Callable[[str], Position],
             keep: Callable[[Item], bool] | None = None) -> Any:
        """One page of what ``fetch`` yields in order and ``keep`` accepts, each item shown by ``present``."""
        limit = self.page_size(params)
        after = self.start(params, decode)
        found: list[Item] = []
        while len(found) <= limit:  # read one more than a page to know whether another follows
            batch = fetch(after, limit + 1)
            found.extend(item for item in batch if keep is None or keep(item))
            if len(batch) < limit + 1:
                break
            after = position(batch[-1])
        items = [present(item) for item in found[:limit]]
        return self.result(key, items, encode(position(found[limit - 1])) if len(found) > limit else None)
