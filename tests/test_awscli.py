"""The aws CLI (v1) against Latticework: every vpc-lattice operation, and the README's walkthrough.

``test_every_operation_through_the_cli`` drives a realistic topology through the CLI, in the order a user
would build and tear it down. The CLI runs in-process (``awscli.clidriver``), which makes each call a few
milliseconds instead of a fresh interpreter; a botocore ``before-call`` hook on the CLI's own session records
the operation every command sent, so coverage is proven against the model's operation list, not a hand list.

``test_readme_walkthrough`` runs the README's "Five-minute walkthrough" block verbatim with bash and the
installed ``aws`` script, only re-pointed at the test server and a fresh test account.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from awscli_inproc import Cli, isolate
from conftest import access_key, secret_key
from latticework.api.models import service_model

README = Path(__file__).resolve().parent.parent / "README.md"
HTTP_404 = {"fixedResponse": {"statusCode": 404}}
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "vpc-lattice-svcs:Invoke", "Resource": "*"}]})


class LatticeCli(Cli):
    """The in-process CLI, speaking ``vpc-lattice``."""

    def __call__(self, command: str, *args) -> dict:
        return self.call("vpc-lattice", command, *args)

    def fails(self, code: str, command: str, *args) -> str:
        return super().fails(code, "vpc-lattice", command, *args)


@pytest.fixture
def cli(clients, monkeypatch, tmp_path) -> LatticeCli:
    """A CLI authenticated as the test's own account, blind to any user-level aws config."""
    isolate(monkeypatch, tmp_path, clients.n, "us-east-1")
    return LatticeCli(clients.server.url)


# -- every operation, in a realistic order -------------------------------------------------------

