"""Terraform's AWS provider against Latticework's IAM: apply, re-plan, destroy.

``tests/terraform/iam`` declares what a VPC Lattice client's identity takes: a role with a trust policy
(from ``aws_iam_policy_document``, naming the account read through ``aws_caller_identity``), an inline
policy (``aws_iam_role_policy``), a customer managed policy (``aws_iam_policy``) and two attachments
(``aws_iam_role_policy_attachment``: the customer policy and an AWS managed one). The test applies it,
requires a second plan to show no changes (documents compared as Terraform compares them, decoded from
IAM's URL encoding), destroys it and checks through boto3 that nothing is left.

The server, the provider mirror and the terraform runner are those of ``test_terraform``; the test
skips when ``terraform`` or the mirror is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test_terraform import (  # noqa: F401  (tf_server, terraform_in: fixtures)
    TIMEOUTS, apply_replan_destroy, default_client, terraform_in, tf_server,
)

pytestmark = pytest.mark.terraform

CONFIG_DIR = Path(__file__).parent / "terraform" / "iam"


def _leftovers(endpoint: str) -> dict:
    """Roles and customer managed policies still present in the default account."""
    iam = default_client(endpoint, "iam")
    found = {
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"]],
        "policies": [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]],
    }
    return {kind: items for kind, items in found.items() if items}


@pytest.mark.timeout(sum(TIMEOUTS.values()) + 120)
def test_apply_replan_destroy(terraform_in):
    apply_replan_destroy(terraform_in(CONFIG_DIR), _leftovers)
