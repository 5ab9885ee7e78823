"""RAM's AWS managed permissions for the resource types Latticework shares (VPC Lattice's three).

Each shareable type has one managed permission, its default: the policy template RAM writes on the owner's
behalf onto each shared resource (``GetPermission``'s ``permission``: the statement without principal and
resource). Names follow AWS's ``AWSRAMPermissionVpcLattice...`` permissions
(https://docs.aws.amazon.com/ram/latest/userguide/shareable.html#shareable-vpc-lattice); the actions are
those VPC Lattice documents for consumers of a shared service network, service or resource configuration
(https://docs.aws.amazon.com/vpc-lattice/latest/ug/sharing.html).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from latticework import formats

VERSION = "1"
CREATED = "2023-03-31T00:00:00.000Z"  # a fixed date: AWS's managed permissions predate every local share


@dataclass(frozen=True)
class ManagedPermission:
    name: str
    resource_type: str
    actions: tuple[str, ...]

    def arn(self, partition: str = "aws") -> str:
        return formats.arn(partition, "ram", "", "aws", f"permission/{self.name}")

    def template(self) -> str:
        return json.dumps({"Effect": "Allow", "Action": list(self.actions)})

    def summary(self, partition: str) -> dict:
        return {"arn": self.arn(partition), "version": VERSION, "defaultVersion": True, "name": self.name,
                "resourceType": self.resource_type, "status": "ATTACHABLE", "creationTime": CREATED,
                "lastUpdatedTime": CREATED, "isResourceTypeDefault": True, "permissionType": "AWS_MANAGED",
                "featureSet": "STANDARD"}

    def detail(self, partition: str) -> Any:
        return {**self.summary(partition), "permission": self.template()}


MANAGED = (
    ManagedPermission("AWSRAMPermissionVpcLatticeServiceNetworkReadWrite", "vpc-lattice:ServiceNetwork", (
        "vpc-lattice:CreateServiceNetworkVpcAssociation", "vpc-lattice:CreateServiceNetworkServiceAssociation",
        "vpc-lattice:GetServiceNetwork")),
    ManagedPermission("AWSRAMPermissionVpcLatticeServiceReadWrite", "vpc-lattice:Service", (
        "vpc-lattice:CreateServiceNetworkServiceAssociation", "vpc-lattice:GetService")),
    ManagedPermission("AWSRAMPermissionVpcLatticeResourceConfiguration", "vpc-lattice:ResourceConfiguration", (
        "vpc-lattice:GetResourceConfiguration", "vpc-lattice:CreateServiceNetworkResourceAssociation",
        "vpc-lattice:AssociateViaAWSService")),
)


def by_arn(arn: str) -> ManagedPermission | None:
    name = arn.rsplit("/", 1)[-1] if arn.startswith("arn:") and ":ram::aws:permission/" in arn else ""
    return next((p for p in MANAGED if p.name == name), None)


def default_for(resource_type: str) -> ManagedPermission:
    return next(p for p in MANAGED if p.resource_type == resource_type)
