"""L7 sections: HTTP/1.1 routing, then HTTPS termination and h2, against HAProxy doing the same.

The fixture (``Proxies``), on loopback, shared by both sections:

- **targets**: one HAProxy process (one thread) with three frontends that answer
  every request themselves (``http-request return``): blue-1 and blue-2 answer
  "blue", green-1 "green". The targets are never the bottleneck (``direct``).
- **Latticework**: ``latticework up`` with the routing of ``topology.routed_service``
  on an HTTP listener (8080) and an HTTPS listener (8443) at the client VPC's
  Lattice address, Host/SNI = the service's name.
- **HAProxy**: the same routing (``haproxy_config``): the header rule, the path
  rule, the 80/20 weighted default, Lattice's request headers (client
  ``x-amzn-lattice-*`` dropped; ``x-forwarded-for``, ``-port``, ``-proto``,
  ``x-amzn-source-vpc``, ``x-amzn-lattice-network``, ``x-amzn-lattice-target``
  with the chosen group's ARN, and ``x-amzn-requestid``, a fresh UUID, also
  on the response), keep-alive to the targets. HAProxy runs as packaged: one
  process, a thread per CPU.
- **python floor**: ``../shared/bench/python-floor.py`` (uvloop + httptools, one
  upstream, no routing) when that file exists: what a Python proxy can do here.

Before measuring, ``check_routing`` sends the request mix through Latticework
and HAProxy and checks both route it alike (rules to green, the default split
about 80/20), so the numbers compare the same work.

HTTP (``run_http``): ``wrk -t1`` keep-alive at 32 and 256 connections with the
mix of ``lua/mix.lua`` on every path; then each proxy at half of HAProxy's
32-connection rate, paced by ``lua/paced.lua`` (wrk2 is not packaged in
Debian), for latency at the same load.

HTTPS/h2 (``run_tls``): ``h2load -t1`` (Debian's nghttp2-client) with TLS
terminated by the proxy and HTTP/1.1 to the targets: HTTP/1.1 over TLS (32
connections) and h2 over TLS (8 connections x 4 streams). Both proxies
present a leaf of Latticework's local CA for the service's name (h2load does
not verify certificates); h2load connects with the service's name as SNI and
:authority (``--connect-to`` the proxy's address). Requests alternate ``/``
and ``/v2/items``: h2load sends the same headers on every request, so the
header rule is not exercised here.
"""

from __future__ import annotations

import http.client
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import BENCH, Goal, Load, Processes, Row, free_port, h2load, plural, say, skipped, wait_port, wrk
from latticework.ownpaths_client import vpc_info
from topology import Server, Topology, routed_service, start_server

HTTP_PORT, HTTPS_PORT = 8080, 8443
FLOOR = BENCH.parent.parent / "shared" / "bench" / "python-floor.py"
MIX = [("/", {}), ("/", {}), ("/v2/items", {}), ("/", {}), ("/", {"x-canary": "true"}),
       ("/", {}), ("/v2/items", {}), ("/", {}), ("/", {"x-canary": "true"}), ("/", {})]  # = lua/mix.lua

HAPROXY_GLOBAL = """global
    maxconn 4096
{threads}
defaults
    mode http
    timeout client 60s
    timeout server 60s
    timeout connect 5s
    option http-keep-alive
"""


def target_config(ports: dict[str, int]) -> str:
    binds = "\n".join(f"    bind 127.0.0.1:{port} name {name}" for name, port in ports.items())
    green = " || ".join(f"{{ dst_port {p} }}" for n, p in ports.items() if n.startswith("green"))
    return HAPROXY_GLOBAL.format(threads="    nbthread 1") + f"""frontend targets
{binds}
    http-request return status 200 content-type text/plain string "green" if {green}
    http-request return status 200 content-type text/plain string "blue"
"""


