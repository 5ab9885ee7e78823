"""AWS services through VPC endpoints, black-box: a real server whose S3 and DynamoDB upstream is a moto
server (started here on a free 127.0.0.1 port), boto3 creating VPCs and endpoints, and boto3 clients run
inside the VPC by ``latticework exec`` reading through them (their names resolve to the endpoint, TLS with
Latticework's CA, the endpoint policy judged per request)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import boto3
import pytest

from conftest import access_key, account_id, secret_key, start_server, write_accounts
from test_ec2_endpoints import make_vpc

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="exec needs the VPC resolver on port 53 and the "
                                                          "endpoint listens on 443: root")

REGION = "us-east-1"
ALLOWED, OTHER = "allowed-bucket", "other-bucket"
S3 = f"com.amazonaws.{REGION}.s3"
DYNAMODB = f"com.amazonaws.{REGION}.dynamodb"

# Run inside the VPC: read hello.txt from each bucket named, print {bucket: [code, detail, status]}.
READ_BUCKETS = """
import json, sys
import boto3, botocore.exceptions
s3 = boto3.client("s3", region_name="us-east-1")
found = {}
for bucket in sys.argv[1:]:
    try:
        found[bucket] = ["ok", s3.get_object(Bucket=bucket, Key="hello.txt")["Body"].read().decode(), 200]
    except botocore.exceptions.ClientError as exc:
        error = exc.response["Error"]
        found[bucket] = [error["Code"], error["Message"], exc.response["ResponseMetadata"]["HTTPStatusCode"]]
print(json.dumps(found))
"""

# Run inside the VPC: GetItem on each table named, print {table: [code, detail, status]}.
GET_ITEMS = """
import json, sys
import boto3, botocore.exceptions
ddb = boto3.client("dynamodb", region_name="us-east-1")
found = {}
for table in sys.argv[1:]:
    try:
        item = ddb.get_item(TableName=table, Key={"id": {"S": "1"}})["Item"]
        found[table] = ["ok", item["v"]["S"], 200]
    except botocore.exceptions.ClientError as exc:
        error = exc.response["Error"]
        found[table] = [error["Code"], error["Message"], exc.response["ResponseMetadata"]["HTTPStatusCode"]]
