"""Black-box tests of Lattice services (CreateService ... ListServices) through boto3."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

import conftest
from conftest import error_code, status_of

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"


def make_service(lattice, name="billing", **kwargs) -> dict:
    return lattice.create_service(name=name, **kwargs)


def make_tg(lattice, vpc_id: str, name="tg-app") -> dict:
    # Target group names may not start with "tg-"; callers pass their own.
    return lattice.create_target_group(name=name, type="IP",
                                       config={"port": 80, "protocol": "HTTP", "vpcIdentifier": vpc_id})


def forward(tg_id: str) -> dict:
    return {"forward": {"targetGroups": [{"targetGroupIdentifier": tg_id}]}}


@pytest.fixture
def other_lattice(server):
    """A client of a second account nobody else uses."""
    return conftest.client_for(server, "vpc-lattice", next(conftest._accounts))


# -- create / get --------------------------------------------------------------

def test_create_answers_in_progress_with_generated_name(lattice, clients):
    created = make_service(lattice, "billing")
    assert created["status"] == "CREATE_IN_PROGRESS"
    assert re.fullmatch(r"svc-[0-9a-f]{17}", created["id"])
    assert created["arn"] == f"arn:aws:vpc-lattice:us-east-1:{clients.account}:service/{created['id']}"
    assert created["name"] == "billing"
    assert created["authType"] == "NONE"
    assert created["idleTimeoutSeconds"] == 60
    suffix = created["id"][len("svc-"):]
    assert created["dnsEntry"]["domainName"] == f"billing-{suffix}.7d67968.vpc-lattice-svcs.us-east-1.on.aws"
    assert re.fullmatch(r"Z[0-9A-Z]+", created["dnsEntry"]["hostedZoneId"])
    assert "customDomainName" not in created and "certificateArn" not in created


def test_get_answers_active_with_every_field(lattice):
    created = make_service(lattice, "billing", customDomainName="billing.example.com", certificateArn=CERT,
                           authType="AWS_IAM", idleTimeoutSeconds=300)
    got = lattice.get_service(serviceIdentifier=created["id"])
    assert got["status"] == "ACTIVE"
    for key in ("id", "arn", "name", "dnsEntry"):
        assert got[key] == created[key]
    assert got["customDomainName"] == "billing.example.com"
    assert got["certificateArn"] == CERT
    assert got["authType"] == "AWS_IAM"
    assert got["idleTimeoutSeconds"] == 300
    assert got["createdAt"] and got["lastUpdatedAt"]


def test_get_by_arn(lattice):
    created = make_service(lattice)
    assert lattice.get_service(serviceIdentifier=created["arn"])["id"] == created["id"]


def test_get_unknown_is_404(lattice):
    with pytest.raises(ClientError) as exc:
        lattice.get_service(serviceIdentifier="svc-0123456789abcdef0")
    assert (status_of(exc), error_code(exc)) == (404, "ResourceNotFoundException")
    assert exc.value.response["resourceType"] == "SERVICE"


def test_service_of_another_account_is_not_found(lattice, other_lattice):
    theirs = make_service(other_lattice)
    with pytest.raises(ClientError) as exc:
        lattice.get_service(serviceIdentifier=theirs["arn"])
    assert (status_of(exc), error_code(exc)) == (404, "ResourceNotFoundException")


def test_name_is_unique_per_account(lattice, other_lattice):
    make_service(lattice, "orders")
    with pytest.raises(ClientError) as exc:
        make_service(lattice, "orders")
    assert (status_of(exc), error_code(exc)) == (409, "ConflictException")
    assert make_service(other_lattice, "orders")["name"] == "orders"


def test_invalid_name_is_refused(lattice):
    with pytest.raises(ClientError) as exc:
        make_service(lattice, "svc-billing")
    assert (status_of(exc), error_code(exc)) == (400, "ValidationException")


def test_reserved_tag_key_is_refused(lattice):
    with pytest.raises(ClientError) as exc:
        make_service(lattice, tags={"aws:owner": "me"})
    assert (status_of(exc), error_code(exc)) == (400, "ValidationException")


def test_tags_are_kept(lattice):
    created = make_service(lattice, tags={"team": "payments"})
    assert lattice.list_tags_for_resource(resourceArn=created["arn"])["tags"] == {"team": "payments"}


def test_client_token_replays_the_create(lattice):
    first = make_service(lattice, clientToken="token-1")
    again = make_service(lattice, clientToken="token-1")
    assert again["id"] == first["id"]


def test_quota_of_services_per_region(clients_with_quotas):
    lattice = clients_with_quotas.lattice  # 3 services per Region (conftest.LOW_QUOTAS)
    for n in range(conftest.LOW_QUOTAS["L-620C821E"]):
        make_service(lattice, f"service{n}")
    with pytest.raises(ClientError) as exc:
        make_service(lattice, "one-too-many")
    assert (status_of(exc), error_code(exc)) == (402, "ServiceQuotaExceededException")
    assert (exc.value.response["serviceCode"], exc.value.response["quotaCode"]) == ("vpc-lattice", "L-620C821E")
    assert exc.value.response["resourceType"] == "SERVICE"


# -- update ----------------------------------------------------------------------

def test_update_changes_only_the_updatable_members(lattice):
    created = make_service(lattice, customDomainName="pay.example.com")
    updated = lattice.update_service(serviceIdentifier=created["id"], certificateArn=CERT, authType="AWS_IAM",
                                     idleTimeoutSeconds=120)
    assert updated["certificateArn"] == CERT
    assert updated["authType"] == "AWS_IAM"
    assert updated["idleTimeoutSeconds"] == 120
    assert updated["customDomainName"] == "pay.example.com"
    assert "status" not in updated
    got = lattice.get_service(serviceIdentifier=created["arn"])
    assert (got["certificateArn"], got["authType"], got["idleTimeoutSeconds"]) == (CERT, "AWS_IAM", 120)
    assert got["name"] == created["name"] and got["dnsEntry"] == created["dnsEntry"]


def test_update_keeps_what_is_not_sent(lattice):
    created = make_service(lattice, authType="AWS_IAM", idleTimeoutSeconds=90)
    lattice.update_service(serviceIdentifier=created["id"], certificateArn=CERT)
    got = lattice.get_service(serviceIdentifier=created["id"])
    assert (got["authType"], got["idleTimeoutSeconds"]) == ("AWS_IAM", 90)


def test_update_out_of_range_idle_timeout_is_refused(lattice, clients):
    created = make_service(lattice)
    unchecked = clients.client("vpc-lattice", parameter_validation=False)
    with pytest.raises(ClientError) as exc:
        unchecked.update_service(serviceIdentifier=created["id"], idleTimeoutSeconds=30)
    assert (status_of(exc), error_code(exc)) == (400, "ValidationException")


def test_update_unknown_is_404(lattice):
    with pytest.raises(ClientError) as exc:
        lattice.update_service(serviceIdentifier="svc-0123456789abcdef0", authType="NONE")
    assert (status_of(exc), error_code(exc)) == (404, "ResourceNotFoundException")


# -- delete ----------------------------------------------------------------------

def test_delete_answers_in_progress_then_404(lattice):
    created = make_service(lattice, "gone")
    deleted = lattice.delete_service(serviceIdentifier=created["id"])
    assert deleted == {k: deleted[k] for k in ("id", "arn", "name", "status", "ResponseMetadata")}
    assert deleted["status"] == "DELETE_IN_PROGRESS"
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        lattice.get_service(serviceIdentifier=created["id"])
    assert (status_of(exc), error_code(exc)) == (404, "ResourceNotFoundException")
    assert make_service(lattice, "gone")["id"] != created["id"]


def test_delete_unknown_is_404(lattice):
    with pytest.raises(ClientError) as exc:
        lattice.delete_service(serviceIdentifier="svc-0123456789abcdef0")
    assert (status_of(exc), error_code(exc)) == (404, "ResourceNotFoundException")


def test_delete_is_refused_while_associated_with_a_service_network(lattice):
    service = make_service(lattice)
    sn = lattice.create_service_network(name="net")
    assoc = lattice.create_service_network_service_association(serviceIdentifier=service["id"],
                                                                serviceNetworkIdentifier=sn["id"])
    with pytest.raises(ClientError) as exc:
        lattice.delete_service(serviceIdentifier=service["id"])
    assert (status_of(exc), error_code(exc)) == (409, "ConflictException")
    assert lattice.get_service(serviceIdentifier=service["id"])["status"] == "ACTIVE"
    lattice.delete_service_network_service_association(serviceNetworkServiceAssociationIdentifier=assoc["id"])
    assert lattice.delete_service(serviceIdentifier=service["id"])["status"] == "DELETE_IN_PROGRESS"


def test_delete_removes_listeners_and_rules(lattice, network):
    service = make_service(lattice, "first")
    tg = make_tg(lattice, network.vpc_id, "app")
    listener = lattice.create_listener(serviceIdentifier=service["id"], name="web", protocol="HTTP",
                                       defaultAction={"fixedResponse": {"statusCode": 404}})
    lattice.create_rule(serviceIdentifier=service["id"], listenerIdentifier=listener["id"], name="api",
                        priority=1, match={"httpMatch": {"pathMatch": {"match": {"prefix": "/api"}}}},
                        action=forward(tg["id"]))
    lattice.delete_service(serviceIdentifier=service["id"])
    with pytest.raises(ClientError) as exc:
        lattice.list_tags_for_resource(resourceArn=listener["arn"])
    assert error_code(exc) == "ResourceNotFoundException"
    # The target group no longer serves the deleted service, so another may use it.
    second = make_service(lattice, "second")
    lattice.create_listener(serviceIdentifier=second["id"], name="web", protocol="HTTP",
                            defaultAction=forward(tg["id"]))


# -- list ------------------------------------------------------------------------

def test_list_paginates_with_summaries(lattice):
    made = [make_service(lattice, f"svc{n}", customDomainName=f"s{n}.example.com") for n in range(3)]
    first = lattice.list_services(maxResults=2)
    assert len(first["items"]) == 2 and first["nextToken"]
    rest = lattice.list_services(maxResults=2, nextToken=first["nextToken"])
    assert "nextToken" not in rest
    items = first["items"] + rest["items"]
    assert [i["id"] for i in items] == [m["id"] for m in made]
    assert set(items[0]) == {"id", "name", "arn", "createdAt", "lastUpdatedAt", "dnsEntry", "customDomainName",
                             "status"}
    assert {i["status"] for i in items} == {"ACTIVE"}


def test_list_is_per_account(lattice, other_lattice):
    make_service(other_lattice)
    assert lattice.list_services()["items"] == []


def test_list_refuses_a_bad_token(lattice):
    with pytest.raises(ClientError) as exc:
        lattice.list_services(nextToken="not-a-token")
    assert (status_of(exc), error_code(exc)) == (400, "ValidationException")
