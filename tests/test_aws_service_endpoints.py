"""AWS services through VPC endpoints, black-box: a real server whose S3 and DynamoDB upstream is a moto
server (started here on a free 127.0.0.1 port), boto3 creating VPCs and endpoints, and boto3 clients run
inside the VPC by ``latticework exec`` reading through them (their names resolve to the endpoint, TLS with
Latticework's CA, the endpoint policy judged per request). Then the parts that need no server: which
operation, action and resource a request is (botocore's serializer as the oracle), policy verdicts and
their messages, and the upstream configuration."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse

import boto3
import botocore.config
import botocore.session
import pytest
from botocore.serialize import create_serializer
from click.testing import CliRunner

from latticework.cli import main
from latticework.config import ConfigError, Credential, load_aws_upstreams
from latticework.dataplane.awsservices.operations import DynamoDbOperations, Operation, S3Operations
from latticework.dataplane.awsservices.policy import credential_of, denial
from latticework.ownpaths_client import ca_pem
from latticework.snapshot.identities import Identities
from latticework.snapshot.model import AwsEndpoint, Snapshot, VpcView

from conftest import access_key, account_id, secret_key, start_server, write_accounts
from test_ec2_endpoints import make_vpc
from test_privatelink_dns import vpc_info

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="exec needs the VPC resolver on port 53 and the "
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

# Run inside the VPC: upload argv[2] bytes to bucket argv[1] (as the SDK streams a body: checksum trailer,
# Expect: 100-continue), then a multipart upload of two parts; print the ETags.
PUT_OBJECTS = """
import json, sys
import boto3
s3 = boto3.client("s3", region_name="us-east-1")
bucket, size = sys.argv[1], int(sys.argv[2])
single = s3.put_object(Bucket=bucket, Key="big.bin", Body=b"x" * size)["ETag"]
upload = s3.create_multipart_upload(Bucket=bucket, Key="parts.bin")["UploadId"]
parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="parts.bin", UploadId=upload, PartNumber=n,
                                                  Body=b"y" * (5 * 1024 * 1024))["ETag"]} for n in (1, 2)]
s3.complete_multipart_upload(Bucket=bucket, Key="parts.bin", UploadId=upload, MultipartUpload={"Parts": parts})
print(json.dumps([single, len(parts)]))
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
    env = {**extra, "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
           "AWS_ACCESS_KEY_ID": access_key(n),
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


@needs_root
def test_an_s3_gateway_endpoint_policy_decides_which_buckets_a_vpc_reads(aws_server, moto, buckets):
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

    # Bodies stream through: a 3 MiB object, and a multipart upload, into the bucket it may write to.
    in_vpc(aws_server, vpc, PUT_OBJECTS, OTHER, str(3 * 1024 * 1024))
    s3 = upstream(moto, "s3")
    assert s3.head_object(Bucket=OTHER, Key="big.bin")["ContentLength"] == 3 * 1024 * 1024
    assert s3.head_object(Bucket=OTHER, Key="parts.bin")["ContentLength"] == 10 * 1024 * 1024


@needs_root
def test_the_gateway_address_presents_a_certificate_only_for_names_that_lead_to_it(aws_server):
    ec2 = client(aws_server, "ec2")
    vpc, _ = make_vpc(ec2, "10.43.0.0/16", zones=("a",))
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, RouteTableIds=[main_route_table(ec2, vpc)])
    names = vpc_info(aws_server, vpc)["privateNames"]
    address = names[f"s3.{REGION}.amazonaws.com"][0]
    assert address.endswith(".11") and names["*.s3.amazonaws.com"] == [address]
    assert f"dynamodb.{REGION}.amazonaws.com" not in names  # no endpoint to DynamoDB: the host's resolvers answer
    context = ssl.create_default_context(cadata=ca_pem(aws_server.url))
    with socket.create_connection((address, 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=f"{ALLOWED}.s3.amazonaws.com") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    with socket.create_connection((address, 443), timeout=10) as raw:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw, server_hostname="example.com")


