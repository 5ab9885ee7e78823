"""Terraform's AWS provider against Latticework's resource configurations: apply, re-plan, destroy.

``tests/terraform/lattice_resources`` declares a resource gateway, a SINGLE
resource configuration created without
``allow_association_to_shareable_service_network`` and associated with a plain
(shareable) service network, and a GROUP configuration with only a protocol
and a gateway plus a CHILD of it, the shapes of the provider's acceptance
tests ``TestAccVPCLatticeServiceNetworkResourceAssociation_basic`` and
``TestAccVPCLatticeResourceConfiguration_parentChild``. The test applies it
against a Latticework server of its own, checks through boto3 what AWS's
defaults made of it, requires a second plan to show no changes, destroys it
and checks that nothing is left.

Same approach and requirements as ``test_terraform.py`` (whose helpers it
uses). ``TF_LOG=DEBUG`` in the environment puts the provider's requests in
the failure output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test_terraform import (  # noqa: F401  (tf_server, terraform_in: fixtures)
    TIMEOUTS, default_client, terraform_in, tf_server,
)

pytestmark = pytest.mark.terraform

CONFIG_DIR = Path(__file__).parent / "terraform" / "lattice_resources"


def _leftovers(endpoint: str) -> dict:
    """Lattice resource-side resources (and the VPC) still present in the default account."""
    lattice, ec2 = default_client(endpoint, "vpc-lattice"), default_client(endpoint, "ec2")
    found = {
        "resource configurations": [c["id"] for c in lattice.list_resource_configurations()["items"]],
        "resource gateways": [g["id"] for g in lattice.list_resource_gateways()["items"]],
        "service networks": [n["id"] for n in lattice.list_service_networks()["items"]],
        "vpcs": [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]],
    }
    return {kind: ids for kind, ids in found.items() if ids}


def _configurations(endpoint: str) -> dict:
    """Every resource configuration of the default account, read back with GetResourceConfiguration."""
    lattice = default_client(endpoint, "vpc-lattice")
    return {item["name"]: lattice.get_resource_configuration(resourceConfigurationIdentifier=item["id"])
            for item in lattice.list_resource_configurations()["items"]}


@pytest.mark.timeout(sum(TIMEOUTS.values()) + 120)
def test_apply_replan_destroy_resources(terraform_in):
    tf = terraform_in(CONFIG_DIR)
    tf.expect(0, "init", "-input=false", "-no-color")
    tf.expect(0, "apply", "-auto-approve", "-input=false", "-no-color")

    configs = _configurations(tf.server.url)
    database, group, child = (configs[f"tf-rcfg-{n}"] for n in ("database", "group", "child"))
    assert database["allowAssociationToShareableServiceNetwork"] is True
    assert "portRanges" not in group and group["protocol"] == "TCP"
    assert (child["resourceGatewayId"], child["protocol"], child["portRanges"]) == (
        group["resourceGatewayId"], "TCP", ["80"])
    lattice = default_client(tf.server.url, "vpc-lattice")
    [association] = lattice.list_service_network_resource_associations(
        resourceConfigurationIdentifier=database["id"])["items"]
    assert association["status"] == "ACTIVE"

    # 0 = no changes; 2 = a field read back differently from what was sent.
    tf.expect(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")
    tf.expect(0, "destroy", "-auto-approve", "-input=false", "-no-color")
    left = _leftovers(tf.server.url)
    assert not left, tf.explain(f"resources left after destroy: {left}", "")
