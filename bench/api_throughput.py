"""API throughput: Latticework against moto's server, same client, same calls.

Both servers run on loopback in this one run. For every operation mix (see
``MIXES``) each server is started fresh (an empty state file for Latticework,
a new ``moto_server`` process), optionally seeded, then driven by the same
boto3 client code: ``--processes`` client processes with ``--threads``
threads each, ``--calls`` calls in total, stopped early after ``--duration``
seconds. The table gives calls per second per mix and server, and the ratio
Latticework/moto.

Quotas: Latticework allows 50 service networks per account and region, so
every client thread owns its own accounts and moves to its next account after
``PER_ACCOUNT`` creates. moto ignores credentials, so the same account id is
also sent as ``x-moto-account-id`` (moto's own header for choosing the
account): both servers then hold exactly the same data, partitioned the same
way, and ``list_service_networks`` returns the same number of items on both.

``LATTICEWORK_BENCH_PROFILE=FILE`` runs the Latticework server under py-spy
(when installed) and writes a flame graph / speedscope profile to FILE.

Usage: python bench/api_throughput.py [--calls N] [--threads T] [--processes P] [--rounds R]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import botocore.config

from common import DNS_PORT, Goal, Row, cpu_seconds, fabric, plural

READY = re.compile(r"Latticework ready on (http://[\d.]+:\d+)")
REGION = "us-east-1"
PER_ACCOUNT = 40  # creates per account before a thread moves on (quota: 50)
SEED = 20  # networks each thread creates, untimed, before a read-only mix
START_TIMEOUT = 60

# Operation mixes: one cycle of operations, repeated by every thread.
MIXES = {
    "create": ("create",),
    "get": ("get",),
    "list": ("list",),
    "mixed": ("create", "get", "get", "get", "list"),
}


# -- servers -------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT if self.name == "latticework" else signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def write_accounts(path: Path, count: int) -> Path:
    lines = []
    for n in range(count):
        lines += ["[[accounts]]", f'id = "{account_id(n)}"', "[[accounts.credentials]]",
                  f'access_key_id = "{access_key(n)}"', f'secret_access_key = "{secret_key(n)}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def account_id(n: int) -> str:
    return f"{200000000000 + n:012d}"


def access_key(n: int) -> str:
    return f"AKIDBENCH{n:07d}"


def secret_key(n: int) -> str:
    return f"bench-secret-{n}"


def start_latticework(work: Path, accounts: int) -> Server:
    """``latticework up --port 0`` on a fresh state file; returns once its ready line is out."""
    state, log = work / "latticework.db", work / "latticework.log"
    for stale in work.glob("latticework.db*"):
        stale.unlink()
    cmd = [sys.executable, "-m", "latticework", "up", "--port", "0", "--state", str(state),
           "--config", str(write_accounts(work / "accounts.toml", accounts)), "--fabric", fabric(3),
           "--dns-port", str(DNS_PORT)]
    cmd = _profiled(cmd)
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return Server("latticework", _wait_ready_line(process, log), process, log)


def _profiled(cmd: list[str]) -> list[str]:
    """Wrap the server in py-spy when LATTICEWORK_BENCH_PROFILE names an output file."""
    out = os.environ.get("LATTICEWORK_BENCH_PROFILE")
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if not out or not spy:
        return cmd
    fmt = "speedscope" if out.endswith(".json") else ("raw" if out.endswith(".txt") else "flamegraph")
    return [spy, "record", "--threads", "--rate", "250", "--format", fmt, "-o", out, "--", *cmd]


def _wait_ready_line(process: subprocess.Popen, log: Path) -> str:
    lines = []
    deadline = time.monotonic() + START_TIMEOUT
    for line in process.stdout:
        lines.append(line)
        found = READY.search(line)
        if found:
            _drain_to(process, log, lines)
            return found.group(1)
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError("latticework did not start:\n" + "".join(lines))


def _drain_to(process: subprocess.Popen, log: Path, lines: list[str]) -> None:
    """Keep reading the server's output into its log so it never blocks on a full pipe."""
    def pump():
        with log.open("a") as out:
            out.writelines(lines)
            for line in process.stdout:
                out.write(line)

    threading.Thread(target=pump, daemon=True).start()


def start_moto(work: Path) -> Server:
    """``moto_server`` on a free loopback port; returns once it answers HTTP."""
    port, log = free_port(), work / "moto.log"
    moto = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or "moto_server"
    with log.open("w") as out:
        process = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(url + "/moto-api/data.json", timeout=2).read()
            return Server("moto", url, process, log)
        except OSError:
            time.sleep(0.1)  # moto prints nothing reliable to wait on; poll its own API
    process.kill()
    raise RuntimeError("moto_server did not start:\n" + log.read_text())


# -- clients ---------------------------------------------------------------------

