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

import shutil
from pathlib import Path

import boto3
import pytest

from test_terraform import TIMEOUTS, Terraform, _missing_tools, start_logged_server, terraform_env

pytestmark = pytest.mark.terraform

CONFIG_DIR = Path(__file__).parent / "terraform" / "ec2_network"


@pytest.fixture
def ec2_tf_server(tmp_path):
    reason = _missing_tools()
    if reason:
        pytest.skip(reason)
    server = start_logged_server(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def ec2_tf(ec2_tf_server, tmp_path) -> Terraform:
    workdir = tmp_path / "work"
    shutil.copytree(CONFIG_DIR, workdir, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    return Terraform(workdir, terraform_env(tmp_path, ec2_tf_server.url), ec2_tf_server)


def _leftovers(endpoint: str) -> dict:
    """EC2 networking resources still present in the default account."""
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
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
def test_apply_replan_destroy_ec2(ec2_tf):
    ec2_tf.expect(0, "init", "-input=false", "-no-color")
    ec2_tf.expect(0, "apply", "-auto-approve", "-input=false", "-no-color")
    # 0 = no changes; 2 = a field read back differently from what was sent.
    ec2_tf.expect(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")
    ec2_tf.expect(0, "destroy", "-auto-approve", "-input=false", "-no-color")
    left = _leftovers(ec2_tf.server.url)
    assert not left, ec2_tf.explain(f"resources left after destroy: {left}", "")
