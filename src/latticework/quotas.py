"""Every VPC Lattice quota in one table: name, Service Quotas code, AWS's default, adjustability.

AWS publishes the quotas at https://docs.aws.amazon.com/vpc-lattice/latest/ug/quotas.html
(and https://docs.aws.amazon.com/general/latest/gr/vpc-lattice-service.html);
each adjustable quota links to its Service Quotas console page
``.../servicequotas/home/services/vpc-lattice/quotas/L-XXXXXXXX``, and that
code is the ``quotaCode`` a ``ServiceQuotaExceededException`` (402,
``serviceCode`` ``vpc-lattice``) carries. Every code below is taken from those
links except where the row's comment says otherwise.

The table is plain data below every layer that reads it: ``latticework.config``
checks the accounts file's overrides against it, and
``latticework.services.lattice.quotas`` enforces it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quota:
    name: str  # as the Service Quotas console names it
    default: int
    code: str | None  # Service Quotas code; None where none is published
    scope: str  # what is counted, and where
    noun: str  # the error message's words after the limit; {id} is the scope's id
    adjustable: bool = True


QUOTAS: dict[str, Quota] = {
    "service-networks": Quota(
        "Service networks per Region", 50, "L-9CAD07FB", "service networks of an account in a Region",
        "service networks"),
    "services": Quota(
        "Services per Region", 2000, "L-620C821E", "services of an account in a Region", "services"),
    "target-groups": Quota(
        "Target groups per Region", 500, "L-BB11C6B9", "target groups of an account in a Region", "target groups"),
    "resource-configurations": Quota(
        "Resource configurations per AWS Region", 2000, "L-5FF8F9B9",
        "resource configurations (children included) of an account in a Region", "resource configurations"),
    "domain-verifications": Quota(
        "Domain Verifications per AWS Region", 5, "L-73D0F278", "domain verifications of an account in a Region",
        "domain verifications"),
    "listeners-per-service": Quota(
        "Listeners per service", 2, "L-D64E952E", "listeners of one service", "listeners for service {id}"),
    # The HTML quota page once said 5; the current page and the general reference say 10.
    "rules-per-listener": Quota(
        "Rules per listener", 10, "L-CF78395E", "rules of one listener, its default rule not counted",
        "rules for listener {id}"),
    "target-groups-per-service": Quota(
        "Target groups per service", 10, "L-3DEC3B9F",
        "distinct target groups the default actions and rules of one service's listeners forward to",
        "target groups for service {id}"),
    "targets-per-target-group": Quota(
        "Targets per target group", 1000, "L-D71303F3", "registered (not draining) targets of one target group",
        "targets for target group {id}"),
    "service-associations-per-network": Quota(
        "Service associations per service network", 500, "L-75D4A19E",
        "service associations of one service network, whoever created them",
        "service associations for service network {id}"),
    "vpc-associations-per-network": Quota(
        "VPC associations per service network", 500, "L-EF6E2D62",
        "VPC associations of one service network, whoever created them",
        "VPC associations for service network {id}"),
    "resource-associations-per-network": Quota(
        "Resource Configurations per service network", 500, "L-6095700C",
        "resource configurations associated with one service network (managed associations not counted)",
        "resource configuration associations for service network {id}"),
    # Not checked here yet: these associations are made by EC2's CreateVpcEndpoint.
    "endpoints-per-network": Quota(
        "VPC endpoints of type service network per service network", 200, "L-89DEA27F",
        "service-network VPC endpoints connected to one service network",
        "VPC endpoints for service network {id}"),
    "children-per-group": Quota(
        "Child Resource Configurations per Group Resource Configuration", 60, "L-9BC96FEF",
        "CHILD resource configurations of one GROUP resource configuration",
        "child resource configurations in group {id}"),
    # The quota pages say 500, the resource-gateway page 100: we keep 100.
    "resource-gateways-per-vpc": Quota(
        "Resource gateways per VPC", 100, "L-0DCA4434", "resource gateways of an account in one VPC",
        "resource gateways in VPC {id}"),
    # Not adjustable, so the docs link no code, and none is published elsewhere
    # that we found. PutAuthPolicy answers a larger policy with a
    # ValidationException (policies.py): the operation declares no 402.
    "auth-policy-size": Quota(
        "Auth policy size", 10 * 1024, None, "bytes of one auth policy document", "bytes", adjustable=False),
    # Not adjustable (no console link in the docs); the code is the one a
    # public Service Quotas checker lists for this name, not an AWS page. The
    # model's securityGroupIds (1-5 items) enforces it as a ValidationException.
    "security-groups-per-association": Quota(
        "Security groups per association", 5, "L-CA6A1CC5",
        "security groups of one service network VPC association", "security groups", adjustable=False),
}

BY_CODE: dict[str, Quota] = {q.code: q for q in QUOTAS.values() if q.code}