class Topology:
    """Builds, inspects, changes and tears down one of everything through the CLI.

    The VPC, subnet and security groups it references come from ``network`` (made through EC2 with boto3).
    """

    def __init__(self, cli: Cli, account: str, network):
        self.cli, self.account = cli, account
        self.vpc, self.subnet = network.vpc_id, network.subnet_ids[0]
        self.sg1, self.sg2 = network.sg_ids
        self.ids: dict[str, str] = {}
        self.arns: dict[str, str] = {}

    def keep(self, key: str, created: dict, prefix: str) -> dict:
        assert created["id"].startswith(prefix), created
        assert created["arn"].startswith(f"arn:aws:vpc-lattice:us-east-1:{self.account}:"), created
        self.ids[key], self.arns[key] = created["id"], created["arn"]
        return created

    def service_ids(self) -> tuple[str, ...]:
        return "--service-identifier", self.ids["svc"], "--listener-identifier", self.ids["listener"]

    # build

    def network_and_service(self):
        sn = self.keep("sn", self.cli("create-service-network", "--name", "payments-net", "--auth-type", "AWS_IAM",
                                      "--sharing-config", "enabled=true", "--tags", {"env": "test"}), "sn-")
        assert (sn["name"], sn["authType"], sn["sharingConfig"]) == ("payments-net", "AWS_IAM", {"enabled": True})
        svc = self.keep("svc", self.cli("create-service", "--name", "payments", "--auth-type", "NONE"), "svc-")
        assert svc["status"] == "CREATE_IN_PROGRESS" and svc["dnsEntry"]["domainName"].startswith("payments-")

    def target_groups(self):
        config = {"port": 8080, "protocol": "HTTP", "vpcIdentifier": self.vpc}
        for colour in ("blue", "green"):
            tg = self.keep(colour, self.cli("create-target-group", "--name", f"payments-{colour}", "--type", "IP",
                                            "--config", config), "tg-")
            assert (tg["type"], tg["status"], tg["config"]["port"]) == ("IP", "CREATE_IN_PROGRESS", 8080)

    def listener_and_rules(self):
        action = {"forward": {"targetGroups": [{"targetGroupIdentifier": self.ids["blue"]}]}}
        listener = self.keep("listener", self.cli(
            "create-listener", "--service-identifier", self.ids["svc"], "--name", "http", "--protocol", "HTTP",
            "--default-action", action), "listener-")
        assert (listener["port"], listener["serviceId"]) == (80, self.ids["svc"])
        for key, priority, prefix in (("v2", 10, "/v2"), ("v3", 20, "/v3")):
            rule = self.keep(key, self.cli("create-rule", *self.service_ids(), "--name", f"api-{key}", "--priority",
                                           priority, "--match", _path(prefix), "--action", HTTP_404), "rule-")
            path = rule["match"]["httpMatch"]["pathMatch"]["match"]
            assert (rule["priority"], path) == (priority, {"prefix": prefix})

    def batch_update(self):
        result = self.cli("batch-update-rule", *self.service_ids(), "--rules", [
            {"ruleIdentifier": self.ids["v2"], "priority": 30},
            {"ruleIdentifier": self.arns["v3"], "action": _forward(self.ids["blue"], self.ids["green"])}])
        assert result["unsuccessful"] == []
        assert {r["id"]: r["priority"] for r in result["successful"]} == {self.ids["v2"]: 30, self.ids["v3"]: 20}

    def targets(self):
        result = self.cli("register-targets", "--target-group-identifier", self.ids["blue"],
                          "--targets", "id=10.0.0.1,port=8081", "id=10.0.0.2")
        assert result["unsuccessful"] == []
        assert {(t["id"], t["port"]) for t in result["successful"]} == {("10.0.0.1", 8081), ("10.0.0.2", 8080)}

    def associations(self):
        snsa = self.keep("snsa", self.cli("create-service-network-service-association", "--service-identifier",
                                          self.ids["svc"], "--service-network-identifier", self.ids["sn"]), "snsa-")
        assert (snsa["status"], snsa["createdBy"]) == ("CREATE_IN_PROGRESS", self.account)
        snva = self.keep("snva", self.cli("create-service-network-vpc-association", "--service-network-identifier",
                                          self.arns["sn"], "--vpc-identifier", self.vpc,
                                          "--security-group-ids", self.sg1), "snva-")
        assert (snva["status"], snva["securityGroupIds"]) == ("CREATE_IN_PROGRESS", [self.sg1])

    def domain_verification(self):
        dv = self.keep("dv", self.cli("start-domain-verification", "--domain-name", "example.com"), "dv-")
        assert (dv["domainName"], dv["status"]) == ("example.com", "PENDING")
        assert dv["txtMethodConfig"]["name"] and dv["txtMethodConfig"]["value"]

    def resource_gateway_and_configuration(self):
        gw = self.keep("gw", self.cli("create-resource-gateway", "--name", "db-gateway", "--vpc-identifier", self.vpc,
                                      "--subnet-ids", self.subnet, "--security-group-ids", self.sg1), "rgw-")
        assert (gw["status"], gw["subnetIds"]) == ("CREATE_IN_PROGRESS", [self.subnet])
        rc = self.keep("rc", self.cli(
            "create-resource-configuration", "--name", "database", "--type", "SINGLE", "--port-ranges", "5432",
            "--resource-gateway-identifier", self.ids["gw"], "--custom-domain-name", "db.example.com",
            "--domain-verification-identifier", self.ids["dv"], "--allow-association-to-shareable-service-network",
            "--resource-configuration-definition", {"ipResource": {"ipAddress": "10.0.0.5"}}), "rcfg-")
        assert (rc["status"], rc["resourceGatewayId"], rc["domainVerificationId"]) == (
            "CREATE_IN_PROGRESS", self.ids["gw"], self.ids["dv"])
        snra = self.keep("snra", self.cli("create-service-network-resource-association",
                                          "--service-network-identifier", self.ids["sn"],
                                          "--resource-configuration-identifier", self.arns["rc"]), "snra-")
        assert snra["status"] == "CREATE_IN_PROGRESS"

    def policies(self):
        auth = self.cli("put-auth-policy", "--resource-identifier", self.ids["sn"], "--policy", ALLOW_ALL)
        assert (json.loads(auth["policy"]), auth["state"]) == (json.loads(ALLOW_ALL), "Active")
        assert self.cli("put-resource-policy", "--resource-arn", self.arns["sn"],
                        "--policy", self.resource_policy()) == {}

    def resource_policy(self) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root"]},
            "Action": ["vpc-lattice:CreateServiceNetworkVpcAssociation", "vpc-lattice:GetServiceNetwork"],
            "Resource": self.arns["sn"]}]})

    def access_logs(self):
        als = self.keep("als", self.cli("create-access-log-subscription", "--resource-identifier", self.ids["svc"],
                                        "--destination-arn", self.log_group("lattice")), "als-")
        assert (als["resourceId"], als["destinationArn"]) == (self.ids["svc"], self.log_group("lattice") + ":*")

    def log_group(self, name: str) -> str:
        return f"arn:aws:logs:us-east-1:{self.account}:log-group:{name}"

    def tags(self):
        assert self.cli("tag-resource", "--resource-arn", self.arns["svc"], "--tags", "team=pay,tier=1") == {}
        assert self.cli("untag-resource", "--resource-arn", self.arns["svc"], "--tag-keys", "tier") == {}
        assert self.cli("list-tags-for-resource", "--resource-arn", self.arns["svc"])["tags"] == {"team": "pay"}
        assert self.cli("list-tags-for-resource", "--resource-arn", self.arns["sn"])["tags"] == {"env": "test"}

    # inspect

    def lists(self):
        listed = lambda command, *args: [i["id"] for i in self.cli(command, *args)["items"]]
        assert listed("list-service-networks") == [self.ids["sn"]]
        assert listed("list-services") == [self.ids["svc"]]
        assert sorted(listed("list-target-groups")) == sorted([self.ids["blue"], self.ids["green"]])
        assert listed("list-listeners", "--service-identifier", self.ids["svc"]) == [self.ids["listener"]]
        rules = self.cli("list-rules", *self.service_ids())["items"]
        assert {r["id"] for r in rules if not r["isDefault"]} == {self.ids["v2"], self.ids["v3"]}
        targets = self.cli("list-targets", "--target-group-identifier", self.ids["blue"])["items"]
        assert {t["id"] for t in targets} == {"10.0.0.1", "10.0.0.2"}
        self.association_lists(listed)
        self.resource_lists(listed)

    def association_lists(self, listed):
        sn = ("--service-network-identifier", self.ids["sn"])
        assert listed("list-service-network-service-associations", *sn) == [self.ids["snsa"]]
        assert listed("list-service-network-vpc-associations", *sn) == [self.ids["snva"]]
        assert listed("list-service-network-resource-associations", *sn) == [self.ids["snra"]]
        # Endpoint associations are written by the EC2 VPC-endpoint API, which does not exist yet.
        assert listed("list-service-network-vpc-endpoint-associations", *sn) == []
        assert listed("list-resource-endpoint-associations", "--resource-configuration-identifier",
                      self.ids["rc"]) == []

    def resource_lists(self, listed):
        assert listed("list-resource-gateways") == [self.ids["gw"]]
        assert listed("list-resource-configurations", "--resource-gateway-identifier", self.ids["gw"]) == [
            self.ids["rc"]]
        assert listed("list-domain-verifications") == [self.ids["dv"]]
        assert listed("list-access-log-subscriptions", "--resource-identifier", self.arns["svc"]) == [
            self.ids["als"]]

    def gets(self):
        got = lambda command, flag, key: self.cli(command, flag, self.ids[key])
        sn = got("get-service-network", "--service-network-identifier", "sn")
        assert (sn["numberOfAssociatedServices"], sn["numberOfAssociatedVPCs"]) == (1, 1)
        assert got("get-service", "--service-identifier", "svc")["status"] == "ACTIVE"
        assert got("get-target-group", "--target-group-identifier", "blue")["serviceArns"] == [self.arns["svc"]]
        listener = self.cli("get-listener", "--service-identifier", self.ids["svc"],
                            "--listener-identifier", self.ids["listener"])
        assert listener["defaultAction"] == _forward(self.ids["blue"])
        rule = self.cli("get-rule", *self.service_ids(), "--rule-identifier", self.ids["v2"])
        assert (rule["priority"], rule["isDefault"]) == (30, False)
        self.association_gets(got)
        self.resource_gets(got)

    def association_gets(self, got):
        for command, flag, key in (
                ("get-service-network-service-association", "--service-network-service-association-identifier",
                 "snsa"),
                ("get-service-network-vpc-association", "--service-network-vpc-association-identifier", "snva"),
                ("get-service-network-resource-association",
                 "--service-network-resource-association-identifier", "snra")):
            answer = got(command, flag, key)
            assert (answer["status"], answer["serviceNetworkId"]) == ("ACTIVE", self.ids["sn"]), answer

    def resource_gets(self, got):
        gw = got("get-resource-gateway", "--resource-gateway-identifier", "gw")
        assert (gw["status"], gw["vpcId"]) == ("ACTIVE", self.vpc)
        rc = got("get-resource-configuration", "--resource-configuration-identifier", "rc")
        assert (rc["status"], rc["domainVerificationStatus"]) == ("ACTIVE", "PENDING")
        dv = got("get-domain-verification", "--domain-verification-identifier", "dv")
        assert (dv["domainName"], dv["status"]) == ("example.com", "PENDING")
        als = got("get-access-log-subscription", "--access-log-subscription-identifier", "als")
        assert als["resourceArn"] == self.arns["svc"]
        auth = self.cli("get-auth-policy", "--resource-identifier", self.arns["sn"])
        assert auth["state"] == "Active" and json.loads(auth["policy"]) == json.loads(ALLOW_ALL)
        policy = self.cli("get-resource-policy", "--resource-arn", self.arns["sn"])["policy"]
        assert json.loads(policy) == json.loads(self.resource_policy())

    # change

    def updates(self):
        sn = self.cli("update-service-network", "--service-network-identifier", self.ids["sn"],
                      "--auth-type", "NONE")
        assert (sn["id"], sn["authType"]) == (self.ids["sn"], "NONE")
        svc = self.cli("update-service", "--service-identifier", self.ids["svc"], "--idle-timeout-seconds", 120)
        assert svc["idleTimeoutSeconds"] == 120
        tg = self.cli("update-target-group", "--target-group-identifier", self.ids["green"],
                      "--health-check", {"enabled": True, "path": "/healthz", "healthyThresholdCount": 3})
        assert (tg["config"]["healthCheck"]["path"], tg["config"]["healthCheck"]["healthyThresholdCount"]) == (
            "/healthz", 3)
        listener = self.cli("update-listener", *self.service_ids(), "--default-action", HTTP_404)
        assert listener["defaultAction"] == HTTP_404
        rule = self.cli("update-rule", *self.service_ids(), "--rule-identifier", self.ids["v2"], "--priority", 5)
        assert (rule["id"], rule["priority"]) == (self.ids["v2"], 5)
        self.association_and_resource_updates()

    def association_and_resource_updates(self):
        snva = self.cli("update-service-network-vpc-association", "--service-network-vpc-association-identifier",
                        self.ids["snva"], "--security-group-ids", self.sg1, self.sg2)
        assert sorted(snva["securityGroupIds"]) == sorted([self.sg1, self.sg2])
        gw = self.cli("update-resource-gateway", "--resource-gateway-identifier", self.ids["gw"],
                      "--security-group-ids", self.sg2)
        assert (gw["id"], gw["securityGroupIds"]) == (self.ids["gw"], [self.sg2])
        rc = self.cli("update-resource-configuration", "--resource-configuration-identifier", self.ids["rc"],
                      "--port-ranges", "5432-5433")
        assert rc["portRanges"] == ["5432-5433"]
        als = self.cli("update-access-log-subscription", "--access-log-subscription-identifier", self.ids["als"],
                       "--destination-arn", self.log_group("lattice-v2"))
        assert als["destinationArn"] == self.log_group("lattice-v2") + ":*"
        targets = self.cli("deregister-targets", "--target-group-identifier", self.ids["blue"],
                           "--targets", "id=10.0.0.2")
        assert [t["id"] for t in targets["successful"]] == ["10.0.0.2"] and targets["unsuccessful"] == []

    # tear down, children before parents

    def deletes(self):
        self.cli.fails("ResourceNotFoundException", "delete-resource-endpoint-association",
                       "--resource-endpoint-association-identifier", "rea-0123456789abcdef0")
        self.delete_attachments()
        self.delete_associations()
        self.delete_routing()
        self.delete_resources()
        assert self.cli("delete-service-network", "--service-network-identifier", self.ids["sn"]) == {}
        self.cli.fails("ResourceNotFoundException", "get-service-network",
                       "--service-network-identifier", self.ids["sn"])

    def delete_attachments(self):
        assert self.cli("delete-access-log-subscription", "--access-log-subscription-identifier",
                        self.ids["als"]) == {}
        assert self.cli("delete-resource-policy", "--resource-arn", self.arns["sn"]) == {}
        assert self.cli("delete-auth-policy", "--resource-identifier", self.ids["sn"]) == {}
        self.cli.fails("ResourceNotFoundException", "get-access-log-subscription",
                       "--access-log-subscription-identifier", self.ids["als"])

    def delete_associations(self):
        for command, flag, key in (
                ("delete-service-network-service-association",
                 "--service-network-service-association-identifier", "snsa"),
                ("delete-service-network-vpc-association", "--service-network-vpc-association-identifier", "snva"),
                ("delete-service-network-resource-association",
                 "--service-network-resource-association-identifier", "snra")):
            answer = self.cli(command, flag, self.ids[key])
            assert (answer["id"], answer["status"]) == (self.ids[key], "DELETE_IN_PROGRESS"), answer

    def delete_routing(self):
        assert self.cli("delete-rule", *self.service_ids(), "--rule-identifier", self.ids["v3"]) == {}
        assert self.cli("delete-listener", *self.service_ids()) == {}
        for colour in ("blue", "green"):
            answer = self.cli("delete-target-group", "--target-group-identifier", self.ids[colour])
            assert (answer["id"], answer["status"]) == (self.ids[colour], "DELETE_IN_PROGRESS")
        answer = self.cli("delete-service", "--service-identifier", self.ids["svc"])
        assert (answer["id"], answer["status"]) == (self.ids["svc"], "DELETE_IN_PROGRESS")

    def delete_resources(self):
        assert self.cli("delete-resource-configuration", "--resource-configuration-identifier",
                        self.ids["rc"]) == {}
        answer = self.cli("delete-resource-gateway", "--resource-gateway-identifier", self.ids["gw"])
        assert (answer["id"], answer["status"]) == (self.ids["gw"], "DELETE_IN_PROGRESS")
        assert self.cli("delete-domain-verification", "--domain-verification-identifier", self.ids["dv"]) == {}


