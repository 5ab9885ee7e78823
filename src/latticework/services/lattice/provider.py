"""The VPC Lattice provider: one method per operation, one mixin per family.

Methods take the ``RequestContext`` (account, region, the call's store
transaction) and the validated input as a dict, and return the output as a
dict or raise the generated exceptions of ``api_types``. They never see HTTP.

Family modules: ``networks`` (service networks), ``services``, ``listeners``
(listeners and rules), ``targetgroups`` (target groups and targets),
``associations`` (service-network associations, endpoint associations),
``resources`` (resource gateways and configurations), ``domains`` (domain
verification), ``policies`` (auth and resource policies), ``accesslogs``,
``tags``.
"""

from __future__ import annotations

from latticework.services.lattice.accesslogs import AccessLogOps
from latticework.services.lattice.associations import AssociationOps
from latticework.services.lattice.domains import DomainVerificationOps
from latticework.services.lattice.listeners import ListenerOps
from latticework.services.lattice.networks import ServiceNetworkOps
from latticework.services.lattice.policies import PolicyOps
from latticework.services.lattice.resources import ResourceOps
from latticework.services.lattice.services import ServiceOps
from latticework.services.lattice.tags import TagOps
from latticework.services.lattice.targetgroups import TargetGroupOps
from latticework.store import Record, Transaction

_SETTLED = {"CREATE_IN_PROGRESS": "ACTIVE", "UPDATE_IN_PROGRESS": "ACTIVE"}


class LatticeProvider(ServiceNetworkOps, ServiceOps, ListenerOps, TargetGroupOps, AssociationOps, ResourceOps,
                      DomainVerificationOps, PolicyOps, AccessLogOps, TagOps):
    def settle(self, tx: Transaction, record: Record) -> None:
        """Finish a transitional status: in-progress -> ACTIVE, DELETE_IN_PROGRESS -> gone.

        A family can take over for its kind with a ``settle_<kind>(tx, record)`` method.
        """
        custom = getattr(self, f"settle_{record.kind}", None)
        if custom is not None:
            custom(tx, record)
        elif record.status == "DELETE_IN_PROGRESS":
            tx.delete(record.kind, record.id, account=record.account, region=record.region)
        else:
            assert record.status is not None  # only records in a transitional status are settled
            record.status = _SETTLED[record.status]
            record.body["status"] = record.status
            tx.put(record)
