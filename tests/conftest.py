"""Shared fixtures: a real Latticework server on an ephemeral port, and boto3 clients.

The server is started once per test process (``latticework up --port 0``)
with an accounts file declaring many accounts; every test gets clients of an
account of its own (``clients``), so tests never see each other's resources,
names or quotas. A few more accounts get low quotas (``LOW_QUOTAS``, through
the accounts file's per-account ``quotas`` table): ``clients_with_quotas``
hands one out, so a test reaches a quota with a handful of creates.
Readiness is the server's ready line, never a sleep.

The data plane serves from worker processes (``--workers``, default the
number of CPUs). Black-box data-plane tests run against a server with one
worker and against one with two: such a module takes ``server_by_workers``
as its ``server`` (see ``tests/test_dataplane.py``). ``LATTICEWORK_TEST_WORKERS=N``
runs every other server of the suite with N workers.

Servers start without ``--fabric``: each leases a free loopback range
host-wide (``latticework.fabric.leases``), so servers of parallel test
processes, of another test run on the same host and a user's own server
never share VPC addresses. A test that needs its server's range reads it
back from the server (``Server.fabric``).

On CI (the ``CI`` environment variable set to anything but empty, ``0``,
``false``, ``no`` or ``off``) a skipped test fails the run: CI runs as root
with terraform and the provider mirror installed, so every test can run
there, and a skip means a lost install step or capability. Each such test is
reported failed with its skip reason, and the summary lists them all. The
hook rewrites the report where it is made, so it works the same in xdist
workers. Outside CI skips stay skips, with their reasons (``-ra``).
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import re
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

# awscrt is a test dependency (the SigV4A signer of test_sigv4a). Installed, it would make every botocore
# client of the suite sign through the CRT; they keep botocore's own signer, the one tests patch
# (botocore.auth.get_current_datetime). test_sigv4a takes the CRT signers by name. Set before botocore loads.
os.environ.setdefault("BOTO_DISABLE_CRT", "true")

import boto3
import botocore.config
import pytest

ACCOUNTS = 1500
# Accounts numbered after the ACCOUNTS ones, each with the quotas below instead of AWS's defaults.
QUOTA_ACCOUNTS = 100
LOW_QUOTAS = {
    "L-9CAD07FB": 2,  # service networks per Region (default 50)
    "L-620C821E": 3,  # services per Region (2,000)
    "L-BB11C6B9": 3,  # target groups per Region (500)
    "L-D71303F3": 3,  # targets per target group (1,000)
    "L-D64E952E": 1,  # listeners per service (2)
    "L-CF78395E": 2,  # rules per listener (10)
    "L-3DEC3B9F": 2,  # target groups per service (10)
    "L-75D4A19E": 2,  # service associations per service network (500)
    "L-EF6E2D62": 2,  # VPC associations per service network (500)
    "L-6095700C": 2,  # resource configurations per service network (500)
    "L-5FF8F9B9": 4,  # resource configurations per Region (2,000); above children + group
    "L-9BC96FEF": 2,  # child resource configurations per group (60)
    "L-0DCA4434": 2,  # resource gateways per VPC (100)
    "L-73D0F278": 2,  # domain verifications per Region (5)
}
READY = re.compile(r"Latticework ready on (http://[\d.]+:\d+)")


def account_id(n: int) -> str:
    return f"{100000000000 + n:012d}"


def access_key(n: int) -> str:
    return f"AKIDTEST{n:06d}"


def secret_key(n: int) -> str:
    return f"secret-{n}"


ORGANIZATION, ORG_ROOT, ORG_UNIT = "o-lwtest0001", "r-lw01", "ou-lw01-teams001"


def write_accounts(path: Path, count: int = ACCOUNTS, quota_accounts: int = 0) -> Path:
    """Accounts 0..count-1 with AWS's quotas, then ``quota_accounts`` more with ``LOW_QUOTAS``; all of them in
    one organization (``ORGANIZATION``, in the unit ``ORG_UNIT``), the default account in none."""
    lines = ["include_default = true", "[[organizations]]", f'id = "{ORGANIZATION}"', f'root = "{ORG_ROOT}"']
    low = ", ".join(f'"{code}" = {value}' for code, value in LOW_QUOTAS.items())
    for n in range(count + quota_accounts):
        lines += ["[[accounts]]", f'id = "{account_id(n)}"', f'name = "test-{n}"',
                  f'organization = "{ORGANIZATION}"', f'ou_path = ["{ORG_UNIT}"]']
        lines += [f"quotas = {{ {low} }}"] if n >= count else []
        lines += ["[[accounts.credentials]]", f'access_key_id = "{access_key(n)}"',
                  f'secret_access_key = "{secret_key(n)}"']
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    state: Path
    config: Path
    ready: str = ""  # the ready line
    output: list[str] = field(default_factory=list)  # every line the server printed after its ready line

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            self.process.wait(timeout=30)

    def dataplane(self) -> dict:
        """``GET /_latticework/dataplane``: the served revision and the fabric range."""
        with urllib.request.urlopen(self.url + "/_latticework/dataplane", timeout=10) as answer:
            return json.load(answer)

    @property
    def fabric(self) -> ipaddress.IPv4Network:
        """The loopback range the server leased for its VPCs' addresses."""
        return ipaddress.IPv4Network(self.dataplane()["fabric"])