def _path(prefix: str) -> dict:
    return {"httpMatch": {"pathMatch": {"match": {"prefix": prefix}}}}


def _forward(*target_groups: str) -> dict:
    return {"forward": {"targetGroups": [{"targetGroupIdentifier": t, "weight": 100} for t in target_groups]}}


def test_every_operation_through_the_cli(cli, clients, network):
    topology = Topology(cli, clients.account, network)
    for phase in ("network_and_service", "target_groups", "listener_and_rules", "batch_update", "targets",
                  "associations", "domain_verification", "resource_gateway_and_configuration", "policies",
                  "access_logs", "tags", "lists", "gets", "updates", "deletes"):
        getattr(topology, phase)()
    assert cli.driven.get("vpc-lattice", set()) == set(service_model("vpc-lattice").operation_names)


def test_cli_reports_aws_errors(cli):
    err = cli.fails("ResourceNotFoundException", "get-service", "--service-identifier", "svc-0123456789abcdef0")
    assert "An error occurred (ResourceNotFoundException) when calling the GetService operation" in err
    cli("create-service-network", "--name", "twice")
    cli.fails("ConflictException", "create-service-network", "--name", "twice")
    # The name pattern is not checked by the CLI, so this is the server's answer.
    err = cli.fails("ValidationException", "create-service", "--name", "Not_A_Valid_Name")
    assert "CreateService" in err