@needs_root
def test_a_gateway_endpoint_carries_only_the_traffic_of_its_route_tables(aws_server, buckets):
    """Associated with another route table than the one the client uses (the VPC's main one), the endpoint's
    policy does not apply: the request takes the public path (here the same upstream)."""
    ec2 = client(aws_server, "ec2")
    vpc, _ = make_vpc(ec2, "10.41.0.0/16", zones=("a",))
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, RouteTableIds=[table], PolicyDocument=policy(
        {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}))
    found = in_vpc(aws_server, vpc, READ_BUCKETS, ALLOWED)
    assert found[ALLOWED][0] == "ok"

    # Once that table is the VPC's main one, the endpoint carries the client's traffic, and its policy holds.
    main = ec2.describe_route_tables(RouteTableIds=[main_route_table(ec2, vpc)])["RouteTables"][0]
    association = next(a for a in main["Associations"] if a["Main"])["RouteTableAssociationId"]
    ec2.replace_route_table_association(AssociationId=association, RouteTableId=table)
    assert main_route_table(ec2, vpc) == table
    found = in_vpc(aws_server, vpc, READ_BUCKETS, ALLOWED)
    assert found[ALLOWED][:1] == ["AccessDenied"] and "explicit deny" in found[ALLOWED][1]


@needs_root
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


# -- which operation, which action, which resource (no server) ---------------------------------------------

S3_MODEL = botocore.session.get_session().get_service_model("s3")
# Requests that read as another operation: deprecated ones are their successors' requests on the wire,
# ListDirectoryBuckets is ListBuckets' request on S3 Express's endpoint, WriteGetObjectResponse goes to
# an Object Lambda host.
S3_ALIASES = {"GetBucketLifecycle": "GetBucketLifecycleConfiguration",
              "PutBucketLifecycle": "PutBucketLifecycleConfiguration",
              "GetBucketNotification": "GetBucketNotificationConfiguration",
              "PutBucketNotification": "PutBucketNotificationConfiguration",
              "ListDirectoryBuckets": "ListBuckets", "WriteGetObjectResponse": None}


def sample(shape, name: str = ""):
    """A value for every required member of ``shape``: what the serializer needs to build the request."""
    kind = shape.type_name
    if kind == "structure":
        return {n: sample(m, n) for n, m in shape.members.items() if n in shape.required_members}
    if kind == "list":
        return [sample(shape.member)]
    return {"string": {"Bucket": "my-bucket", "Key": "dir/a key.txt"}.get(name, "v"), "integer": 1, "long": 1,
            "boolean": True, "timestamp": 0, "blob": b"x", "map": {}}.get(kind, "v")


def sent(operation_name: str, virtual_host: bool) -> tuple[str, str, str, dict[str, str]]:
    """(method, host, target, headers) of the request botocore sends for the operation."""
    operation = S3_MODEL.operation_model(operation_name)
    request = create_serializer("rest-xml", include_validation=False).serialize_to_request(
        sample(operation.input_shape) if operation.input_shape else {}, operation)
    path, query = request["url_path"], request["query_string"]
    encoded = query if isinstance(query, str) else urllib.parse.urlencode(query)
    target = path + (("&" if "?" in path else "?") + encoded if encoded else "")
    host = f"s3.{REGION}.amazonaws.com"
    if virtual_host and target.startswith("/my-bucket"):
        host, target = "my-bucket." + host, target[len("/my-bucket"):]
        target = target if target.startswith("/") else "/" + target
    return request["method"], host, target, {k.lower(): v for k, v in request["headers"].items()}


@pytest.mark.parametrize("virtual_host", [False, True], ids=["path-style", "virtual-hosted"])
def test_every_s3_operation_is_identified_from_the_request_botocore_sends(virtual_host):
    operations = S3Operations(S3_MODEL)
    for name in S3_MODEL.operation_names:
        found = operations.identify(*sent(name, virtual_host), REGION)
        assert (found.name if found else None) == S3_ALIASES.get(name, name), name


