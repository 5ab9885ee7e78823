"""Transitional statuses, settled once they are true.

A write leaves some records in a transitional status (``CREATE_IN_PROGRESS``,
``UPDATE_IN_PROGRESS``, ``DELETE_IN_PROGRESS``), as AWS answers. The owning
family's settle function (``Settle``, one per stored kind, given by
``services.settlers``) finishes them: ``ACTIVE``, or the record goes. When is
decided here:

- with a data plane, once it serves the revision that wrote them: the
  dispatcher hands each write's records to ``hold``, and the data plane
  calls ``settle_applied(revision)`` (the ``seams.Settler`` it was given);
  one transaction settles everything one snapshot made real;
- without one, in the writing transaction itself (``settle_now``);
- at start, whatever a previous run left in progress (``settle_all``).
"""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from latticework.store import Record, Store, Transaction

TRANSITIONAL = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS")

Settle = Callable[[Transaction, Record], None]


class Settlement:
    """The control plane's ``seams.Settler``."""

    def __init__(self, store: Store, settlers: Mapping[str, Settle]):
        self.store = store
        self.settlers = settlers  # record kind -> its family's settle
        self._pending: list[Record] = []  # transitional records awaiting the data plane

    def hold(self, written: Iterable[Record]) -> None:
        """Keep a write's transitional records until the data plane serves them."""
        self._pending.extend(r for r in written if r.status in TRANSITIONAL and r.kind in self.settlers)

    def settle_now(self, tx: Transaction, written: Iterable[Record]) -> None:
        """Finish transitional statuses in the writing transaction itself.

        The response already carries the in-progress status AWS answers; what a
        later call reads is the settled one.
        """
        for record in written:
            settle = self.settlers.get(record.kind)
            if settle is None or record.status not in TRANSITIONAL:
                continue
            current = tx.get(record.kind, record.id, account=record.account, region=record.region)
            if current is not None and current.status in TRANSITIONAL:
                settle(tx, current)

    def settle_all(self, skip_kinds: frozenset[str] = frozenset()) -> None:
        for record in self.store.unsettled():
            if record.kind in self.settlers and record.kind not in skip_kinds:
                with self.store.transaction(record.account, record.region, "Settle") as tx:
                    self.settle_now(tx, [record])

    def settle_applied(self, revision: int, skip_kinds: frozenset[str] = frozenset()) -> None:
        ready = [r for r in self._pending if r.revision <= revision and r.kind not in skip_kinds]
        self._pending = [r for r in self._pending if r.revision > revision]
        if not ready:
            return
        # One transaction settles everything one snapshot made real, whatever its accounts: a burst of
        # writes served by one snapshot costs one more commit, not one each.
        with self.store.transaction(ready[0].account, ready[0].region, "Settle") as tx:
            self.settle_now(tx, ready)
