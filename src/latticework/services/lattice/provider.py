"""The VPC Lattice provider: one method per operation, one mixin per family.

Methods take the ``RequestContext`` (account, region, the call's store
transaction) and the validated input as a dict, and return the output as a
dict or raise the generated exceptions of ``api_types``. They never see HTTP.
"""

from __future__ import annotations

from latticework.services.lattice.networks import ServiceNetworkOps
from latticework.services.lattice.tags import TagOps
from latticework.store import Record, Transaction

_SETTLED = {"CREATE_IN_PROGRESS": "ACTIVE", "UPDATE_IN_PROGRESS": "ACTIVE"}


class LatticeProvider(ServiceNetworkOps, TagOps):
    def settle(self, tx: Transaction, record: Record) -> None:
        """Finish a transitional status: in-progress -> ACTIVE, DELETE_IN_PROGRESS -> gone."""
        if record.status == "DELETE_IN_PROGRESS":
            tx.delete(record.kind, record.id, account=record.account)
            return
        record.status = _SETTLED[record.status]
        record.body["status"] = record.status
        tx.put(record)
