"""Accounts and regions scope every resource; configuration errors are clear.

Two accounts of the shared server (``clients`` and a second one taken from the
same pool, so no other test sees them) check that a service network is
invisible to the other account by id and by ARN, that lists are per account,
and that the same account in another region sees nothing. STS answers each
account's id. Broken accounts files stop ``latticework up`` with a usage error
(exit code 2) and no traceback.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

import conftest
from conftest import account_id, client_for, error_code, status_of


@pytest.fixture
def other(server):
    """Clients of a second account nobody else uses."""
    n = next(conftest._accounts)
    assert n < conftest.ACCOUNTS
    return conftest.Clients(n, account_id(n), client_for(server, "vpc-lattice", n), client_for(server, "sts", n), server)


@pytest.fixture
def network(lattice):
    return lattice.create_service_network(name="accounts-network")


def _not_found(call, **kwargs) -> None:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    assert (error_code(excinfo), status_of(excinfo)) == ("ResourceNotFoundException", 404)


@pytest.mark.parametrize("by", ["id", "arn"])
def test_other_account_cannot_read_or_delete(network, other, lattice, by):
    identifier = network[by]
    _not_found(other.lattice.get_service_network, serviceNetworkIdentifier=identifier)
    _not_found(other.lattice.delete_service_network, serviceNetworkIdentifier=identifier)
    _not_found(other.lattice.update_service_network, serviceNetworkIdentifier=identifier, authType="AWS_IAM")
    assert lattice.get_service_network(serviceNetworkIdentifier=identifier)["id"] == network["id"]


def test_other_account_cannot_tag(network, other):
    _not_found(other.lattice.tag_resource, resourceArn=network["arn"], tags={"k": "v"})
    _not_found(other.lattice.list_tags_for_resource, resourceArn=network["arn"])


def test_lists_are_per_account(network, other, lattice):
    theirs = other.lattice.create_service_network(name="accounts-network")  # same name: other scope
    mine = [n["id"] for n in lattice.list_service_networks()["items"]]
    others = [n["id"] for n in other.lattice.list_service_networks()["items"]]
    assert mine == [network["id"]] and others == [theirs["id"]]


def test_arn_names_the_account(network, clients):
    assert f":{clients.account}:servicenetwork/{network['id']}" in network["arn"]


def test_regions_are_separate(network, clients):
    west = clients.client("vpc-lattice", region="eu-west-1")
    assert west.list_service_networks()["items"] == []
    _not_found(west.get_service_network, serviceNetworkIdentifier=network["id"])
    created = west.create_service_network(name="accounts-network")  # same name, other region
    assert ":eu-west-1:" in created["arn"]
    assert [n["id"] for n in clients.lattice.list_service_networks()["items"]] == [network["id"]]


def test_sts_answers_each_account(clients, other, server):
    assert clients.sts.get_caller_identity()["Account"] == clients.account
    assert other.sts.get_caller_identity()["Account"] == other.account
    default = client_for(server, "sts").get_caller_identity()
    assert default["Account"] == "000000000000"
    assert default["Arn"] == "arn:aws:iam::000000000000:root"


# -- configuration errors -------------------------------------------------------------

BAD_CONFIGS = {
    "bad TOML": "[[accounts]\nid = 1",
    "duplicate TOML key": '[[accounts]]\nid = "111111111111"\nid = "222222222222"\n',
    "duplicate access key": '[[accounts]]\nid = "111111111111"\n[[accounts.credentials]]\naccess_key_id = "A"\n'
                            'secret_access_key = "s"\n[[accounts]]\nid = "222222222222"\n[[accounts.credentials]]\n'
                            'access_key_id = "A"\nsecret_access_key = "t"\n',
    "bad account id": '[[accounts]]\nid = "12345"\n[[accounts.credentials]]\naccess_key_id = "A"\nsecret_access_key = "s"\n',
    "missing secret": '[[accounts]]\nid = "111111111111"\n[[accounts.credentials]]\naccess_key_id = "A"\n',
    "no credentials": '[[accounts]]\nid = "111111111111"\n',
}


@pytest.mark.parametrize("case", BAD_CONFIGS)
def test_config_errors_are_usage_errors(tmp_path, case):
    config = tmp_path / "accounts.toml"
    config.write_text(BAD_CONFIGS[case])
    result = subprocess.run([sys.executable, "-m", "latticework", "up", "--port", "0", "--state",
                             str(tmp_path / "state.db"), "--config", str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith("Error:"), result.stderr
