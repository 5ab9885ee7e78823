"""``latticework exec --vpc``: commands resolve names through their VPC's resolver.

The namespace tests run where mount namespaces can be created (root on Linux,
or unprivileged user namespaces) and port 53 can be bound; they start a real
resolver for a made-up VPC on port 53 of an address in 127.127.250.0/24 (one
per test process) and run real commands (getent, Python's getaddrinfo).
The pure parts and the CLI's server errors run everywhere.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from latticework.dns.resolver import Upstreams, VpcResolver
from latticework.fabric import exec as vpcexec
from latticework.fabric.exec import ExecError, VpcInfo, check_support, nsswitch_conf, resolv_conf, run_in_vpc
from latticework.snapshot.model import Route, Service, ServiceNetwork, VpcView

WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:] or 0)
# A /28 of 127.127.250.0/24 per test process: the resolver at .2 of it, the Lattice address at .10.
RESOLVER, LATTICE = f"127.127.250.{16 * (WORKER % 15) + 2}", f"127.127.250.{16 * (WORKER % 15) + 10}"
REGION, ACCOUNT = "us-east-1", "111122223333"
SERVICE_NAME = f"orders-0123456789abcdef0.7d67968.vpc-lattice-svcs.{REGION}.on.aws"
UNREACHABLE_NAME = f"payments-0fedcba9876543210.7d67968.vpc-lattice-svcs.{REGION}.on.aws"
CUSTOM_NAME = "orders.example.internal"
PUBLIC_ADDRESS = "192.0.2.77"
VPC = VpcInfo("vpc-0123456789abcdef0", ACCOUNT, REGION, RESOLVER, 53, LATTICE)
CA_PEM = "-----BEGIN CERTIFICATE-----\nTUlJQmxhdHRpY2V3b3Jr\n-----END CERTIFICATE-----\n"
CLI = "import click; from latticework.cli_dataplane import register; g = click.Group('latticework'); register(g); g()"

SUPPORT = check_support()
needs_namespaces = pytest.mark.skipif(SUPPORT is not None, reason=f"mount namespaces unavailable: {SUPPORT}")


def view() -> VpcView:
    service = Service(id="svc-0123456789abcdef0", arn="arn", name="orders", account=ACCOUNT, region=REGION,
                      dns_name=SERVICE_NAME, custom_domain=CUSTOM_NAME, certificate_arn=None, auth_type="NONE",
                      idle_timeout=60.0)
    network = ServiceNetwork(id="sn-0123456789abcdef0", arn="arn", name="n", account=ACCOUNT, auth_type="NONE")
    return VpcView(VPC.vpc_id, "arn", ACCOUNT, REGION, RESOLVER, LATTICE,
                   routes={name: Route(service, network) for name in service.names()})


class _Public(BaseResolver):
    def resolve(self, request, handler):
        reply = request.reply()
        if request.q.qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(PUBLIC_ADDRESS), ttl=5))
        return reply


@pytest.fixture(scope="module")
def vpc_resolver():
    """The VPC's resolver on RESOLVER:53, forwarding other names to a stand-in public resolver."""
    if SUPPORT is not None:
        pytest.skip(f"mount namespaces unavailable: {SUPPORT}")
    public = DNSServer(_Public(), port=0, address="127.0.0.1", logger=DNSLogger(logf=lambda *_: None))
    public.start_thread()
    loop = asyncio.new_event_loop()
    resolver = VpcResolver(RESOLVER, 53, view, Upstreams([public.server.server_address], timeout=1.0))
    try:
        loop.run_until_complete(resolver.start())
    except PermissionError:
        public.stop()
        pytest.skip("binding port 53 needs root or net.ipv4.ip_unprivileged_port_start<=53")
    thread = threading.Thread(target=_serve, args=(loop,), daemon=True)
    thread.start()
    yield resolver
    asyncio.run_coroutine_threadsafe(resolver.close(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()
    public.stop()


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    # Signals for the test process are the waiting thread's business (run_in_vpc waits on SIGCHLD).
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD, signal.SIGINT, signal.SIGTERM})
    asyncio.set_event_loop(loop)
    loop.run_forever()


def run(argv: list[str], tmp_path: Path, env: dict | None = None, ca: str | None = CA_PEM) -> tuple[int, str]:
    """Run ``argv`` in the VPC with its output in a file; return (status, output)."""
    out = tmp_path / "out.txt"
    script = 'exec "$@" > "$OUT" 2>&1'
    base = {"PATH": os.environ["PATH"], "OUT": str(out), **(env or {})}
    status = run_in_vpc(VPC, ["sh", "-c", script, "sh", *argv], ca, env=base)
    return status, out.read_text()


