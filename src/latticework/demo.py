"""``latticework demo``: the classic Lattice example, built and exercised end to end.

1. Uses the server at ``--endpoint`` if one answers, else starts one (a
   temporary state file, a free fabric range unless ``--fabric`` names one) and stops it afterwards.
2. Starts three target processes (``latticework.targets.echo``): two "blue",
   one "green".
3. Through the APIs, as any client would (botocore, account ``test``):
   two VPCs (a client VPC and a provider VPC), a service network, a
   ``payment`` service with an HTTPS listener (443 as root, else 8443), a
   blue and a green target group with health checks, a default action that
   splits 80/20 blue/green, and rules: ``/v2*`` -> green, header
   ``x-canary: true`` -> green, ``POST /refunds`` -> fixed 404. The service and
   the client VPC join the network; the provider VPC does not.
4. Waits for health checks to pass, then, as a client in the client VPC
   (names through its resolver, TLS trusting the local CA), sends traffic and
   prints the distribution per target and target group, where each rule
   sent its request, and the headers a target received. It shows that the
   provider VPC cannot resolve the service.
5. Deletes what it created (``--keep`` leaves it) and stops the targets.
"""

from __future__ import annotations

import collections
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import botocore.session

from latticework.ownpaths_client import ServerError, ca_pem, fetch, vpc_info
from latticework.vpcclient import NameNotFound, VpcClient

READY = re.compile(r"ready (\S+) on ([\d.]+):(\d+)")
SERVER_READY = re.compile(r"Latticework ready on (http://[\d.]+:\d+)")
REGION = "us-east-1"


def say(text: str = "") -> None:
    print(text, flush=True)


# -- processes -----------------------------------------------------------------------------

def _wait_line(process: subprocess.Popen, pattern: re.Pattern, what: str) -> re.Match:
    lines = []
    assert process.stdout is not None  # started with stdout=PIPE
    for line in process.stdout:
        lines.append(line)
        found = pattern.search(line)
        if found:
            return found
    raise RuntimeError(f"{what} did not start:\n" + "".join(lines))


def start_target(name: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, "-m", "latticework.targets.echo", "--port", "0", "--name", name],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, int(_wait_line(process, READY, f"target {name}").group(3))


