"""Terraform's AWS provider against Latticework's RAM: apply, re-plan, destroy, across two accounts.

``tests/terraform/ram`` shares a service network of the default account (``aws_ram_resource_share``,
``aws_ram_resource_association``, ``aws_ram_principal_association``) with a second account, which accepts
the invitation (``aws_ram_resource_share_accepter``, through a second provider signing as that account).
The test applies it, requires a second plan to show no changes, destroys it and checks through boto3 that
the share is deleted, the network gone and the receiver sees nothing shared.

The provider mirror and the terraform runner are those of ``test_terraform``; the server gets an accounts
file declaring the receiver beside the default account. The test skips when ``terraform`` or the mirror is
missing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import boto3
import pytest

from test_terraform import (
    TIMEOUTS, Terraform, _missing_tools, apply_replan_destroy, default_client, start_logged_server, terraform_env,
)

pytestmark = pytest.mark.terraform

CONFIG_DIR = Path(__file__).parent / "terraform" / "ram"
RECEIVER = "222222222222"
ACCOUNTS = f"""\
include_default = true

[[accounts]]
id = "{RECEIVER}"
name = "receiver"

[[accounts.credentials]]
access_key_id = "AKIDRECEIVER"
secret_access_key = "receiver-secret"
"""


@pytest.fixture
def tf(tmp_path):
    reason = _missing_tools()
    if reason:
        pytest.skip(reason)
    config = tmp_path / "accounts.toml"
    config.write_text(ACCOUNTS)
    server = start_logged_server(tmp_path, config)
    workdir = tmp_path / "work"
    shutil.copytree(CONFIG_DIR, workdir, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    yield Terraform(workdir, terraform_env(tmp_path, server.url), server)
    server.stop()


def _leftovers(endpoint: str) -> dict:
    """Active shares and networks of the owner, and anything the receiver still sees shared."""
    ram = default_client(endpoint, "ram")
    receiver = boto3.client("ram", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="AKIDRECEIVER", aws_secret_access_key="receiver-secret")
    found = {
        "active shares": [s["resourceShareArn"] for s in ram.get_resource_shares(
            resourceOwner="SELF", resourceShareStatus="ACTIVE")["resourceShares"]],
        "service networks": [n["id"] for n in default_client(endpoint, "vpc-lattice").list_service_networks()["items"]],
        "shared with the receiver": [r["arn"] for r in receiver.list_resources(
            resourceOwner="OTHER-ACCOUNTS")["resources"]],
    }
    return {kind: items for kind, items in found.items() if items}


@pytest.mark.timeout(sum(TIMEOUTS.values()) + 120)
def test_apply_replan_destroy(tf):
    apply_replan_destroy(tf, _leftovers)