PY_RESOLVE = ("import socket, sys\n"
              "try:\n"
              "    print(sorted({a[4][0] for a in socket.getaddrinfo(sys.argv[1], 443, socket.AF_INET)}))\n"
              "except socket.gaierror as e:\n"
              "    print('gaierror', e.errno)\n")


# -- names inside the VPC ----------------------------------------------------------------

@needs_namespaces
def test_lattice_names_resolve_to_the_vpcs_lattice_address(vpc_resolver, tmp_path):
    status, out = run(["getent", "hosts", SERVICE_NAME], tmp_path)
    assert status == 0 and out.split() == [LATTICE, SERVICE_NAME]
    status, out = run([sys.executable, "-c", PY_RESOLVE, CUSTOM_NAME.upper()], tmp_path)
    assert status == 0 and out.strip() == repr([LATTICE])


@needs_namespaces
def test_unreachable_lattice_names_do_not_resolve(vpc_resolver, tmp_path):
    status, out = run(["getent", "hosts", UNREACHABLE_NAME], tmp_path)
    assert status == 2 and out == ""  # getent: key not found
    status, out = run([sys.executable, "-c", PY_RESOLVE, UNREACHABLE_NAME], tmp_path)
    assert out.startswith("gaierror")


@needs_namespaces
def test_other_names_go_to_the_host_resolvers(vpc_resolver, tmp_path):
    status, out = run(["getent", "hosts", "www.example.test"], tmp_path)
    assert status == 0 and out.split() == [PUBLIC_ADDRESS, "www.example.test"]


@needs_namespaces
def test_the_host_keeps_its_own_files_and_mounts(vpc_resolver, tmp_path):
    before = Path("/etc/resolv.conf").read_text(), Path("/proc/self/mountinfo").read_text()
    status, out = run(["cat", "/etc/resolv.conf"], tmp_path)
    assert status == 0 and f"nameserver {RESOLVER}" in out and "nameserver" not in out.replace(
        f"nameserver {RESOLVER}", "")
    assert (Path("/etc/resolv.conf").read_text(), Path("/proc/self/mountinfo").read_text()) == before
    if Path("/etc/nsswitch.conf").exists():
        status, out = run(["grep", "^hosts:", "/etc/nsswitch.conf"], tmp_path)
        assert out.strip() == "hosts: files dns"


# -- the command's process -------------------------------------------------------------

@needs_namespaces
def test_exit_status_propagates(tmp_path):
    assert run(["sh", "-c", "exit 7"], tmp_path)[0] == 7
    assert run(["sh", "-c", "kill -TERM $$"], tmp_path)[0] == -signal.SIGTERM
    with pytest.raises(ExecError) as missing:
        run_in_vpc(VPC, ["latticework-no-such-command"], None, env={"PATH": os.environ["PATH"]})
    assert missing.value.exit_code == 127 and "not found" in str(missing.value)


@needs_namespaces
def test_ca_variables_trust_the_local_ca_and_keep_what_the_user_set(tmp_path):
    script = ('import os, json; print(json.dumps({k: (os.environ.get(k), open(os.environ[k]).read() '
              'if os.environ.get(k) and os.path.exists(os.environ[k]) else None) for k in '
              '["LATTICEWORK_VPC_ID", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", '
              '"GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "NODE_EXTRA_CA_CERTS"]}))')
    mine = tmp_path / "mine.pem"
    mine.write_text("mine\n")
    status, out = run([sys.executable, "-c", script], tmp_path, env={"REQUESTS_CA_BUNDLE": str(mine),
                                                                       "SSL_CERT_FILE": ""})
    seen = json.loads(out)
    assert status == 0 and seen["LATTICEWORK_VPC_ID"][0] == VPC.vpc_id
    assert seen["REQUESTS_CA_BUNDLE"][1] == "mine\n" + CA_PEM  # the user's file, plus the local CA
    bundle_path, bundle = seen["SSL_CERT_FILE"]
    assert bundle.endswith(CA_PEM) and bundle.startswith(vpcexec.system_bundle())
    assert seen["CURL_CA_BUNDLE"] == seen["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"] == [bundle_path, bundle]
    assert seen["NODE_EXTRA_CA_CERTS"][1] == CA_PEM
    assert not Path(bundle_path).exists()  # temporary files are gone once the command ended