# -- the README walkthrough ----------------------------------------------------------------------

def walkthrough_script() -> str:
    """The README's walkthrough block, from its ``export AWS_ACCESS_KEY_ID`` line to the closing fence."""
    section = README.read_text().split("## Five-minute walkthrough", 1)[1]
    start = section.index("export AWS_ACCESS_KEY_ID")
    return section[start:section.index("```", start)]


def for_test_server(script: str, server_url: str, n: int) -> str:
    """Re-point the script at the test server and account; the installed aws script stands in for ``aws``."""
    aws = Path(sys.executable).parent / "aws"
    script, endpoints = re.subn(r"alias lw='aws --endpoint-url http://127\.0\.0\.1:4599'",
                                f"alias lw='{aws} --endpoint-url {server_url}'", script)
    script, keys = re.subn(r"AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test",
                           f"AWS_ACCESS_KEY_ID={access_key(n)} AWS_SECRET_ACCESS_KEY={secret_key(n)}", script)
    assert (endpoints, keys) == (1, 1), "the walkthrough's alias or credentials line changed"
    # Aliases expand in interactive shells only; the reader types these lines into one.
    return "shopt -s expand_aliases\n" + script


def json_documents(text: str) -> list:
    decoder, documents, at = json.JSONDecoder(), [], 0
    while text[at:].strip():
        at += len(text[at:]) - len(text[at:].lstrip())
        document, at = decoder.raw_decode(text, at)
        documents.append(document)
    return documents