@pytest.mark.parametrize("method, host, target, headers, action, resource", [
    ("GET", "b.s3.amazonaws.com", "/dir/k%20x.txt", {}, "s3:GetObject", "arn:aws:s3:::b/dir/k x.txt"),
    ("GET", "b.s3.amazonaws.com", "/k?versionId=3", {}, "s3:GetObjectVersion", "arn:aws:s3:::b/k"),
    ("HEAD", "s3.us-east-1.amazonaws.com", "/b/k", {}, "s3:GetObject", "arn:aws:s3:::b/k"),
    ("GET", "b.s3.us-east-1.amazonaws.com", "/?list-type=2&prefix=a", {}, "s3:ListBucket", "arn:aws:s3:::b"),
    ("HEAD", "b.s3.amazonaws.com", "/", {}, "s3:ListBucket", "arn:aws:s3:::b"),
    ("GET", "s3.us-east-1.amazonaws.com", "/", {}, "s3:ListAllMyBuckets", "*"),
    ("PUT", "b.s3.amazonaws.com", "/k?partNumber=1&uploadId=u", {}, "s3:PutObject", "arn:aws:s3:::b/k"),
    ("PUT", "b.s3.amazonaws.com", "/k", {"x-amz-copy-source": "a/b"}, "s3:PutObject", "arn:aws:s3:::b/k"),
    ("POST", "b.s3.amazonaws.com", "/?delete", {}, "s3:DeleteObject", "arn:aws:s3:::b"),
    ("GET", "bucket.vpce-0a1b2c3d4e5f60718-abcdefgh.s3.us-east-1.vpce.amazonaws.com", "/b/k", {}, "s3:GetObject",
     "arn:aws:s3:::b/k"),
    ("GET", "b.bucket.vpce-0a1b2c3d4e5f60718-abcdefgh.s3.us-east-1.vpce.amazonaws.com", "/k", {}, "s3:GetObject",
     "arn:aws:s3:::b/k"),
])
def test_s3_requests_ask_for_their_iam_action_on_their_resource(method, host, target, headers, action, resource):
    found = S3Operations(S3_MODEL).identify(method, host, target, headers, REGION)
    assert found is not None and (found.action, found.resources) == (action, (resource,))


def test_dynamodb_requests_name_their_operation_and_tables():
    operations = DynamoDbOperations()
    found = operations.identify("DynamoDB_20120810.GetItem", b'{"TableName": "orders"}', REGION, "111122223333")
    assert found == Operation("dynamodb", "GetItem", "dynamodb:GetItem",
                              ("arn:aws:dynamodb:us-east-1:111122223333:table/orders",))
    batch = json.dumps({"RequestItems": {"a": {}, "arn:aws:dynamodb:us-east-1:444455556666:table/b": {}}}).encode()
    found = operations.identify("DynamoDB_20120810.BatchGetItem", batch, REGION, "111122223333")
    assert found is not None and found.resources == ("arn:aws:dynamodb:us-east-1:111122223333:table/a",
                                                     "arn:aws:dynamodb:us-east-1:444455556666:table/b")
    found = operations.identify("DynamoDB_20120810.ListTables", b"{}", REGION, "111122223333")
    assert found is not None and found.resources == ("*",)
    assert operations.identify("DynamoDB_20120810.NoSuchThing", b"{}", REGION, "111122223333") is None
    assert operations.identify("Other_20120810.GetItem", b"{}", REGION, "111122223333") is None


def test_an_endpoint_policy_denies_in_iams_words():
    view = VpcView("vpc-1", "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-1", "111122223333", REGION, "", "")
    get = Operation("s3", "GetObject", "s3:GetObject", ("arn:aws:s3:::b/k",))
    caller = Credential("AKID", "secret", "111122223333", user="alice")
    allow_b = policy({"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "s3:*",
                      "Resource": "arn:aws:s3:::b/*"})
    endpoint = AwsEndpoint("vpce-1", "s3", "Gateway", allow_b)
    assert denial(view, endpoint, get, caller) is None
    assert denial(view, endpoint, get, None) == (
        'User: anonymous is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::b/k" because no '
        "VPC endpoint policy allows the s3:GetObject action")
    other = Operation("s3", "GetObject", "s3:GetObject", ("arn:aws:s3:::c/k",))
    assert denial(view, endpoint, other, caller).startswith("User: arn:aws:iam::111122223333:user/alice is not")
    assert denial(view, None, other, caller) is None  # the public path: no endpoint, no policy
    vpc_only = policy({"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*",
                       "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-2"}}})
    assert denial(view, AwsEndpoint("vpce-1", "s3", "Gateway", vpc_only), get, caller).endswith(
        "with an explicit deny in a VPC endpoint policy")


# -- configuration ------------------------------------------------------------------------------------

