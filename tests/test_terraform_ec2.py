"""Terraform's AWS provider against Latticework's EC2 networking: apply, re-plan, destroy.

``tests/terraform/ec2_network`` declares a VPC (DNS hostnames on), two
subnets in different Availability Zones, security groups with inline rules
and standalone ingress/egress rule resources, and a route table with a route
and a subnet association. The test applies it against a Latticework server of
its own, requires a second plan to show no changes, destroys it and checks
through boto3 that nothing is left.

Same approach and requirements as ``test_terraform.py`` (whose helpers it
uses): the provider comes from the local filesystem mirror, and the test skips
when ``terraform`` or the mirror is missing. ``TF_LOG=DEBUG`` in the
environment puts the provider's requests in the failure output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test_terraform import (  # noqa: F401  (tf_server, terraform_in: fixtures)
    TIMEOUTS, apply_replan_destroy, default_client, terraform_in, tf_server,
)

pytestmark = pytest.mark.terraform

CONFIG_DIR = Path(__file__).parent / "terraform" / "ec2_network"


def _leftovers(endpoint: str) -> dict:
    """EC2 networking resources still present in the default account."""
    ec2 = default_client(endpoint, "ec2")
    found = {
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]],
        "subnets": [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]],
        "security groups": [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]],
        "security group rules": [r["SecurityGroupRuleId"]
                                 for r in ec2.describe_security_group_rules()["SecurityGroupRules"]],
        "route tables": [t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"]],
        "network ACLs": [a["NetworkAclId"] for a in ec2.describe_network_acls()["NetworkAcls"]],
    }
    return {kind: ids for kind, ids in found.items() if ids}


@pytest.mark.timeout(sum(TIMEOUTS.values()) + 120)
def test_apply_replan_destroy_ec2(terraform_in):
    apply_replan_destroy(terraform_in(CONFIG_DIR), _leftovers)
