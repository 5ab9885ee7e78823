"""Terraform's AWS provider against Latticework's ELBv2 and EC2: apply, re-plan, destroy.

``tests/terraform/nlb`` declares what a PrivateLink provider builds before an
endpoint service: a VPC, two subnets, an internal network load balancer, a TCP
target group with a health check and a TCP listener. The test applies it,
requires a second plan to show no changes (every field reads back as sent,
defaults included), destroys it and checks through boto3 that nothing is left.

The server, the provider mirror and the terraform runner are those of
``test_terraform``; the test skips when ``terraform`` or the mirror is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test_terraform import (  # noqa: F401  (tf_server, terraform_in: fixtures)
    TIMEOUTS, apply_replan_destroy, default_client, terraform_in, tf_server,
)

pytestmark = pytest.mark.terraform

CONFIG_DIR = Path(__file__).parent / "terraform" / "nlb"


def _leftovers(endpoint: str) -> dict:
    """Load balancers, target groups and VPCs still present in the default account."""
    elb, ec2 = default_client(endpoint, "elbv2"), default_client(endpoint, "ec2")
    found = {
        "load balancers": [b["LoadBalancerArn"] for b in elb.describe_load_balancers()["LoadBalancers"]],
        "target groups": [g["TargetGroupArn"] for g in elb.describe_target_groups()["TargetGroups"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")],
    }
    return {kind: ids for kind, ids in found.items() if ids}


@pytest.mark.timeout(sum(TIMEOUTS.values()) + 120)
def test_apply_replan_destroy(terraform_in):
    apply_replan_destroy(terraform_in(CONFIG_DIR), _leftovers)