def haproxy_config(topology: Topology, ports: dict[str, int], http_port: int, https_port: int, pem: Path) -> str:
    """Lattice's routing and headers for ``topology``, in HAProxy's words."""
    vpc_arn = f"arn:aws:ec2:us-east-1:000000000000:vpc/{topology.vpc}"
    network_arn = f"arn:aws:vpc-lattice:us-east-1:000000000000:servicenetwork/{topology.network}"
    target = (f"ServiceArn={topology.service['arn']}; ServiceNetworkArn={network_arn}; "
              f"TargetGroupArn={{arn}}")

    def backend(name: str) -> str:
        servers = "\n".join(f"    server {n} 127.0.0.1:{p}" for n, p in ports.items() if n.startswith(name))
        return (f"backend {name}\n    http-reuse always\n"
                f"    http-request set-header x-amzn-lattice-target \"{target.format(arn=topology.groups[name]['arn'])}\"\n"
                f"{servers}\n")

    return HAPROXY_GLOBAL.format(threads="") + f"""frontend lattice
    bind 127.0.0.1:{http_port}
    bind 127.0.0.1:{https_port} ssl crt {pem} alpn h2,http/1.1
    http-request del-header ^x-amzn-lattice- -m reg
    http-request set-var(txn.requestid) uuid
    http-request set-header x-forwarded-for %[src]
    http-request set-header x-forwarded-port %[dst_port]
    http-request set-header x-forwarded-proto https if {{ ssl_fc }}
    http-request set-header x-forwarded-proto http unless {{ ssl_fc }}
    http-request set-header x-amzn-source-vpc {topology.vpc}
    http-request set-header x-amzn-lattice-network "SourceVpcArn={vpc_arn}"
    http-request set-header x-amzn-requestid %[var(txn.requestid)]
    http-response set-header x-amzn-requestid %[var(txn.requestid)]
    http-request set-var(txn.pick) rand(100)
    use_backend green if {{ req.hdr(x-canary) -i true }}
    use_backend green if {{ path_beg /v2 }}
    use_backend green if {{ var(txn.pick) -m int lt 20 }}
    default_backend blue
{backend("blue")}
{backend("green")}"""


@dataclass
class Proxies:
    """The three paths in front of the targets, all on loopback."""

    targets: dict[str, int]
    server: Server
    topology: Topology
    lattice: str  # the client VPC's Lattice address
    haproxy: dict[str, int]  # protocol -> port
    floor: int | None
    floor_note: str
    routing: dict = field(default_factory=dict)  # what check_routing saw
    single: tuple[str, str] | None = None  # (Lattice address, service name) of a server with one worker

    @property
    def name(self) -> str:
        return self.topology.name


SINGLE = "lw 1 worker"  # the label of the one-worker server's runs


def start_haproxy(processes: Processes, work: Path, name: str, config: str, ports: list[int]) -> None:
    path = work / f"{name}.cfg"
    path.write_text(config)
    process = processes.start(["haproxy", "-f", str(path)], work / f"{name}.log")
    try:
        for port in ports:
            wait_port("127.0.0.1", port)
    except OSError:
        raise RuntimeError(f"haproxy ({name}) did not start: {(work / f'{name}.log').read_text()[-2000:]}") from None
    if process.poll() is not None:
        raise RuntimeError(f"haproxy ({name}) exited: {(work / f'{name}.log').read_text()[-2000:]}")


def build(processes: Processes, work: Path, fabric: str, single_fabric: str | None = None) -> Proxies:
    """Targets, Latticework (its default workers: one per CPU), HAProxy, the python floor; with
    ``single_fabric``, a second Latticework with one worker, for scale."""
    from latticework.dataplane.tls import CertificateAuthority

    work.mkdir(parents=True, exist_ok=True)
    targets = {"blue-1": free_port(), "blue-2": free_port(), "green-1": free_port()}
    start_haproxy(processes, work, "targets", target_config(targets), list(targets.values()))
    server = start_server(processes, work / "latticework", fabric)
    topology = routed_service(server.url, [targets["blue-1"], targets["blue-2"]], [targets["green-1"]],
                              HTTP_PORT, HTTPS_PORT)
    lattice = vpc_info(server.url, topology.vpc).lattice
    wait_port(lattice, HTTP_PORT)
    cert, key = CertificateAuthority.load_or_create(work / "latticework" / "ca").issue([topology.name])
    pem = work / "haproxy.pem"
    pem.write_text(cert + key)
    haproxy = {"HTTP": free_port(), "HTTPS": free_port()}
    start_haproxy(processes, work, "haproxy", haproxy_config(topology, targets, haproxy["HTTP"], haproxy["HTTPS"], pem),
                  list(haproxy.values()))
    floor, note = None, ""
    if FLOOR.exists():
        floor = free_port()
        process = processes.start([sys.executable, str(FLOOR), str(floor), str(targets["blue-1"])], work / "floor.log")
        wait_port("127.0.0.1", floor)
        if process.poll() is not None:
            floor, note = None, f"python floor did not start (log {work / 'floor.log'})"
    else:
        note = f"no python floor: {FLOOR} is absent (it lives outside the repository)"
    proxies = Proxies(targets, server, topology, lattice, haproxy, floor, note)
    proxies.routing = check_routing(proxies)
    if single_fabric is not None:
        one = start_server(processes, work / "latticework-1-worker", single_fabric, ["--workers", "1"])
        routed = routed_service(one.url, [targets["blue-1"], targets["blue-2"]], [targets["green-1"]], HTTP_PORT,
                                HTTPS_PORT)
        proxies.single = (vpc_info(one.url, routed.vpc).lattice, routed.name)
        wait_port(proxies.single[0], HTTP_PORT)
    return proxies