def start_server(state: Path, config: Path | None = None, port: int = 0, timeout: float = 60,
                 fabric: str | None = None, extra: list[str] = (), workers: int | None = None) -> Server:
    """Start ``latticework up`` and return once its ready line names the address.

    Without ``fabric`` the server leases a free range itself; without ``workers`` it runs its default
    number of data-plane workers (one per CPU)."""
    workers = workers or int(os.environ.get("LATTICEWORK_TEST_WORKERS") or 0)
    cmd = [sys.executable, "-m", "latticework", "up", "--port", str(port), "--state", str(state),
           *(["--fabric", fabric] if fabric else []), *(["--workers", str(workers)] if workers else []), *extra]
    if config is not None:
        cmd += ["--config", str(config)]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:  # blocks until the server prints; ends if it dies
        lines.append(line)
        found = READY.search(line)
        if found:
            started = Server(found.group(1), process, state, config, line)
            _drain(process, started.output)
            return started
    raise RuntimeError("server did not start:\n" + "".join(lines))


def _drain(process: subprocess.Popen, output: list[str]) -> None:
    """Keep reading the server's output (into ``output``) so it never blocks on a full pipe."""
    import threading

    def pump():
        for line in process.stdout:
            output.append(line)
            sys.stderr.write("[server] " + line)

    threading.Thread(target=pump, daemon=True).start()


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    base = tmp_path_factory.mktemp("server")
    srv = start_server(base / "state.db", write_accounts(base / "accounts.toml", ACCOUNTS, QUOTA_ACCOUNTS))
    yield srv
    srv.stop()


WORKER_COUNTS = (1, 2)


@pytest.fixture(scope="session", params=WORKER_COUNTS, ids=lambda n: f"{n}-worker{'s' if n > 1 else ''}")
def server_by_workers(request, tmp_path_factory) -> Server:
    """A server whose data plane runs in one, then in two worker processes (the tests run once with each)."""
    base = tmp_path_factory.mktemp(f"server-{request.param}-workers")
    srv = start_server(base / "state.db", write_accounts(base / "accounts.toml", ACCOUNTS, QUOTA_ACCOUNTS),
                       workers=request.param)
    yield srv
    srv.stop()


# Each test process has its own server, so every process can count from zero.
_accounts = itertools.count()
_quota_accounts = itertools.count(ACCOUNTS)


def client_for(server: Server, service: str, n: int | None = None, *, key: str | None = None,
               secret: str | None = None, region: str = "us-east-1", **kwargs):
    """A boto3 client of account ``n`` (or explicit credentials), no retries."""
    return boto3.client(
        service, endpoint_url=server.url, region_name=region,
        aws_access_key_id=key or (access_key(n) if n is not None else "test"),
        aws_secret_access_key=secret or (secret_key(n) if n is not None else "test"),
        config=botocore.config.Config(retries={"max_attempts": 1}, **kwargs),
    )


