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

import shutil
from pathlib import Path

import boto3
import pytest

from test_terraform import TIMEOUTS, Terraform, terraform_env, tf_server  # noqa: F401  (tf_server: fixture)

pytestmark = pytest.mark.terraform

CONFIG_DIR = Path(__file__).parent / "terraform" / "nlb"


@pytest.fixture
def tf(tf_server, tmp_path) -> Terraform:  # noqa: F811
    workdir = tmp_path / "work"
    shutil.copytree(CONFIG_DIR, workdir, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    return Terraform(workdir, terraform_env(tmp_path, tf_server.url), tf_server)


def _leftovers(endpoint: str) -> dict:
    """Load balancers, target groups and VPCs still present in the default account."""
    def client(name):
        return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    elb, ec2 = client("elbv2"), client("ec2")
    found = {
        "load balancers": [b["LoadBalancerArn"] for b in elb.describe_load_balancers()["LoadBalancers"]],
        "target groups": [g["TargetGroupArn"] for g in elb.describe_target_groups()["TargetGroups"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v.get("IsDefault")],
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