print(json.dumps(found))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert process.poll() is None, "moto server exited"
            assert time.monotonic() < deadline, "moto server did not start"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def moto():
    """A moto server on a free port: the S3 and DynamoDB upstream."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def aws_server(moto, tmp_path_factory):
    base = tmp_path_factory.mktemp("aws-services")
    server = start_server(base / "state.db", write_accounts(base / "accounts.toml", 2), workers=1,
                          extra=["--aws-upstream", f"s3={moto}", "--aws-upstream", f"dynamodb={moto}"])
    yield server
    server.stop()


def client(server, service: str, n: int = 0):
    return boto3.client(service, region_name=REGION, endpoint_url=server.url, aws_access_key_id=access_key(n),
                        aws_secret_access_key=secret_key(n))


def upstream(moto: str, service: str):
    return boto3.client(service, region_name=REGION, endpoint_url=moto, aws_access_key_id=access_key(0),
                        aws_secret_access_key=secret_key(0))


@pytest.fixture(scope="module")
def buckets(moto):
    s3 = upstream(moto, "s3")
    for bucket in (ALLOWED, OTHER):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="hello.txt", Body=f"hello from {bucket}".encode())


def in_vpc(server, vpc: str, script: str, *args: str, n: int = 0, **extra: str) -> dict:
    """Run ``script`` with boto3 inside ``vpc`` (``latticework exec``), signing as test account ``n``."""
    env = {**extra, "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "AWS_ACCESS_KEY_ID": access_key(n),
           "AWS_SECRET_ACCESS_KEY": secret_key(n), "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_MAX_ATTEMPTS": "1", "AWS_EC2_METADATA_DISABLED": "true"}
    done = subprocess.run([sys.executable, "-m", "latticework", "exec", "--endpoint", server.url, "--vpc", vpc,
                           "--", sys.executable, "-c", script, *args], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def main_route_table(ec2, vpc: str) -> str:
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    return tables[0]["RouteTableId"]


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow_buckets(*buckets: str) -> str:
    resources = [f"arn:aws:s3:::{b}{suffix}" for b in buckets for suffix in ("", "/*")]
    return policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": resources})


def test_an_s3_gateway_endpoint_policy_decides_which_buckets_a_vpc_reads(aws_server, buckets):
    ec2 = client(aws_server, "ec2")
    vpc, _ = make_vpc(ec2, "10.40.0.0/16", zones=("a",))
    endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, VpcEndpointType="Gateway",
                                       RouteTableIds=[main_route_table(ec2, vpc)],
                                       PolicyDocument=allow_buckets(ALLOWED))["VpcEndpoint"]["VpcEndpointId"]

    found = in_vpc(aws_server, vpc, READ_BUCKETS, ALLOWED, OTHER)
    assert found[ALLOWED] == ["ok", f"hello from {ALLOWED}", 200]
    code, message, status = found[OTHER]
    assert (code, status) == ("AccessDenied", 403)
    assert message == (f"User: arn:aws:iam::{account_id(0)}:root is not authorized to perform: s3:GetObject on "
                       f'resource: "arn:aws:s3:::{OTHER}/hello.txt" because no VPC endpoint policy allows the '
                       f"s3:GetObject action")

    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, PolicyDocument=allow_buckets(ALLOWED, OTHER))
    found = in_vpc(aws_server, vpc, READ_BUCKETS, ALLOWED, OTHER)
    assert found == {b: ["ok", f"hello from {b}", 200] for b in (ALLOWED, OTHER)}

    # An explicit deny wins, and the condition keys name the endpoint the request went through.
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, PolicyDocument=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{OTHER}/*",
         "Condition": {"StringEquals": {"aws:SourceVpce": endpoint, "aws:SourceVpc": vpc}}}))
    found = in_vpc(aws_server, vpc, READ_BUCKETS, ALLOWED, OTHER)
    assert found[ALLOWED][0] == "ok"
    assert found[OTHER][0] == "AccessDenied" and found[OTHER][1].endswith("with an explicit deny in a VPC endpoint "
                                                                          "policy")


def test_a_gateway_endpoint_carries_only_the_traffic_of_its_route_tables(aws_server, buckets):
    """Associated with another route table than the one the client uses (the VPC's main one), the endpoint's
    policy does not apply: the request takes the public path."""
    ec2 = client(aws_server, "ec2")
    vpc, _ = make_vpc(ec2, "10.41.0.0/16", zones=("a",))
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, RouteTableIds=[table], PolicyDocument=policy(
        {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}))
    found = in_vpc(aws_server, vpc, READ_BUCKETS, ALLOWED)
    assert found[ALLOWED][0] == "ok"


def test_a_dynamodb_interface_endpoint_with_private_dns_enforces_its_policy(aws_server, moto):
    ddb = upstream(moto, "dynamodb")
    for table in ("orders", "payments"):
        ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        ddb.put_item(TableName=table, Item={"id": {"S": "1"}, "v": {"S": table}})
    ec2 = client(aws_server, "ec2", 1)
    vpc, subnets = make_vpc(ec2, "10.42.0.0/16", zones=("a",))
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    orders = f"arn:aws:dynamodb:{REGION}:{account_id(1)}:table/orders"
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=DYNAMODB, VpcEndpointType="Interface", SubnetIds=subnets,
                            PolicyDocument=policy({"Effect": "Allow", "Principal": "*", "Action": "dynamodb:GetItem",
                                                   "Resource": orders}))
    # With the account known, the SDK uses DynamoDB's account-based name, the one private DNS covers.
    found = in_vpc(aws_server, vpc, GET_ITEMS, "orders", "payments", n=1, AWS_ACCOUNT_ID=account_id(1))
    assert found["orders"] == ["ok", "orders", 200]
    assert found["payments"] == [
        "AccessDeniedException",
        f"User: arn:aws:iam::{account_id(1)}:root is not authorized to perform: dynamodb:GetItem on resource: "
        f"arn:aws:dynamodb:{REGION}:{account_id(1)}:table/payments because no VPC endpoint policy allows the "
        f"dynamodb:GetItem action", 400]
