"""Auth policies, resource policies and access-log subscriptions, black-box through boto3."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest

from conftest import client_for, error_code, status_of

ClientError = botocore.exceptions.ClientError

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]}
POLICY = json.dumps(ALLOW_ALL)
RESOURCE_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Sid": "share", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]},
    "Action": ["vpc-lattice:CreateServiceNetworkVpcAssociation", "vpc-lattice:GetServiceNetwork"],
    "Resource": "arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-0123456789abcdef0"}]})


def log_group(account: str, name: str = "lattice", suffix: str = "") -> str:
    return f"arn:aws:logs:us-east-1:{account}:log-group:{name}{suffix}"


def bucket(name: str = "lattice-logs") -> str:
    return f"arn:aws:s3:::{name}"


def firehose(account: str, name: str = "lattice") -> str:
    return f"arn:aws:firehose:us-east-1:{account}:deliverystream/{name}"


def new_sn(lattice, auth_type: str = "NONE") -> dict:
    return lattice.create_service_network(name=f"sn-{uuid.uuid4().hex[:12]}x", authType=auth_type)


def new_service(lattice, auth_type: str = "NONE") -> dict:
    return lattice.create_service(name=f"svc{uuid.uuid4().hex[:12]}", authType=auth_type)


def missing(prefix: str) -> str:
    return prefix + "0123456789abcdef0"


def raises(fn, code: str, status: int, **kwargs):
    with pytest.raises(ClientError) as excinfo:
        fn(**kwargs)
    assert (error_code(excinfo), status_of(excinfo)) == (code, status), excinfo.value.response
    return excinfo.value.response


# -- auth policies ---------------------------------------------------------------------------------

def test_put_auth_policy_on_service_network_without_iam_is_inactive(lattice):
    sn = new_sn(lattice)
    out = lattice.put_auth_policy(resourceIdentifier=sn["id"], policy=POLICY)
    assert (out["policy"], out["state"]) == (POLICY, "Inactive")
    got = lattice.get_auth_policy(resourceIdentifier=sn["id"])
    assert (got["policy"], got["state"]) == (POLICY, "Inactive")
    assert got["createdAt"] and got["lastUpdatedAt"]


def test_auth_policy_state_follows_auth_type(lattice):
    sn = new_sn(lattice, "AWS_IAM")
    assert lattice.put_auth_policy(resourceIdentifier=sn["arn"], policy=POLICY)["state"] == "Active"
    lattice.update_service_network(serviceNetworkIdentifier=sn["id"], authType="NONE")
    assert lattice.get_auth_policy(resourceIdentifier=sn["id"])["state"] == "Inactive"
    lattice.update_service_network(serviceNetworkIdentifier=sn["id"], authType="AWS_IAM")
    assert lattice.get_auth_policy(resourceIdentifier=sn["arn"])["state"] == "Active"


def test_auth_policy_on_service(lattice):
    svc = new_service(lattice, "AWS_IAM")
    assert lattice.put_auth_policy(resourceIdentifier=svc["arn"], policy=POLICY)["state"] == "Active"
    assert lattice.get_auth_policy(resourceIdentifier=svc["id"])["policy"] == POLICY
    lattice.delete_auth_policy(resourceIdentifier=svc["id"])
    assert "policy" not in lattice.get_auth_policy(resourceIdentifier=svc["id"])


def test_put_auth_policy_replaces_and_keeps_created_at(lattice):
    sn = new_sn(lattice)
    lattice.put_auth_policy(resourceIdentifier=sn["id"], policy=POLICY)
    first = lattice.get_auth_policy(resourceIdentifier=sn["id"])
    deny = json.dumps({**ALLOW_ALL, "Statement": [{**ALLOW_ALL["Statement"][0], "Effect": "Deny"}]})
    assert lattice.put_auth_policy(resourceIdentifier=sn["id"], policy=deny)["policy"] == deny
    second = lattice.get_auth_policy(resourceIdentifier=sn["id"])
    assert second["policy"] == deny
    assert second["createdAt"] == first["createdAt"]
    assert second["lastUpdatedAt"] >= first["lastUpdatedAt"]


def test_auth_policy_text_is_kept_verbatim(lattice):
    sn = new_sn(lattice)
    pretty = json.dumps(ALLOW_ALL, indent=2)
    lattice.put_auth_policy(resourceIdentifier=sn["id"], policy=pretty)
    assert lattice.get_auth_policy(resourceIdentifier=sn["id"])["policy"] == pretty


def test_get_auth_policy_without_one_is_empty(lattice):
    sn = new_sn(lattice)
    got = lattice.get_auth_policy(resourceIdentifier=sn["id"])
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert not {"policy", "state", "createdAt"} & set(got)


def test_delete_auth_policy_while_aws_iam_is_allowed(lattice):
    sn = new_sn(lattice, "AWS_IAM")
    lattice.put_auth_policy(resourceIdentifier=sn["id"], policy=POLICY)
    out = lattice.delete_auth_policy(resourceIdentifier=sn["arn"])
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "policy" not in lattice.get_auth_policy(resourceIdentifier=sn["id"])
    assert lattice.get_service_network(serviceNetworkIdentifier=sn["id"])["authType"] == "AWS_IAM"


def test_delete_auth_policy_is_idempotent(lattice):
    sn = new_sn(lattice)
    assert lattice.delete_auth_policy(resourceIdentifier=sn["id"])["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lattice.delete_auth_policy(resourceIdentifier=sn["id"])["ResponseMetadata"]["HTTPStatusCode"] == 204


@pytest.mark.parametrize("prefix,resource_type", [
    ("sn-", "SERVICE_NETWORK"), ("svc-", "SERVICE"), ("rcfg-", "RESOURCE_CONFIGURATION")])
@pytest.mark.parametrize("operation", ["put_auth_policy", "get_auth_policy", "delete_auth_policy"])
def test_auth_policy_unknown_resource_is_404(lattice, prefix, resource_type, operation):
    kwargs = {"resourceIdentifier": missing(prefix)}
    if operation == "put_auth_policy":
        kwargs["policy"] = POLICY
    response = raises(getattr(lattice, operation), "ResourceNotFoundException", 404, **kwargs)
    assert response["resourceType"] == resource_type
    assert response["resourceId"] == missing(prefix)


def test_auth_policy_on_another_accounts_arn_is_404(lattice, server):
    other = client_for(server, "vpc-lattice")  # the default account
    sn = new_sn(lattice)
    raises(other.put_auth_policy, "ResourceNotFoundException", 404, resourceIdentifier=sn["arn"], policy=POLICY)
    raises(other.get_auth_policy, "ResourceNotFoundException", 404, resourceIdentifier=sn["arn"])


@pytest.mark.parametrize("policy,words", [
    ("{not json", "not valid JSON"),
    ("", "not valid JSON"),
    ("[]", "must be a JSON object"),
    (json.dumps({"Statement": [{"Principal": "*", "Action": "*", "Resource": "*"}]}), "missing Effect"),
    (json.dumps({"Statement": [{"Effect": "Permit", "Principal": "*", "Action": "*", "Resource": "*"}]}),
     "Unknown Effect value"),
    (json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}), "missing Principal"),
    (json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Resource": "*"}]}), "missing Action"),
    (json.dumps({"Version": "2020-01-01", "Statement": [ALLOW_ALL["Statement"][0]]}), "Version"),
    (json.dumps({"Statement": [{**ALLOW_ALL["Statement"][0], "Condition": {"StringSorta": {"k": "v"}}}]}),
     "unknown condition operator"),
])
def test_put_auth_policy_invalid_document_is_400(lattice, policy, words):
    sn = new_sn(lattice)
    response = raises(lattice.put_auth_policy, "ValidationException", 400, resourceIdentifier=sn["id"], policy=policy)
    assert words in response["Error"]["Message"]
    assert response["fieldList"][0]["name"] == "policy"
    assert "policy" not in lattice.get_auth_policy(resourceIdentifier=sn["id"])


def _padded_policy(size: int) -> str:
    base = json.dumps({"Statement": [{**ALLOW_ALL["Statement"][0], "Sid": ""}]})
    statement = {**ALLOW_ALL["Statement"][0], "Sid": "x" * (size - len(base))}
    policy = json.dumps({"Statement": [statement]})
    assert len(policy.encode()) == size
    return policy


def test_auth_policy_size_quota_is_10_kb(lattice):
    sn = new_sn(lattice)
    at_limit = _padded_policy(10 * 1024)
    assert lattice.put_auth_policy(resourceIdentifier=sn["id"], policy=at_limit)["policy"] == at_limit
    response = raises(lattice.put_auth_policy, "ValidationException", 400, resourceIdentifier=sn["id"],
                      policy=_padded_policy(10 * 1024 + 1))
    assert "maximum size" in response["Error"]["Message"]


def test_auth_policy_identifier_pattern_is_checked(lattice):
    raises(lattice.get_auth_policy, "ValidationException", 400, resourceIdentifier="tg-0123456789abcdef0")


def test_delete_service_network_removes_its_auth_policy(lattice):
    sn = new_sn(lattice)
    lattice.put_auth_policy(resourceIdentifier=sn["id"], policy=POLICY)
    lattice.put_resource_policy(resourceArn=sn["arn"], policy=RESOURCE_POLICY)
    lattice.delete_service_network(serviceNetworkIdentifier=sn["id"])
    raises(lattice.get_auth_policy, "ResourceNotFoundException", 404, resourceIdentifier=sn["id"])
    raises(lattice.get_resource_policy, "ResourceNotFoundException", 404, resourceArn=sn["arn"])


# -- resource policies ----------------------------------------------------------------------------

def test_resource_policy_lifecycle(lattice):
    sn = new_sn(lattice)
    assert "policy" not in lattice.get_resource_policy(resourceArn=sn["arn"])
    out = lattice.put_resource_policy(resourceArn=sn["arn"], policy=RESOURCE_POLICY)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert lattice.get_resource_policy(resourceArn=sn["arn"])["policy"] == RESOURCE_POLICY
    out = lattice.delete_resource_policy(resourceArn=sn["arn"])
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "policy" not in lattice.get_resource_policy(resourceArn=sn["arn"])
    lattice.delete_resource_policy(resourceArn=sn["arn"])  # idempotent


def test_resource_policy_on_service(lattice):
    svc = new_service(lattice)
    lattice.put_resource_policy(resourceArn=svc["arn"], policy=RESOURCE_POLICY)
    assert lattice.get_resource_policy(resourceArn=svc["arn"])["policy"] == RESOURCE_POLICY


def test_put_resource_policy_replaces(lattice):
    sn = new_sn(lattice)
    lattice.put_resource_policy(resourceArn=sn["arn"], policy=RESOURCE_POLICY)
    lattice.put_resource_policy(resourceArn=sn["arn"], policy=POLICY)
    assert lattice.get_resource_policy(resourceArn=sn["arn"])["policy"] == POLICY


@pytest.mark.parametrize("operation", ["put_resource_policy", "get_resource_policy", "delete_resource_policy"])
def test_resource_policy_unknown_resource_is_404(lattice, clients, operation):
    arn = f"arn:aws:vpc-lattice:us-east-1:{clients.account}:service/{missing('svc-')}"
    kwargs = {"resourceArn": arn, **({"policy": RESOURCE_POLICY} if operation.startswith("put") else {})}
    assert raises(getattr(lattice, operation), "ResourceNotFoundException", 404, **kwargs)["resourceType"] == "SERVICE"


def test_resource_policy_of_another_account_is_404(lattice):
    arn = f"arn:aws:vpc-lattice:us-east-1:999999999999:servicenetwork/{missing('sn-')}"
    raises(lattice.put_resource_policy, "ResourceNotFoundException", 404, resourceArn=arn, policy=RESOURCE_POLICY)


def test_resource_policy_needs_an_arn(lattice):
    sn = new_sn(lattice)
    raises(lattice.get_resource_policy, "ValidationException", 400, resourceArn=sn["id"])


@pytest.mark.parametrize("policy", ["{", "   ", json.dumps({"Statement": []}), "x" * 10001])
def test_put_resource_policy_invalid_is_400(lattice, policy):
    sn = new_sn(lattice)
    raises(lattice.put_resource_policy, "ValidationException", 400, resourceArn=sn["arn"], policy=policy)
    assert "policy" not in lattice.get_resource_policy(resourceArn=sn["arn"])


# -- access-log subscriptions ------------------------------------------------------------------------

def test_create_access_log_subscription_on_service_network(lattice, clients):
    sn = new_sn(lattice)
    out = lattice.create_access_log_subscription(resourceIdentifier=sn["id"],
                                                 destinationArn=log_group(clients.account))
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert out["id"].startswith("als-") and len(out["id"]) == 21
    assert out["arn"] == f"arn:aws:vpc-lattice:us-east-1:{clients.account}:accesslogsubscription/{out['id']}"
    assert (out["resourceId"], out["resourceArn"]) == (sn["id"], sn["arn"])
    assert out["destinationArn"] == log_group(clients.account, suffix=":*")
    assert out["serviceNetworkLogType"] == "SERVICE"
    got = lattice.get_access_log_subscription(accessLogSubscriptionIdentifier=out["arn"])
    assert {k: got[k] for k in ("id", "arn", "resourceId", "resourceArn", "destinationArn",
                                "serviceNetworkLogType")} == {k: v for k, v in out.items() if k != "ResponseMetadata"}
    assert got["createdAt"] and got["lastUpdatedAt"]


@pytest.mark.parametrize("destination,answered", [
    ("arn:aws:logs:us-east-1:111122223333:log-group:/aws/vpclattice/logs",
     "arn:aws:logs:us-east-1:111122223333:log-group:/aws/vpclattice/logs:*"),
    ("arn:aws:logs:us-east-1:111122223333:log-group:lattice:*",
     "arn:aws:logs:us-east-1:111122223333:log-group:lattice:*"),
    ("arn:aws:s3:::my-log-bucket", "arn:aws:s3:::my-log-bucket"),
    ("arn:aws:s3:::my-log-bucket/prefix/", "arn:aws:s3:::my-log-bucket/prefix/"),
    ("arn:aws:firehose:us-east-1:111122223333:deliverystream/stream-1",
     "arn:aws:firehose:us-east-1:111122223333:deliverystream/stream-1"),
])
def test_supported_destinations(lattice, destination, answered):
    sn = new_sn(lattice)
    out = lattice.create_access_log_subscription(resourceIdentifier=sn["arn"], destinationArn=destination)
    assert out["destinationArn"] == answered


def test_log_group_destination_gets_wildcard_suffix(lattice, clients):
    # TestAccVPCLatticeAccessLogSubscription_cloudwatchNoWildcard: AWS answers a log group ARN given
    # without ":*" with it, on create and on every read.
    svc = new_service(lattice)
    out = lattice.create_access_log_subscription(resourceIdentifier=svc["id"],
                                                 destinationArn=log_group(clients.account))
    assert out["destinationArn"] == log_group(clients.account, suffix=":*")
    got = lattice.get_access_log_subscription(accessLogSubscriptionIdentifier=out["id"])
    assert got["destinationArn"] == log_group(clients.account, suffix=":*")
    [item] = lattice.list_access_log_subscriptions(resourceIdentifier=svc["id"])["items"]
    assert item["destinationArn"] == log_group(clients.account, suffix=":*")
    updated = lattice.update_access_log_subscription(accessLogSubscriptionIdentifier=out["id"],
                                                     destinationArn=log_group(clients.account, "other"))
    assert updated["destinationArn"] == log_group(clients.account, "other", ":*")


@pytest.mark.parametrize("destination", [
    "arn:aws:sns:us-east-1:111122223333:topic",
    "arn:aws:kinesis:us-east-1:111122223333:stream/s",
    "arn:aws:logs:us-east-1:111122223333:destination:d",
    "arn:aws:s3:::Upper_Case_Bucket",
])
def test_unsupported_destination_is_400(lattice, destination):
    sn = new_sn(lattice)
    response = raises(lattice.create_access_log_subscription, "ValidationException", 400,
                      resourceIdentifier=sn["id"], destinationArn=destination)
    assert response["fieldList"][0]["name"] == "destinationArn"


def test_one_subscription_per_destination_type(lattice, clients):
    sn = new_sn(lattice)
    first = lattice.create_access_log_subscription(resourceIdentifier=sn["id"],
                                                   destinationArn=log_group(clients.account, "a"))
    response = raises(lattice.create_access_log_subscription, "ConflictException", 409,
                      resourceIdentifier=sn["id"], destinationArn=log_group(clients.account, "b"))
    assert response["resourceId"] == first["id"]
    assert response["resourceType"] == "ACCESS_LOG_SUBSCRIPTION"
    lattice.create_access_log_subscription(resourceIdentifier=sn["id"], destinationArn=bucket())
    lattice.create_access_log_subscription(resourceIdentifier=sn["id"], destinationArn=firehose(clients.account))
    items = lattice.list_access_log_subscriptions(resourceIdentifier=sn["id"])["items"]
    assert len(items) == 3


def test_service_network_log_types_are_separate_slots(lattice, clients):
    sn = new_sn(lattice)
    lattice.create_access_log_subscription(resourceIdentifier=sn["id"], destinationArn=log_group(clients.account))
    out = lattice.create_access_log_subscription(resourceIdentifier=sn["id"], destinationArn=log_group(clients.account),
                                                 serviceNetworkLogType="RESOURCE")
    assert out["serviceNetworkLogType"] == "RESOURCE"
    raises(lattice.create_access_log_subscription, "ConflictException", 409, resourceIdentifier=sn["id"],
           destinationArn=log_group(clients.account, "c"), serviceNetworkLogType="RESOURCE")


def test_access_log_subscription_on_service(lattice, clients):
    svc = new_service(lattice)
    out = lattice.create_access_log_subscription(resourceIdentifier=svc["id"], destinationArn=bucket())
    assert (out["resourceId"], out["resourceArn"]) == (svc["id"], svc["arn"])
    assert "serviceNetworkLogType" not in out
    raises(lattice.create_access_log_subscription, "ValidationException", 400, resourceIdentifier=svc["id"],
           destinationArn=log_group(clients.account), serviceNetworkLogType="SERVICE")


def test_delete_service_removes_its_subscriptions(lattice):
    svc = new_service(lattice)
    als = lattice.create_access_log_subscription(resourceIdentifier=svc["id"], destinationArn=bucket())
    lattice.put_auth_policy(resourceIdentifier=svc["id"], policy=POLICY)
    lattice.delete_service(serviceIdentifier=svc["id"])
    raises(lattice.get_access_log_subscription, "ResourceNotFoundException", 404,
           accessLogSubscriptionIdentifier=als["id"])


@pytest.mark.parametrize("prefix,resource_type", [
    ("sn-", "SERVICE_NETWORK"), ("svc-", "SERVICE"), ("rcfg-", "RESOURCE_CONFIGURATION")])
def test_create_access_log_subscription_unknown_resource_is_404(lattice, prefix, resource_type):
    response = raises(lattice.create_access_log_subscription, "ResourceNotFoundException", 404,
                      resourceIdentifier=missing(prefix), destinationArn=bucket())
    assert response["resourceType"] == resource_type


def test_create_access_log_subscription_tags_and_token(lattice, clients):
    sn = new_sn(lattice)
    kwargs = dict(resourceIdentifier=sn["id"], destinationArn=bucket(), tags={"team": "net"}, clientToken="tok-1")
    first = lattice.create_access_log_subscription(**kwargs)
    assert lattice.create_access_log_subscription(**kwargs)["id"] == first["id"]
    assert lattice.list_tags_for_resource(resourceArn=first["arn"])["tags"] == {"team": "net"}
    lattice.tag_resource(resourceArn=first["arn"], tags={"env": "dev"})
    assert lattice.list_tags_for_resource(resourceArn=first["arn"])["tags"] == {"team": "net", "env": "dev"}
    raises(lattice.create_access_log_subscription, "ConflictException", 409,
           **{**kwargs, "destinationArn": bucket("other-bucket")})


def test_create_access_log_subscription_reserved_tag_is_400(lattice):
    sn = new_sn(lattice)
    raises(lattice.create_access_log_subscription, "ValidationException", 400, resourceIdentifier=sn["id"],
           destinationArn=bucket(), tags={"aws:owner": "x"})


def test_update_access_log_subscription_same_type(lattice, clients):
    sn = new_sn(lattice)
    als = lattice.create_access_log_subscription(resourceIdentifier=sn["id"], destinationArn=log_group(clients.account))
    out = lattice.update_access_log_subscription(accessLogSubscriptionIdentifier=als["id"],
                                                 destinationArn=log_group(clients.account, "new"))
    assert out["destinationArn"] == log_group(clients.account, "new", ":*")
    assert (out["id"], out["arn"], out["resourceId"], out["resourceArn"]) == (
        als["id"], als["arn"], sn["id"], sn["arn"])
    got = lattice.get_access_log_subscription(accessLogSubscriptionIdentifier=als["id"])
    assert got["destinationArn"] == log_group(clients.account, "new", ":*")
    assert got["serviceNetworkLogType"] == "SERVICE"


def test_update_access_log_subscription_to_other_type_is_conflict(lattice, clients):
    sn = new_sn(lattice)
    als = lattice.create_access_log_subscription(resourceIdentifier=sn["id"], destinationArn=log_group(clients.account))
    response = raises(lattice.update_access_log_subscription, "ConflictException", 409,
                      accessLogSubscriptionIdentifier=als["id"], destinationArn=bucket())
    assert response["resourceId"] == als["id"]
    got = lattice.get_access_log_subscription(accessLogSubscriptionIdentifier=als["id"])
    assert got["destinationArn"] == log_group(clients.account, suffix=":*")


def test_update_access_log_subscription_errors(lattice, clients):
    raises(lattice.update_access_log_subscription, "ResourceNotFoundException", 404,
           accessLogSubscriptionIdentifier=missing("als-"), destinationArn=bucket())
    sn = new_sn(lattice)
    als = lattice.create_access_log_subscription(resourceIdentifier=sn["id"], destinationArn=bucket())
    raises(lattice.update_access_log_subscription, "ValidationException", 400,
           accessLogSubscriptionIdentifier=als["id"], destinationArn="arn:aws:sqs:us-east-1:111122223333:q")


def test_delete_access_log_subscription(lattice):
    sn = new_sn(lattice)
    als = lattice.create_access_log_subscription(resourceIdentifier=sn["id"], destinationArn=bucket())
    out = lattice.delete_access_log_subscription(accessLogSubscriptionIdentifier=als["arn"])
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    raises(lattice.get_access_log_subscription, "ResourceNotFoundException", 404,
           accessLogSubscriptionIdentifier=als["id"])
    raises(lattice.delete_access_log_subscription, "ResourceNotFoundException", 404,
           accessLogSubscriptionIdentifier=als["id"])
    # the slot is free again
    lattice.create_access_log_subscription(resourceIdentifier=sn["id"], destinationArn=bucket())


def test_get_access_log_subscription_unknown_is_404(lattice):
    response = raises(lattice.get_access_log_subscription, "ResourceNotFoundException", 404,
                      accessLogSubscriptionIdentifier=missing("als-"))
    assert response["resourceType"] == "ACCESS_LOG_SUBSCRIPTION"


def test_list_access_log_subscriptions_paginates(lattice, clients):
    sn = new_sn(lattice)
    other = new_sn(lattice)
    created = [lattice.create_access_log_subscription(resourceIdentifier=sn["id"], destinationArn=arn)["id"]
               for arn in (log_group(clients.account), bucket(), firehose(clients.account))]
    lattice.create_access_log_subscription(resourceIdentifier=other["id"], destinationArn=bucket())
    page = lattice.list_access_log_subscriptions(resourceIdentifier=sn["arn"], maxResults=2)
    assert len(page["items"]) == 2 and page["nextToken"]
    rest = lattice.list_access_log_subscriptions(resourceIdentifier=sn["arn"], maxResults=2,
                                                 nextToken=page["nextToken"])
    assert "nextToken" not in rest
    items = page["items"] + rest["items"]
    assert [i["id"] for i in items] == created
    assert all(i["resourceId"] == sn["id"] and i["createdAt"] and i["lastUpdatedAt"] for i in items)


def test_list_access_log_subscriptions_unknown_resource_is_empty(lattice):
    assert lattice.list_access_log_subscriptions(resourceIdentifier=missing("sn-"))["items"] == []


def test_list_access_log_subscriptions_requires_resource(lattice):
    with pytest.raises(botocore.exceptions.ParamValidationError):
        lattice.list_access_log_subscriptions()


def test_delete_service_network_removes_its_subscriptions(lattice):
    sn = new_sn(lattice)
    als = lattice.create_access_log_subscription(resourceIdentifier=sn["id"], destinationArn=bucket())
    lattice.delete_service_network(serviceNetworkIdentifier=sn["id"])
    raises(lattice.get_access_log_subscription, "ResourceNotFoundException", 404,
           accessLogSubscriptionIdentifier=als["id"])
    assert lattice.list_access_log_subscriptions(resourceIdentifier=sn["id"])["items"] == []


# -- resource configurations ----------------------------------------------------------------------

def new_resource_configuration(lattice, network) -> dict:
    gateway = lattice.create_resource_gateway(name=f"gw{uuid.uuid4().hex[:10]}", vpcIdentifier=network.vpc_id,
                                              subnetIds=network.subnet_ids)
    return lattice.create_resource_configuration(
        name=f"db{uuid.uuid4().hex[:10]}", type="SINGLE", resourceGatewayIdentifier=gateway["id"], portRanges=["5432"],
        resourceConfigurationDefinition={"ipResource": {"ipAddress": "10.0.0.5"}})


def test_auth_policy_on_resource_configuration_is_inactive(lattice, network):
    rc = new_resource_configuration(lattice, network)
    assert lattice.put_auth_policy(resourceIdentifier=rc["arn"], policy=POLICY)["state"] == "Inactive"
    assert lattice.get_auth_policy(resourceIdentifier=rc["id"])["state"] == "Inactive"


def test_resource_configuration_attachments_and_cascade(lattice, clients, network):
    rc = new_resource_configuration(lattice, network)
    lattice.put_resource_policy(resourceArn=rc["arn"], policy=RESOURCE_POLICY)
    als = lattice.create_access_log_subscription(resourceIdentifier=rc["id"], destinationArn=log_group(clients.account))
    assert (als["resourceId"], als["resourceArn"]) == (rc["id"], rc["arn"])
    assert "serviceNetworkLogType" not in als
    raises(lattice.create_access_log_subscription, "ValidationException", 400, resourceIdentifier=rc["id"],
           destinationArn=bucket(), serviceNetworkLogType="RESOURCE")
    lattice.delete_resource_configuration(resourceConfigurationIdentifier=rc["id"])
    raises(lattice.get_access_log_subscription, "ResourceNotFoundException", 404,
           accessLogSubscriptionIdentifier=als["id"])