def check_routing(p: Proxies, rounds: int = 40) -> dict:
    """Send the mix through Latticework and HAProxy; both must route it alike: every rule to green, the
    default split (both draw a group at random) within 3.5 standard deviations of 80/20."""
    seen = {}
    for label, (host, port) in (("latticework", (p.lattice, HTTP_PORT)), ("haproxy", ("127.0.0.1", p.haproxy["HTTP"]))):
        connection = http.client.HTTPConnection(host, port, timeout=10)
        counts: Counter = Counter()
        for _ in range(rounds):
            for path, headers in MIX:
                connection.request("GET", path, headers={"Host": p.name, **headers})
                answer = connection.getresponse()
                body = answer.read().decode().strip()
                rule = "header" if headers else ("path" if path.startswith("/v2") else "default")
                counts[(rule, answer.status, body)] += 1
        connection.close()
        seen[label] = counts
        wrong = [k for k in counts if k[1] != 200 or (k[0] != "default" and k[2] != "green")]
        defaults = sum(v for k, v in counts.items() if k[0] == "default")
        share = counts[("default", 200, "green")] / defaults
        if wrong or abs(share - 0.2) > 3.5 * (0.2 * 0.8 / defaults) ** 0.5:
            raise RuntimeError(f"{label} does not route the mix as configured: {dict(counts)}")
    return {label: {"/".join(map(str, k)): v for k, v in c.items()} for label, c in seen.items()}


# -- HTTP -----------------------------------------------------------------------------------------

def paths(p: Proxies) -> dict[str, tuple[str, str | None]]:
    """label -> (URL, Host header) of each path wrk drives."""
    out = {"direct": (f"http://127.0.0.1:{p.targets['blue-1']}/", None),
           "haproxy": (f"http://127.0.0.1:{p.haproxy['HTTP']}/", p.name)}
    if p.floor:
        out["python floor"] = (f"http://127.0.0.1:{p.floor}/", p.name)
    out["latticework"] = (f"http://{p.lattice}:{HTTP_PORT}/", p.name)
    if p.single:
        out[SINGLE] = (f"http://{p.single[0]}:{HTTP_PORT}/", p.single[1])
    return out


def best_of(rounds: int, labels: list[str], measure, better) -> tuple[dict[str, Load], dict[str, list]]:
    """Run ``measure(label)`` for every label, ``rounds`` times, interleaved (the order reversed every other
    round, so background load hits every label alike); keep each label's best run by ``better``."""
    best: dict[str, Load] = {}
    every: dict[str, list] = {label: [] for label in labels}
    for n in range(rounds):
        for label in labels if n % 2 == 0 else labels[::-1]:
            load = measure(label)
            every[label].append(load.as_json())
            if label not in best or better(load, best[label]):
                best[label] = load
    return best, every


def faster(a: Load, b: Load) -> bool:
    return a.rate > b.rate


def steadier(a: Load, b: Load) -> bool:
    return a.p99 < b.p99


def run_http(ctx) -> list[Row]:
    p: Proxies = ctx.fixture("proxies")
    seconds, rounds, section = ctx.seconds(8, 3), ctx.rounds(), "L7 HTTP"
    ctx.raw[section] = raw = {"seconds": seconds, "rounds": rounds, "routing check": p.routing, "runs": {}}
    targets = paths(p)
    for label, (url, host) in targets.items():  # warm every path up (connections, upstream pools)
        wrk(url, 1, 32, host)
    loads: dict[tuple[str, int], Load] = {}
    for connections in (32, 256):
        labels = [label for label in targets if connections == 32 or label != SINGLE]
        best, every = best_of(rounds, labels, lambda label: wrk(targets[label][0], seconds, connections,
                                                                targets[label][1]), faster)
        for label, load in best.items():
            loads[(label, connections)] = load
            raw["runs"][f"{label} c={connections}"] = every[label]
            say(f"  {section} {label:13s} c={connections:<4d} {load.rate:9.0f} req/s  p50 {load.p50:7.2f} ms  "
                f"p99 {load.p99:7.2f} ms  errors {load.errors}  (best of {rounds})")
    pace = loads[("haproxy", 32)].rate / 2
    proxies = [k for k in targets if k not in ("direct", SINGLE)]
    paced, every = best_of(rounds, proxies, lambda label: wrk(targets[label][0], seconds, 32, targets[label][1],
                                                             script="paced.lua", rate=pace), steadier)
    for label, load in paced.items():
        raw["runs"][f"{label} paced {pace:.0f}/s"] = every[label]
        say(f"  {section} {label:13s} paced {pace:7.0f}/s: achieved {load.rate:9.0f} req/s  p50 {load.p50:7.2f} ms  "
            f"p99 {load.p99:7.2f} ms  errors {load.errors}  (best of {rounds})")
    return http_rows(section, loads, paced, pace, p.floor_note)