def test_upstreams_come_from_the_config_file_and_the_command_line(tmp_path):
    config = tmp_path / "accounts.toml"
    config.write_text('[aws_upstreams]\ns3 = "http://127.0.0.1:5000"\ndynamodb = "https://ddb.example:8443"\n')
    assert load_aws_upstreams(config, ["s3=http://127.0.0.1:9000"]) == {
        "s3": "http://127.0.0.1:9000", "dynamodb": "https://ddb.example:8443"}
    assert load_aws_upstreams(None, []) == {}
    for bad in ("s3", "s3=ftp://127.0.0.1:21", "s3=http://", "S3=http://127.0.0.1:1", "s3=http://h:1/path"):
        with pytest.raises(ConfigError):
            load_aws_upstreams(None, [bad])
    config.write_text('aws_upstreams = "s3"\n')
    with pytest.raises(ConfigError, match="must be a table"):
        load_aws_upstreams(config, [])


def test_up_refuses_a_malformed_upstream_before_starting(tmp_path):
    result = CliRunner().invoke(main, ["up", "--state", str(tmp_path / "state.db"), "--aws-upstream", "s3"])
    assert result.exit_code == 2 and "expected SERVICE=URL" in result.output


@needs_root
def test_an_s3_interface_endpoint_with_private_dns_carries_the_regional_names(aws_server, buckets):
    """In us-east-1 the SDK's default S3 name is the global one, which an interface endpoint's private DNS does
    not cover (as in AWS): the client asks for the regional endpoint."""
    ec2 = client(aws_server, "ec2", 1)
    vpc, subnets = make_vpc(ec2, "10.44.0.0/16", zones=("a",))
    endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName=S3, VpcEndpointType="Interface", SubnetIds=subnets,
                                       PolicyDocument=allow_buckets(OTHER))["VpcEndpoint"]
    names = vpc_info(aws_server, vpc)["privateNames"]
    assert names[f"*.s3.{REGION}.amazonaws.com"] == names[f"s3.{REGION}.amazonaws.com"] != []
    assert "*.s3.amazonaws.com" not in names
    found = in_vpc(aws_server, vpc, READ_BUCKETS, ALLOWED, OTHER, n=1, AWS_S3_US_EAST_1_REGIONAL_ENDPOINT="regional")
    assert found[OTHER] == ["ok", f"hello from {OTHER}", 200]
    assert found[ALLOWED][0] == "AccessDenied"
    assert found[ALLOWED][1].startswith(f"User: arn:aws:iam::{account_id(1)}:root is not authorized")

    # The endpoint's own regional name as the endpoint URL, as S3's guide has it: bucket.vpce-....amazonaws.com
    # (the SDK then sends path-style requests there).
    regional = endpoint["DnsEntries"][0]["DnsName"].replace("*.", "bucket.", 1)
    found = in_vpc(aws_server, vpc, READ_BUCKETS, ALLOWED, OTHER, n=1, AWS_ENDPOINT_URL_S3=f"https://{regional}")
    assert found[ALLOWED][:1] == ["AccessDenied"] and f'"arn:aws:s3:::{ALLOWED}/hello.txt"' in found[ALLOWED][1]
    # Let through: moto reads a bucket from any name holding ".s3." and answers for a bucket "bucket" (S3
    # itself serves these names); the answer is the upstream's, not the endpoint's.
    assert found[OTHER][:1] == ["NoSuchBucket"]


def test_a_presigned_url_names_its_caller():
    identities = Identities.from_accounts({"accounts": {"111122223333": "a"}, "credentials": [
        ["AKIDPRESIGN", "secret", "111122223333", None, "bob"]], "quotas": {}, "organizations": [],
        "memberships": {}})
    snapshot = Snapshot(revision=1, identities=identities)
    for version in ("s3", "s3v4"):  # the SDK's default in us-east-1 (signature version 2), and SigV4
        s3 = boto3.client("s3", region_name=REGION, aws_access_key_id="AKIDPRESIGN", aws_secret_access_key="secret",
                          config=botocore.config.Config(signature_version=version))
        url = urllib.parse.urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}))
        found = credential_of(snapshot, {"host": url.hostname or ""}, url.query)
        assert found is not None and found.principal_arn == "arn:aws:iam::111122223333:user/bob", version
    found = credential_of(snapshot, {"authorization": "AWS AKIDPRESIGN:c2lnbmF0dXJl"}, "")
    assert found is not None and found.account_id == "111122223333"
    assert credential_of(snapshot, {"host": url.hostname}, "") is None  # unsigned: anonymous
    assert credential_of(snapshot, {"authorization": "AWS4-HMAC-SHA256 Credential=AKIDNOBODY/20260101/"
                                    "us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"}, "") is None