def run_walkthrough(clients, tmp_path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"), "AWS_MAX_ATTEMPTS": "1"}
    script = for_test_server(walkthrough_script(), clients.server.url, clients.n)
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)


def test_readme_walkthrough(clients, tmp_path):
    done = run_walkthrough(clients, tmp_path)
    # Only the last command fails: the network still has the service associated.
    assert done.returncode in (254, 255), (done.returncode, done.stdout, done.stderr)
    (error,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert error.startswith("An error occurred (ConflictException) when calling the DeleteServiceNetwork "), error
    identity, service, registered, rule, association, auth, services, targets = json_documents(done.stdout)
    assert identity["Account"] == clients.account
    assert (service["name"], service["status"]) == ("payments", "ACTIVE")
    assert service["dnsEntry"]["domainName"].startswith(f"payments-{service['id'].removeprefix('svc-')}.")
    assert [(t["id"], t["port"]) for t in registered["successful"]] == [("127.0.0.1", 8081)]
    assert (rule["name"].endswith("v2"), rule["priority"], rule["action"]) == (True, 10, HTTP_404)
    assert association["status"] == "CREATE_IN_PROGRESS"
    assert auth["state"] == "Active"
    assert [(s["id"], s["status"]) for s in services["items"]] == [(service["id"], "ACTIVE")]
    assert [(t["id"], t["port"]) for t in targets["items"]] == [("127.0.0.1", 8081)]
    assert_walkthrough_state(clients.lattice, service["id"])


def assert_walkthrough_state(lattice, service_id: str):
    """The failed delete left the network, with its service association and auth policy, in place."""
    (network,) = lattice.list_service_networks()["items"]
    assert (network["name"], network["numberOfAssociatedServices"]) == ("payments-net", 1)
    (assoc,) = lattice.list_service_network_service_associations(serviceNetworkIdentifier=network["id"])["items"]
    assert (assoc["serviceId"], assoc["status"]) == (service_id, "ACTIVE")
    assert lattice.get_auth_policy(resourceIdentifier=network["id"])["state"] == "Active"
    (group,) = lattice.list_target_groups()["items"]
    (listener,) = lattice.list_listeners(serviceIdentifier=service_id)["items"]
    action = lattice.get_listener(serviceIdentifier=service_id, listenerIdentifier=listener["id"])["defaultAction"]
    assert [t["targetGroupIdentifier"] for t in action["forward"]["targetGroups"]] == [group["id"]]


def traffic_script(server_url: str) -> str:
    """The README's traffic block (after the walkthrough), with a readiness wait for its target process."""
    section = README.read_text().split("Continuing the walkthrough above", 1)[1]
    start = section.index("```sh\n") + len("```sh\n")
    script = section[start:section.index("```", start)]
    bin_dir = Path(sys.executable).parent
    server_line = "python -m http.server 8081 --bind 127.0.0.1 &"
    assert server_line in script, "the traffic block's target line changed"
    script = script.replace(server_line, f"{sys.executable} -m http.server 8081 --bind 127.0.0.1 >/dev/null 2>&1 &\n"
                                         "trap 'kill $!' EXIT\n"
                                         "until (exec 3<>/dev/tcp/127.0.0.1/8081) 2>/dev/null; do :; done")
    return script.replace(".venv/bin/latticework", str(bin_dir / "latticework"))


@pytest.mark.skipif(os.geteuid() != 0, reason="listeners on ports 80/443 and resolvers on 53 need root")
def test_readme_traffic_block(clients, tmp_path):
    """The walkthrough, then the README's traffic block, typed into one shell: curl from inside the VPC."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"), "AWS_MAX_ATTEMPTS": "1",
           "LATTICEWORK_ENDPOINT": clients.server.url}
    script = for_test_server(walkthrough_script(), clients.server.url, clients.n) + "\necho '=== traffic'\n" \
        + traffic_script(clients.server.url)
    done = subprocess.run(["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    traffic = done.stdout.split("=== traffic\n", 1)[1]
    decoder, at, created = json.JSONDecoder(), 0, []
    for _ in range(2):  # the listener, then the VPC association
        at += len(traffic[at:]) - len(traffic[at:].lstrip())
        document, at = decoder.raw_decode(traffic, at)
        created.append(document)
    listener, association = created
    assert listener["protocol"] == "HTTPS" and association["status"] == "CREATE_IN_PROGRESS"
    http_page, https_page, tail = traffic[at:].split("</html>\n")
    assert "Directory listing for /" in http_page and "Directory listing for /" in https_page, done.stderr
    status, resolver = tail.split()
    assert status == "404"  # the walkthrough's /v2 rule answers with its fixed response
    assert resolver.endswith(".2")