def http_rows(section: str, loads: dict, paced: dict, pace: float, floor_note: str) -> list[Row]:
    lw = lambda c: loads[("latticework", c)]
    rows = []
    for c in (32, 256):
        errors = lw(c).errors + loads[("haproxy", c)].errors
        note = plural(errors, "error") if errors else ""
        rows += [
            Row(section, f"req/s, {c} connections: Latticework / HAProxy", lw(c).rate, loads[("haproxy", c)].rate,
                "req/s", Goal(">=", 0.8) if c == 32 else None, note),
            Row(section, f"p99, {c} connections: Latticework / HAProxy", lw(c).p99, loads[("haproxy", c)].p99, "ms",
                Goal("<=", 2) if c == 32 else None),
            Row(section, f"p50, {c} connections: Latticework / HAProxy", lw(c).p50, loads[("haproxy", c)].p50, "ms"),
            Row(section, f"req/s, {c} connections: Latticework / direct to target", lw(c).rate,
                loads[("direct", c)].rate, "req/s"),
        ]
        if (SINGLE, c) in loads:
            rows.append(Row(section, f"req/s, {c} connections: Latticework, workers per CPU / one worker (for scale)",
                            lw(c).rate, loads[(SINGLE, c)].rate, "req/s"))
        if ("python floor", c) in loads:
            rows.append(Row(section, f"req/s, {c} connections: Latticework / python floor", lw(c).rate,
                            loads[("python floor", c)].rate, "req/s"))
            rows.append(Row(section, f"req/s, {c} connections: python floor / HAProxy (for scale)",
                            loads[("python floor", c)].rate, loads[("haproxy", c)].rate, "req/s"))
        else:
            rows.append(skipped(section, f"req/s, {c} connections: Latticework / python floor", floor_note))
    achieved = paced["latticework"].rate
    rows.append(Row(section, f"p99 at {pace:.0f} req/s offered (1/2 HAProxy max): Latticework / HAProxy",
                    paced["latticework"].p99, paced["haproxy"].p99, "ms", Goal("<=", 2),
                    f"Latticework achieved {achieved:.0f} req/s" if achieved < 0.95 * pace else ""))
    if "python floor" in paced:
        rows.append(Row(section, f"p99 at {pace:.0f} req/s offered: python floor / HAProxy (for scale)",
                        paced["python floor"].p99, paced["haproxy"].p99, "ms",
                        note=f"floor achieved {paced['python floor'].rate:.0f} req/s"
                        if paced["python floor"].rate < 0.95 * pace else ""))
    return rows


# -- HTTPS and h2 -----------------------------------------------------------------------------------

def run_tls(ctx) -> list[Row]:
    p: Proxies = ctx.fixture("proxies")
    seconds, section = ctx.seconds(8, 3), "HTTPS/h2"
    if not ctx.tools.get("h2load"):
        return [skipped(section, "HTTPS and h2: Latticework / HAProxy", "h2load missing (nghttp2-client)")]
    urls = [f"https://{p.name}:{HTTPS_PORT}/", f"https://{p.name}:{HTTPS_PORT}/v2/items"]
    haproxy_urls = [u.replace(f":{HTTPS_PORT}/", f":{p.haproxy['HTTPS']}/") for u in urls]
    proxies = {"haproxy": (haproxy_urls, f"127.0.0.1:{p.haproxy['HTTPS']}"),
               "latticework": (urls, f"{p.lattice}:{HTTPS_PORT}")}
    kinds = {"HTTP/1.1 over TLS, 32 connections": (32, 1, True), "h2 over TLS, 8 connections x 4 streams": (8, 4, False)}
    rounds = ctx.rounds()
    ctx.raw[section] = raw = {"seconds": seconds, "rounds": rounds}
    rows = []
    for kind, (clients, streams, h1) in kinds.items():
        loads, every = best_of(rounds, list(proxies), lambda label: h2load(
            proxies[label][0], seconds, clients, streams, h1, proxies[label][1], ctx.work), faster)
        for label, load in loads.items():
            raw[f"{label} {kind}"] = every[label]
            say(f"  {section} {label:12s} {kind}: {load.rate:9.0f} req/s  p50 {load.p50:7.2f} ms  "
                f"p99 {load.p99:7.2f} ms  errors {load.errors}  (best of {rounds})")
        errors = loads["latticework"].errors + loads["haproxy"].errors
        short = kind.split(",")[0]
        rows += [Row(section, f"req/s, {kind}: Latticework / HAProxy", loads["latticework"].rate,
                     loads["haproxy"].rate, "req/s", Goal(">=", 0.6), plural(errors, "error") if errors else ""),
                 Row(section, f"p99, {short}: Latticework / HAProxy", loads["latticework"].p99, loads["haproxy"].p99,
                     "ms")]
    return rows