WRAPPER = ("import sys; from latticework.fabric.exec import VpcInfo, run_in_vpc, exit_like\n"
           f"exit_like(run_in_vpc(VpcInfo(*{tuple(VPC.__dict__.values())!r}), sys.argv[1:]))\n")
CHILD_WAITS = ("import signal, sys\n"
               "signal.signal(signal.SIGTERM, lambda s, f: (print('got', s, flush=True), sys.exit(3)))\n"
               "signal.signal(signal.SIGINT, lambda s, f: (print('got', s, flush=True), sys.exit(4)))\n"
               "print('ready', flush=True)\n"
               "signal.pause()\n")


def _wrapper(*argv: str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", WRAPPER, *argv], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    return process


@needs_namespaces
@pytest.mark.parametrize("signo, code", [(signal.SIGTERM, 3), (signal.SIGINT, 4)])
def test_signals_reach_the_command(signo, code):
    wrapper = _wrapper(sys.executable, "-c", CHILD_WAITS)
    wrapper.send_signal(signo)
    assert wrapper.stdout.read() == f"got {signo}\n"
    assert wrapper.wait(10) == code


@needs_namespaces
def test_a_command_killed_by_a_signal_kills_the_wrapper_the_same_way():
    wrapper = _wrapper(sys.executable, "-c", "import signal; print('ready', flush=True); signal.pause()")
    wrapper.send_signal(signal.SIGTERM)
    assert wrapper.wait(10) == -signal.SIGTERM


@needs_namespaces
def test_terminal_interrupt_reaches_the_command_and_the_wrapper_waits_for_it():
    """^C goes to the whole foreground process group: the command handles it, the wrapper waits for its status."""
    child = ("import signal, sys\n"
             "count = 0\n"
             "def on_int(s, f):\n"
             "    global count; count += 1; print('got', count, flush=True)\n"
             "signal.signal(signal.SIGINT, on_int)\n"
             "print('ready', flush=True)\n"
             "sys.stdin.readline()\n"
             "print('count', count, flush=True)\n")
    pid, master = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-c", WRAPPER, sys.executable, "-c", child])
    try:
        _expect(master, "ready")
        os.write(master, b"\x03")
        _expect(master, "got 1")
        os.write(master, b"go\n")
        assert "count 1" in _expect(master, "count ")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(master)
    assert os.waitstatus_to_exitcode(status) == 0


def _expect(fd: int, text: str, deadline: float = 10.0) -> str:
    seen, end = "", time.monotonic() + deadline
    while text not in seen or not seen.endswith("\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
        assert ready, f"no {text!r} in {seen!r}"
        seen += os.read(fd, 1024).decode(errors="replace")
    return seen


# -- the CLI against a server --------------------------------------------------------------

class _Api(BaseHTTPRequestHandler):
    vpcs: dict[str, dict] = {}

    def do_GET(self):
        if self.path == "/_latticework/ca.pem":
            return self._send(200, CA_PEM.encode(), "application/x-pem-file")
        vpc_id = self.path.rpartition("/")[2]
        if self.path.startswith("/_latticework/vpcs/") and vpc_id in self.vpcs:
            return self._send(200, json.dumps(self.vpcs[vpc_id]).encode(), "application/json")
        self._send(404, json.dumps({"message": f"VPC {vpc_id} not found"}).encode(), "application/json")

    def _send(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def api():
    body = {"vpcId": VPC.vpc_id, "account": ACCOUNT, "region": REGION, "resolver": RESOLVER, "resolverPort": 53,
            "lattice": LATTICE}
    _Api.vpcs = {VPC.vpc_id: body, "vpc-0port5353000000": {**body, "vpcId": "vpc-0port5353000000",
                                                             "resolverPort": 5353}}
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def cli(*args: str, endpoint: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LATTICEWORK_ENDPOINT"}
    if endpoint:
        env["LATTICEWORK_ENDPOINT"] = endpoint
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, env=env, timeout=30)


def test_vpc_resolver_prints_the_address(api):
    done = cli("vpc", "resolver", VPC.vpc_id, endpoint=api)
    assert done.returncode == 0 and done.stdout == f"{RESOLVER}\n"
    missing = cli("vpc", "resolver", "vpc-0000000000000000f", "--endpoint", api)
    assert missing.returncode == 1 and "VPC vpc-0000000000000000f not found" in missing.stderr


def test_ca_export(api, tmp_path):
    assert cli("ca", "export", endpoint=api).stdout == CA_PEM
    assert cli("ca", "export", "--endpoint", api, "--out", str(tmp_path / "ca.pem")).returncode == 0
    assert (tmp_path / "ca.pem").read_text() == CA_PEM


def test_exec_explains_what_it_cannot_do(api, unused_endpoint):
    wrong_port = cli("exec", "--vpc", "vpc-0port5353000000", "--", "true", endpoint=api)
    assert wrong_port.returncode == 125 and "port 5353" in wrong_port.stderr
    assert "ip_unprivileged_port_start" in wrong_port.stderr
    unknown = cli("exec", "--vpc", "vpc-0000000000000000f", "--", "true", endpoint=api)
    assert unknown.returncode == 125 and "not found" in unknown.stderr
    down = cli("exec", "--vpc", VPC.vpc_id, "--endpoint", unused_endpoint, "--", "true")
    assert down.returncode == 125 and "cannot reach the Latticework server" in down.stderr


@needs_namespaces
def test_exec_runs_the_command_inside_the_vpc(api, vpc_resolver):
    done = cli("exec", "--vpc", VPC.vpc_id, "--", "sh", "-c", f"getent hosts {SERVICE_NAME}; exit 5",
               endpoint=api)
    assert done.returncode == 5 and done.stdout.split() == [LATTICE, SERVICE_NAME]


@pytest.fixture
def unused_endpoint():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"  # closed at once: nothing listens there


# -- pure parts ----------------------------------------------------------------------------------

def test_resolv_conf_names_only_the_vpcs_resolver():
    host = "nameserver 10.0.0.2\nsearch corp.example\noptions ndots:2 edns0\n# note\nnameserver 10.0.0.3\n"
    text = resolv_conf(VPC, host)
    assert [line for line in text.splitlines() if not line.startswith("#")] == [
        f"nameserver {RESOLVER}", "search corp.example", "options ndots:2 edns0"]


def test_nsswitch_conf_replaces_only_the_hosts_line():
    host = "passwd: files systemd\nhosts:  files mdns4_minimal [NOTFOUND=return] resolve dns myhostname\n" \
           "networks: files\n"
    assert nsswitch_conf(host) == "passwd: files systemd\nhosts: files dns\nnetworks: files\n"
    assert nsswitch_conf("passwd: files\n") == "passwd: files\nhosts: files dns\n"


def test_environment_keeps_what_the_user_set():
    env = vpcexec.vpc_environment({"SSL_CERT_FILE": "/mine.pem", "CURL_CA_BUNDLE": ""}, "vpc-1", "/b.pem", "/ca.pem")
    assert env == {"SSL_CERT_FILE": "/mine.pem", "CURL_CA_BUNDLE": "/b.pem", "REQUESTS_CA_BUNDLE": "/b.pem",
                   "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": "/b.pem", "NODE_EXTRA_CA_CERTS": "/ca.pem",
                   "LATTICEWORK_VPC_ID": "vpc-1"}
    assert vpcexec.vpc_environment({}, "vpc-1", None, None) == {"LATTICEWORK_VPC_ID": "vpc-1"}


def test_only_signals_the_terminal_did_not_send_are_forwarded():
    SI_USER, SI_KERNEL = 0, 0x80
    assert vpcexec.forwards(signal.SIGTERM, SI_USER) and vpcexec.forwards(signal.SIGINT, SI_USER)
    assert not vpcexec.forwards(signal.SIGINT, SI_KERNEL) and not vpcexec.forwards(signal.SIGQUIT, SI_KERNEL)
    assert not vpcexec.forwards(signal.SIGCHLD, SI_USER)


def test_refusals_name_the_fix(monkeypatch):
    with pytest.raises(ExecError, match="ip_unprivileged_port_start"):
        run_in_vpc(VpcInfo("vpc-1", ACCOUNT, REGION, RESOLVER, 5353, LATTICE), ["true"])
    monkeypatch.setattr(sys, "platform", "darwin")
    with pytest.raises(ExecError, match="Linux"):
        run_in_vpc(VPC, ["true"])
    assert "Linux" in check_support()


def test_ca_variables_the_user_set_keep_their_trust_and_gain_the_local_ca(tmp_path):
    mine = tmp_path / "mine.pem"
    mine.write_text("-----MINE-----")
    found = vpcexec.extended_bundles({"SSL_CERT_FILE": str(mine), "CURL_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE":
                                      str(tmp_path / "missing.pem")}, tmp_path, "-----CA-----\n")
    assert list(found) == ["SSL_CERT_FILE"]
    assert open(found["SSL_CERT_FILE"]).read() == "-----MINE-----\n-----CA-----\n"
    assert vpcexec.extended_bundles({"SSL_CERT_FILE": str(mine)}, tmp_path, None) == {}