def make_client(url: str, n: int):
    """The one client both servers get: account ``n``'s keys, no retries, moto's account header."""
    client = boto3.session.Session().client(
        "vpc-lattice", endpoint_url=url, region_name=REGION,
        aws_access_key_id=access_key(n), aws_secret_access_key=secret_key(n),
        config=botocore.config.Config(retries={"max_attempts": 1}, max_pool_connections=4),
    )

    def add_account(request, **_):
        request.headers["x-moto-account-id"] = account_id(n)

    client.meta.events.register("before-sign.vpc-lattice", add_account)
    return client


@dataclass
class Worker:
    """One client thread: its accounts, its clients, the networks it made."""

    url: str
    accounts: list[int]
    calls: int
    made: list[str] = field(default_factory=list)
    creates: int = 0
    errors: int = 0
    done: int = 0

    def __post_init__(self):
        self.clients = {}
        self.client = self._client_for(0)

    def _client_for(self, index: int):
        n = self.accounts[index]
        if n not in self.clients:
            self.clients[n] = make_client(self.url, n)
        return self.clients[n]

    def create(self) -> None:
        self.client = self._client_for(self.creates // PER_ACCOUNT)
        if self.creates % PER_ACCOUNT == 0:
            self.made = []  # gets and lists stay within the current account
        name = f"bench-{self.accounts[0]}-{self.creates}"
        self.creates += 1
        self.made.append(self.client.create_service_network(name=name)["id"])

    def get(self) -> None:
        self.client.get_service_network(serviceNetworkIdentifier=self.made[self.done % len(self.made)])

    def list(self) -> None:
        self.client.list_service_networks()

    def seed(self, count: int) -> None:
        for _ in range(count):
            self.create()

    def run(self, mix: tuple[str, ...], deadline: float) -> None:
        for i in range(self.calls):
            if time.monotonic() > deadline:
                return
            try:
                getattr(self, mix[i % len(mix)])()
            except Exception:  # counted, never retried: both servers are judged the same way
                self.errors += 1
            self.done += 1


def accounts_needed(calls_per_worker: int, mix: tuple[str, ...]) -> int:
    creates = SEED + calls_per_worker * mix.count("create") // len(mix) + 1
    return -(-creates // PER_ACCOUNT) + 1


def client_process(url: str, first: int, threads: int, calls: int, mix_name: str, duration: float,
                   barrier, results) -> None:
    """Run ``threads`` workers; report (calls, errors, start, end) once all are done."""
    mix = MIXES[mix_name]
    per = accounts_needed(calls, mix)
    workers = [Worker(url, list(range((first + t) * per, (first + t + 1) * per)), calls) for t in range(threads)]
    for worker in workers:
        worker.seed(SEED if "create" not in mix else 1)  # also warms each connection up
    barrier.wait(timeout=START_TIMEOUT * 5)  # a sibling that died breaks the barrier instead of hanging
    start = time.monotonic()
    pool = [threading.Thread(target=w.run, args=(mix, start + duration)) for w in workers]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    end = time.monotonic()
    results.put((sum(w.done for w in workers), sum(w.errors for w in workers), start, end))


@dataclass
class Outcome:
    calls: int
    errors: int
    seconds: float
    server_cpu: float | None = None  # CPU seconds the server process used during the run

    @property
    def rate(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms_per_call(self) -> float | None:
        return None if self.server_cpu is None or not self.calls else self.server_cpu / self.calls * 1000


def _collect(procs: list, results, deadline: float) -> list[tuple]:
    """Every client process's result; fails fast when one of them died."""
    got = []
    while len(got) < len(procs):
        try:
            got.append(results.get(timeout=1))
        except queue.Empty:
            dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a client process failed (exit code {dead[0]}); its traceback is above")
            if time.monotonic() > deadline:
                raise RuntimeError("the clients did not finish in time")
    return got


def drive(url: str, args, mix_name: str) -> Outcome:
    """All client processes against one server; calls per second over the whole run."""
    ctx = mp.get_context("fork")
    workers = args.processes * args.threads
    barrier, results = ctx.Barrier(args.processes), ctx.Queue()
    per_worker = max(1, args.calls // workers)
    procs = [ctx.Process(target=client_process, args=(url, p * args.threads, args.threads, per_worker,
                                                          mix_name, args.duration, barrier, results))
             for p in range(args.processes)]
    for proc in procs:
        proc.start()
    try:
        got = _collect(procs, results, time.monotonic() + args.duration + 300)
    finally:  # also on Ctrl-C or a dead client: never leave client processes behind
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.terminate()
    seconds = max(g[3] for g in got) - min(g[2] for g in got)
    return Outcome(sum(g[0] for g in got), sum(g[1] for g in got), seconds)


# -- the run -----------------------------------------------------------------------

def phase(server_name: str, work: Path, args, mix_name: str) -> Outcome:
    """A fresh server, one mix, then the server is stopped (the reset between phases)."""
    workers = args.processes * args.threads
    accounts = workers * accounts_needed(max(1, args.calls // workers), MIXES[mix_name])
    server = start_latticework(work, accounts) if server_name == "latticework" else start_moto(work)
    try:
        before = cpu_seconds(server.process.pid)
        out = drive(server.url, args, mix_name)
        after = cpu_seconds(server.process.pid)
        # Wall-clock rates move with whatever else runs on the machine; CPU per call much less so.
        out.server_cpu = None if before is None or after is None else after - before
        return out
    except Exception:
        server.stop()
        tail = server.log.read_text(errors="replace")[-4000:] if server.log.exists() else ""
        print(f"--- {server.name} log (tail) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        server.stop()


def report(rows: dict, args) -> None:
    print(f"\n{args.calls} calls per mix, {args.processes} client process(es) x {args.threads} thread(s), "
          f"best of {args.rounds} round(s), loopback, {os.cpu_count()} CPUs")
    print(f"{'mix':<8} {'cycle':<28} {'server':<12} {'calls':>7} {'errors':>6} {'seconds':>8} {'calls/s':>9} "
          f"{'server CPU ms/call':>19}")
    for mix_name, outcomes in rows.items():
        for server_name, out in outcomes.items():
            cycle = "+".join(MIXES[mix_name])
            cpu = "n/a" if out.cpu_ms_per_call is None else f"{out.cpu_ms_per_call:.2f}"
            print(f"{mix_name:<8} {cycle:<28} {server_name:<12} {out.calls:>7} {out.errors:>6} "
                  f"{out.seconds:>8.2f} {out.rate:>9.1f} {cpu:>19}")
    for mix_name, outcomes in rows.items():
        moto = outcomes["moto"].rate
        ratio = outcomes["latticework"].rate / moto if moto else float("inf")
        cpu = [outcomes[name].cpu_ms_per_call for name in ("moto", "latticework")]
        cpu_ratio = f", server CPU per call moto/Latticework {cpu[0] / cpu[1]:.2f}x" if all(cpu) else ""
        print(f"ratio Latticework/moto [{mix_name}]: throughput {ratio:.2f}x{cpu_ratio}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per mix and server (default 2000)")
    parser.add_argument("--threads", type=int, default=4, help="client threads per process (default 4)")
    parser.add_argument("--processes", type=int, default=1, help="client processes (default 1)")
    parser.add_argument("--duration", type=float, default=60.0, help="cap in seconds per mix and server")
    parser.add_argument("--rounds", type=int, default=1,
                        help="runs per mix and server, alternating the order; the best one is reported")
    parser.add_argument("--mix", action="append", choices=sorted(MIXES), help="mixes to run (default all)")
    parser.add_argument("--server", action="append", choices=("latticework", "moto"),
                        help="servers to run (default both)")
    return parser.parse_args(argv)


def measure(args, work: Path) -> dict[str, dict[str, Outcome]]:
    servers = args.server or ["latticework", "moto"]
    rows: dict[str, dict[str, Outcome]] = {}
    for mix_name in args.mix or list(MIXES):
        for round_no in range(args.rounds):
            # Alternate which server goes first, so a change in background load hits both alike.
            for server_name in servers if round_no % 2 == 0 else servers[::-1]:
                out = phase(server_name, work, args, mix_name)
                best = rows.setdefault(mix_name, {}).get(server_name)
                if best is None or out.rate > best.rate:
                    rows[mix_name][server_name] = out
                print(f"  {mix_name:<8} {server_name:<12} round {round_no + 1}: {out.rate:9.1f} calls/s, "
                      f"server CPU {out.cpu_ms_per_call or 0:.2f} ms/call ({out.errors} errors)",
                      file=sys.stderr, flush=True)
    return rows


def run(ctx) -> list[Row]:
    """The suite's control-plane section: every mix, both servers, 2 client processes x 2 threads."""
    calls = 300 if ctx.quick else 1200
    args = parse_args(["--calls", str(calls), "--threads", "2", "--processes", "2", "--duration", "60"])
    work = ctx.work / "control"
    work.mkdir(parents=True, exist_ok=True)
    outcomes = measure(args, work)
    ctx.raw["control plane"] = {mix: {server: {"calls": o.calls, "errors": o.errors, "seconds": round(o.seconds, 3),
                                               "calls_per_second": round(o.rate, 1),
                                               "server_cpu_ms_per_call": o.cpu_ms_per_call}
                                      for server, o in by_server.items()}
                                for mix, by_server in outcomes.items()}
    rows = []
    for mix, by_server in outcomes.items():
        lw, moto = by_server["latticework"], by_server["moto"]
        errors = lw.errors + moto.errors
        cycle = f" ({'+'.join(MIXES[mix])})" if len(MIXES[mix]) > 1 else ""
        rows.append(Row("control plane", f"server CPU per call, {mix}{cycle}: moto / Latticework (x lower)",
                        lw.cpu_ms_per_call, moto.cpu_ms_per_call, "ms", Goal(">=", 3),
                        plural(errors, "error") if errors else "",
                        ratio=moto.cpu_ms_per_call / lw.cpu_ms_per_call
                        if lw.cpu_ms_per_call and moto.cpu_ms_per_call else None))
        rows.append(Row("control plane", f"calls/s, {mix}: Latticework / moto", lw.rate, moto.rate, "calls/s"))
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lw-bench-") as tmp:
        rows = measure(args, Path(tmp))
    if len(args.server or ["latticework", "moto"]) == 2:
        report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
