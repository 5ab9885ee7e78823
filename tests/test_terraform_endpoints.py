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

import shutil
from pathlib import Path

import boto3
import pytest

from test_terraform import TIMEOUTS, Terraform, _missing_tools, start_logged_server, terraform_env

pytestmark = pytest.mark.terraform

CONFIG_DIR = Path(__file__).parent / "terraform" / "endpoints"


@pytest.fixture
def tf_server(tmp_path):
    reason = _missing_tools()
    if reason:
        pytest.skip(reason)
    server = start_logged_server(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def tf(tf_server, tmp_path) -> Terraform:
    workdir = tmp_path / "work"
    shutil.copytree(CONFIG_DIR, workdir, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    return Terraform(workdir, terraform_env(tmp_path, tf_server.url), tf_server)


def _leftovers(endpoint: str) -> dict:
    """PrivateLink resources (and their VPCs and load balancers) still present in the default account."""
    kwargs = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                  aws_secret_access_key="test")
    ec2, elbv2 = boto3.client("ec2", **kwargs), boto3.client("elbv2", **kwargs)
    found = {
        "endpoints": [e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]],
        "endpoint services": [s["ServiceId"] for s in
                              ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]],
        "load balancers": [lb["LoadBalancerArn"] for lb in elbv2.describe_load_balancers()["LoadBalancers"]],
    }
    return {kind: ids for kind, ids in found.items() if ids}


@pytest.mark.timeout(sum(TIMEOUTS.values()) + 120)
def test_apply_replan_destroy(tf):
    tf.expect(0, "init", "-input=false", "-no-color")
    tf.expect(0, "apply", "-auto-approve", "-input=false", "-no-color")
    # 0 = no changes; 2 = a field read back differently from what was sent.
    tf.expect(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")
    tf.expect(0, "destroy", "-auto-approve", "-input=false", "-no-color")
    left = _leftovers(tf.server.url)
    assert not left, tf.explain(f"resources left after destroy: {left}", "")