def start_server(state_dir: Path, fabric: str | None) -> tuple[subprocess.Popen, str]:
    dns_port = "53" if os.geteuid() == 0 else "10053"  # resolvers answer there; without root 53 is out of reach
    process = subprocess.Popen([sys.executable, "-m", "latticework", "up", "--port", "0", "--state",
                                str(state_dir / "state.db"), *(["--fabric", fabric] if fabric else []),
                                "--dns-port", dns_port],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, _wait_line(process, SERVER_READY, "the server").group(1)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _answers(endpoint: str) -> bool:
    try:
        fetch(endpoint, "/_latticework/health")
        return True
    except ServerError:
        return False


# -- the topology ------------------------------------------------------------------------------

class Demo:
    def __init__(self, endpoint: str, listener_port: int):
        session = botocore.session.get_session()
        make = lambda service: session.create_client(service, region_name=REGION, endpoint_url=endpoint,
                                                     aws_access_key_id="test", aws_secret_access_key="test")
        self.endpoint = endpoint
        # botocore makes a client's operation methods from the model at run time: no static type has them.
        self.lattice: Any = make("vpc-lattice")
        self.ec2: Any = make("ec2")
        self.port = listener_port
        self.suffix = secrets.token_hex(3)
        self.undo: list = []

    def build(self, ports: dict[str, int]) -> dict:
        client_vpc = self._vpc("10.0.0.0/16")
        provider_vpc = self._vpc("10.1.0.0/16")
        sn = self._create(self.lattice.create_service_network, "service_network", "serviceNetworkIdentifier",
                          name=f"payments-net-{self.suffix}")
        svc = self._create(self.lattice.create_service, "service", "serviceIdentifier", name=f"payment-{self.suffix}")
        blue = self._group("blue", provider_vpc, [ports["blue-1"], ports["blue-2"]])
        green = self._group("green", provider_vpc, [ports["green-1"]])
        self._listener(svc["id"], blue, green)
        self._associate(sn["id"], svc["id"], client_vpc)
        return {"client_vpc": client_vpc, "provider_vpc": provider_vpc, "service": svc, "blue": blue, "green": green}

    def _vpc(self, cidr: str) -> str:
        vpc_id = self.ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
        self.undo.append(lambda: self.ec2.delete_vpc(VpcId=vpc_id))
        return vpc_id

    def _create(self, call, kind: str, identifier: str, **params) -> dict:
        created = call(**params)
        delete = getattr(self.lattice, f"delete_{kind}")
        self.undo.append(lambda: delete(**{identifier: created["id"]}))
        return created

    def _group(self, color: str, vpc_id: str, ports: list[int]) -> str:
        config = {"port": 80, "protocol": "HTTP", "vpcIdentifier": vpc_id,
                  "healthCheck": {"enabled": True, "path": "/health", "healthCheckIntervalSeconds": 5,
                                  "healthyThresholdCount": 2, "unhealthyThresholdCount": 2}}
        tg = self._create(self.lattice.create_target_group, "target_group", "targetGroupIdentifier",
                          name=f"payment-{color}-{self.suffix}", type="IP", config=config)
        targets = [{"id": "127.0.0.1", "port": p} for p in ports]
        self.lattice.register_targets(targetGroupIdentifier=tg["id"], targets=targets)
        self.undo.append(lambda: self.lattice.deregister_targets(targetGroupIdentifier=tg["id"], targets=targets))
        return tg["id"]

    def _listener(self, svc: str, blue: str, green: str) -> None:
        split = {"forward": {"targetGroups": [{"targetGroupIdentifier": blue, "weight": 80},
                                              {"targetGroupIdentifier": green, "weight": 20}]}}
        only_green = {"forward": {"targetGroups": [{"targetGroupIdentifier": green, "weight": 100}]}}
        listener = self.lattice.create_listener(serviceIdentifier=svc, name="https", protocol="HTTPS", port=self.port,
                                                defaultAction=split)
        self.undo.append(lambda: self.lattice.delete_listener(serviceIdentifier=svc,
                                                              listenerIdentifier=listener["id"]))
        rules = [("v2-to-green", 10, {"pathMatch": {"match": {"prefix": "/v2"}}}, only_green),
                 ("canary-to-green", 20, {"headerMatches": [{"name": "x-canary", "match": {"exact": "true"}}]},
                  only_green),
                 ("no-refunds", 30, {"method": "POST", "pathMatch": {"match": {"exact": "/refunds"}}},
                  {"fixedResponse": {"statusCode": 404}})]
        for name, priority, match, action in rules:
            self.lattice.create_rule(serviceIdentifier=svc, listenerIdentifier=listener["id"], name=name,
                                     priority=priority, match={"httpMatch": match}, action=action)

    def _associate(self, sn: str, svc: str, vpc_id: str) -> None:
        snsa = self.lattice.create_service_network_service_association(serviceNetworkIdentifier=sn,
                                                                      serviceIdentifier=svc)
        self.undo.append(lambda: self.lattice.delete_service_network_service_association(
            serviceNetworkServiceAssociationIdentifier=snsa["id"]))
        snva = self.lattice.create_service_network_vpc_association(serviceNetworkIdentifier=sn, vpcIdentifier=vpc_id)
        self.undo.append(lambda: self.lattice.delete_service_network_vpc_association(
            serviceNetworkVpcAssociationIdentifier=snva["id"]))

    def wait_healthy(self, groups: list[str], timeout: float = 30) -> dict[str, list[dict]]:
        deadline = time.monotonic() + timeout
        while True:
            states = {g: self.lattice.list_targets(targetGroupIdentifier=g)["items"] for g in groups}
            if all(t["status"] == "HEALTHY" for items in states.values() for t in items) \
                    or time.monotonic() > deadline:
                return states
            time.sleep(0.5)  # polling the API, as a user would; the answer is what counts

    def tear_down(self) -> None:
        for step in reversed(self.undo):
            try:
                step()
            except Exception as exc:  # keep going: leave as little behind as possible
                say(f"  (clean-up step failed: {exc})")


# -- traffic ---------------------------------------------------------------------------------------

def traffic(client: VpcClient, base: str, count: int) -> collections.Counter:
    seen: collections.Counter[str] = collections.Counter()
    for _ in range(count):
        seen[client.get(f"{base}/pay").json()["target"]] += 1
    return seen


def report(demo: Demo, built: dict, count: int) -> None:
    name = built["service"]["dnsEntry"]["domainName"]
    base = f"https://{name}" + ("" if demo.port == 443 else f":{demo.port}")
    info = vpc_info(demo.endpoint, built["client_vpc"])
    client = VpcClient(info, ca=ca_pem(demo.endpoint))
    say(f"\nClient VPC {built['client_vpc']}: resolver {info.resolver}, {name} -> {client.resolve(name)}")
    try:
        VpcClient(vpc_info(demo.endpoint, built["provider_vpc"])).resolve(name)
        say(f"Provider VPC {built['provider_vpc']}: resolved the name (unexpected)")
    except NameNotFound as exc:
        say(f"Provider VPC {built['provider_vpc']} (not associated): {exc}")
    seen = traffic(client, base, count)
    say(f"\n{count} requests to {base}/pay (default action: blue 80 / green 20):")
    for target, hits in sorted(seen.items()):
        say(f"  {target:10s} {hits:5d}  {100 * hits / count:5.1f}%")
    green = sum(h for t, h in seen.items() if t.startswith("green"))
    say(f"  blue {100 * (count - green) / count:.1f}% / green {100 * green / count:.1f}%")
    say("\nRules:")
    for label, method, path, headers in [("GET /v2/pay", "GET", "/v2/pay", {}),
                                         ("GET /pay  x-canary: true", "GET", "/pay", {"x-canary": "true"}),
                                         ("POST /refunds", "POST", "/refunds", {})]:
        answer = client.request(method, base + path, headers=headers)
        where = answer.json()["target"] if answer.status == 200 else f"fixed response {answer.status}"
        say(f"  {label:28s} -> {where}")
    echoed = client.get(base + "/pay", headers={"x-amzn-lattice-identity": "spoofed"}).json()
    say(f"\nHeaders {echoed['target']} received (a spoofed x-amzn-lattice-identity was stripped):")
    for header, value in echoed["headers"]:
        say(f"  {header}: {value}")
    client.close()


def run(endpoint: str, count: int, keep: bool, fabric: str | None = None) -> int:
    port = 443 if os.geteuid() == 0 else 8443
    with ExitStack() as stack:
        if not _answers(endpoint):
            state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="latticework-demo-")))
            server, endpoint = start_server(state, fabric)
            stack.callback(_stop, server)
            say(f"Started a server for the demo on {endpoint} (state in {state})")
        targets = {}
        for name in ("blue-1", "blue-2", "green-1"):
            process, target_port = start_target(name)
            stack.callback(_stop, process)
            targets[name] = target_port
        say("Targets: " + ", ".join(f"{n} on 127.0.0.1:{p}" for n, p in targets.items()))
        demo = Demo(endpoint, port)
        if not keep:
            stack.callback(demo.tear_down)
        built = demo.build(targets)
        say(f"Service {built['service']['id']} ({built['service']['dnsEntry']['domainName']}), HTTPS listener on {port}")
        states = demo.wait_healthy([built["blue"], built["green"]])
        for group, items in states.items():
            say(f"  {group}: " + ", ".join(f"{t['id']}:{t['port']} {t['status']}" for t in items))
        report(demo, built, count)
    return 0
