"""The ELBv2 provider: one method per operation, one mixin per family.

Families: ``loadbalancers`` (and their attributes, security groups, subnets,
capacity reservation, account limits), ``targetgroups`` (and targets, target
health, attributes), ``listeners`` (and attributes), ``tags``.
"""

from __future__ import annotations

from latticework.services.elbv2.listeners import ListenerOps
from latticework.services.elbv2.loadbalancers import LoadBalancerOps
from latticework.services.elbv2.tags import TagOps
from latticework.services.elbv2.targetgroups import TargetGroupOps


class ElbV2Provider(LoadBalancerOps, TargetGroupOps, ListenerOps, TagOps):
    pass
