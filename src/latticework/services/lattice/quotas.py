"""The one quota check the VPC Lattice families call, against the table of ``latticework.quotas``.

Adjustable quotas can be changed per account in the accounts file, the local
stand-in for a granted quota increase (``quotas = { "L-9CAD07FB" = 100 }``,
see ``latticework.config``); values lower than AWS's default are accepted too,
so tests reach a quota with a handful of creates. Overrides travel to
providers as ``RequestContext.quotas`` (account -> code -> value).

A quota is charged to the account that owns what it counts: the caller for
per-Region counts, the service network's owner for associations per service
network (a service of another account joining a shared network counts against
the network owner's quota).
"""

from __future__ import annotations

from latticework.api.context import RequestContext
from latticework.quotas import QUOTAS
from latticework.services.lattice import common
from latticework.services.lattice.common import Kind


def limit(ctx: RequestContext, key: str, account: str | None = None) -> int:
    """The quota's value for ``account`` (default: the caller): its override, else AWS's default."""
    quota = QUOTAS[key]
    if not (quota.adjustable and quota.code):
        return quota.default
    return ctx.quotas.get(account or ctx.account, {}).get(quota.code, quota.default)


def check_quota(ctx: RequestContext, key: str, current_count: int, kind: Kind, resource_id: str | None = None,
                *, adding: int = 1, scope_id: str | None = None, account: str | None = None) -> None:
    """Raise AWS's 402 when ``adding`` more to ``current_count`` would pass the quota.

    ``resource_id`` goes into the error (the resource the quota is counted
    on); ``scope_id`` names that scope in the message when it is not a
    Lattice resource (a VPC), and defaults to ``resource_id``.
    """
    quota, value = QUOTAS[key], limit(ctx, key, account)
    if current_count + adding > value:
        words = quota.noun.format(id=scope_id or resource_id)
        raise common.quota_exceeded(kind, quota.code, f"You have reached the limit of {value} {words}.",
                                    resource_id)
