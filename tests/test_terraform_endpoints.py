"""Terraform's AWS provider against Latticework's PrivateLink: apply, re-plan, destroy.

``tests/terraform/endpoints`` declares a provider VPC with a network load
balancer offered as an endpoint service that requires acceptance (with an
allowed principal), a consumer VPC with an Interface endpoint to it accepted
through ``aws_vpc_endpoint_connection_accepter``, and an S3 Gateway endpoint
with a route table and an endpoint policy. The test applies it against a
Latticework server of its own, requires a second plan to show no changes,
destroys it and checks through boto3 that nothing is left.

The server, the terraform runner and the provider mirror are those of
``test_terraform.py`` (the test skips when ``terraform`` or the mirror is
missing). Set ``TF_LOG=DEBUG`` to get the provider's requests in the failure
output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test_terraform import (  # noqa: F401  (tf_server, terraform_in: fixtures)
    TIMEOUTS, apply_replan_destroy, default_client, terraform_in, tf_server,
)

pytestmark = pytest.mark.terraform

CONFIG_DIR = Path(__file__).parent / "terraform" / "endpoints"


def _leftovers(endpoint: str) -> dict:
    """PrivateLink resources (and their VPCs and load balancers) still present in the default account."""
    ec2, elbv2 = default_client(endpoint, "ec2"), default_client(endpoint, "elbv2")
    found = {
        "endpoints": [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]],
        "endpoint services": [s["ServiceId"] for s in
                              ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]],
        "load balancers": [lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]],
    }
    return {kind: ids for kind, ids in found.items() if ids}


@pytest.mark.timeout(sum(TIMEOUTS.values()) + 120)
def test_apply_replan_destroy(terraform_in):
    apply_replan_destroy(terraform_in(CONFIG_DIR), _leftovers)