@dataclass
class Clients:
    """Clients of one account nobody else uses."""

    n: int
    account: str
    lattice: object
    sts: object
    server: Server

    def client(self, service: str, **kwargs):
        return client_for(self.server, service, self.n, **kwargs)


@pytest.fixture
def clients(server) -> Clients:
    n = next(_accounts)
    assert n < ACCOUNTS, "test accounts exhausted; raise ACCOUNTS"
    return Clients(n, account_id(n), client_for(server, "vpc-lattice", n), client_for(server, "sts", n), server)


@pytest.fixture
def clients_with_quotas(server) -> Clients:
    """Clients of an account nobody else uses whose quotas are ``LOW_QUOTAS``."""
    n = next(_quota_accounts)
    assert n < ACCOUNTS + QUOTA_ACCOUNTS, "low-quota test accounts exhausted; raise QUOTA_ACCOUNTS"
    return Clients(n, account_id(n), client_for(server, "vpc-lattice", n), client_for(server, "sts", n), server)


@pytest.fixture
def lattice(clients):
    return clients.lattice


@dataclass
class Network:
    """A VPC made through the EC2 API: two subnets in two Availability Zones, two security groups."""

    vpc_id: str
    subnet_ids: list[str]
    sg_ids: list[str]
    cidr: str


def make_network(ec2, cidr: str = "10.0.0.0/16") -> Network:
    """A new VPC ``cidr`` of the account of ``ec2`` (an EC2 client), with its subnets and groups."""
    vpc_id = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    blocks = list(ipaddress.ip_network(cidr).subnets(prefixlen_diff=2))[:2]
    region = ec2.meta.region_name
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=str(block), AvailabilityZone=f"{region}{zone}")
               ["Subnet"]["SubnetId"] for block, zone in zip(blocks, "ab")]
    groups = [ec2.create_security_group(GroupName=f"lattice-{n}", Description="test group", VpcId=vpc_id)["GroupId"]
              for n in range(2)]
    return Network(vpc_id, subnets, groups, cidr)


@pytest.fixture
def network(clients) -> Network:
    """A VPC of the test's account (see ``make_network``); call ``make_network`` for more."""
    return make_network(clients.client("ec2"))


# -- on CI, a skip is a failure -------------------------------------------------------

CI_SKIP_ATTR = "ci_skip_reason"  # set on reports whose skip was turned into a failure (kept by xdist)


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        path, line, message = longrepr
        return f"{message.removeprefix('Skipped: ')} ({path}:{line})"
    return str(longrepr)


def _fail_skip(report) -> None:
    """Turn a skipped report (not an xfail) into a failure that says why the test was skipped."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _skip_reason(report)
    report.outcome = "failed"
    setattr(report, CI_SKIP_ATTR, reason)
    report.longrepr = f"Skipped on CI (CI={os.environ.get('CI')!r}), where every test must run: {reason}"


# Outermost wrappers (tryfirst): they see the report once pytest's own skip/xfail handling is done.
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if on_ci():
        _fail_skip(report)
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_make_collect_report(collector):
    report = yield
    if on_ci():  # a module-level skip (pytest.skip(allow_module_level=True), importorskip)
        _fail_skip(report)
    return report


def pytest_terminal_summary(terminalreporter):
    turned = [r for key in ("failed", "error") for r in terminalreporter.stats.get(key, [])
              if getattr(r, CI_SKIP_ATTR, None)]
    if turned:
        terminalreporter.section("skips failed on CI", sep="=", red=True, bold=True)
        terminalreporter.line("Every test must run on CI: install what these need on the CI machine "
                              "(.ci/run checks root, terraform and the provider mirror), or fix the test.")
        for report in turned:
            terminalreporter.line(f"{report.nodeid} [{report.when or 'collect'}]: {getattr(report, CI_SKIP_ATTR)}")


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def status_of(excinfo) -> int:
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]
