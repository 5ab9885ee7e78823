"""Host-wide leases on fabric ranges: two servers on one host never hand out the same VPC addresses.

Every server with a data plane leases its fabric range for as long as it
runs. The leases of a host live in one registry, ``fabric-leases.json`` in
a directory every user of the host can reach (``<tempdir>/latticework``,
``$LATTICEWORK_LEASE_DIR`` moves it), and change only under an exclusive
``flock`` on ``fabric-leases.lock`` beside it, so two servers starting at
the same moment never both win one range. An entry names the range, the
holder's pid, the holder's start time and its state file::

    {"leases": [{"range": "127.64.0.0/10", "pid": 4242, "started": 81234,
                 "state": "/home/you/.local/share/latticework/state.db"}]}

A lease lasts as long as its holder: a server releases it when it stops,
and a server that crashed leaves an entry the next reader drops, since its
process is gone. The start time (``/proc/<pid>/stat`` field 22, clock ticks
after boot) tells a live holder from a later process that got the same pid.
Systems without ``/proc`` fall back to asking whether the pid exists.

Two ranges conflict when they overlap (``127.64.0.0/10`` and
``127.72.0.0/13`` inside it do). Without ``--fabric`` a server takes the
first free range of ``candidates()``: the range its state file used last
time (remembered in ``<state>.fabric`` beside it, so VPC addresses stay put
across restarts), then the default ``127.64.0.0/10``, then the other /10s of
127.0.0.0/8, then every /13 and every /16 there, always keeping clear of
127.0.0.0/16 (127.0.0.1 is the host's own). ``--fabric`` names a range
exactly; one that overlaps a live lease is refused (``FabricTaken``).

The files are rewritten in place (never renamed over): in a sticky shared
directory only a file's owner may replace it, and every user's server must be
able to write the registry. Nothing is fsync'ed: after a reboot every holder
is gone anyway.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import ipaddress
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from latticework.fabric import DEFAULT_RANGE

log = logging.getLogger("latticework.fabric")

LEASE_DIR_VARIABLE = "LATTICEWORK_LEASE_DIR"
REGISTRY_NAME = "fabric-leases.json"
LOCK_NAME = "fabric-leases.lock"
REMEMBERED_SUFFIX = ".fabric"  # beside the state file: the range it used last

LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")
HOST_OWN = ipaddress.IPv4Network("127.0.0.0/16")  # 127.0.0.1 and its neighbours stay out of every fabric
FALLBACK_PREFIXES = (13, 16)
SHARED_DIR_MODE = 0o1777  # like /tmp: everyone creates, only owners remove
SHARED_FILE_MODE = 0o666
STAT_START_FIELD = 22  # /proc/<pid>/stat: starttime, clock ticks after boot (proc(5))


class LeaseError(RuntimeError):
    """No fabric range could be leased; the message says why and what to do."""


class FabricTaken(LeaseError):
    """The range asked for overlaps one a running server holds."""

    def __init__(self, wanted: ipaddress.IPv4Network, holder: "Lease"):
        self.wanted, self.holder = wanted, holder
        super().__init__(
            f"fabric range {wanted} overlaps {holder.range}, which the Latticework server with pid {holder.pid} "
            f"uses (state: {holder.state}). Name a range no other server uses with --fabric, "
            f"or leave --fabric out to take a free one.")


class NoFreeFabric(LeaseError):
    """Every candidate range overlaps a running server's."""


@dataclass(frozen=True)
class Lease:
    range: ipaddress.IPv4Network
    pid: int
    started: int  # the holder's start time (STAT_START_FIELD); 0 where there is no /proc
    state: str

    def alive(self) -> bool:
        return process_start(self.pid) == self.started

    def to_json(self) -> dict:
        return {"range": str(self.range), "pid": self.pid, "started": self.started, "state": self.state}

    @classmethod
    def from_json(cls, entry: dict) -> "Lease":
        return cls(ipaddress.IPv4Network(entry["range"]), int(entry["pid"]), int(entry["started"]),
                   str(entry["state"]))


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (STAT_START_FIELD), None if no such process runs.

    Without /proc (macOS, BSD) every live process answers 0: only the pid is checked."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else _exists_without_proc(pid)
    except OSError:  # ESRCH: it exited while being read
        return None
    return start_of(stat)


def start_of(stat: str) -> int:
    """The start time in a ``/proc/<pid>/stat`` line.

    "pid (comm) state ...": comm may hold spaces and parentheses, so fields count from the last ")"."""
    return int(stat.rpartition(")")[2].split()[STAT_START_FIELD - 3])


def _exists_without_proc(pid: int) -> int | None:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # another user's process: it exists
        pass
    return 0


def lease_dir() -> Path:
    return Path(os.environ.get(LEASE_DIR_VARIABLE) or Path(tempfile.gettempdir()) / "latticework")


def holder_of(leases: Iterable[Lease], wanted: ipaddress.IPv4Network) -> Lease | None:
    """The first lease whose range overlaps ``wanted``."""
    return next((lease for lease in leases if lease.range.overlaps(wanted)), None)


# -- which ranges a server may take ------------------------------------------------------------

def candidates(preferred: ipaddress.IPv4Network | None = None) -> Iterator[ipaddress.IPv4Network]:
    """The ranges a server without ``--fabric`` tries, best first, each once.

    ``preferred`` (the state file's range last time), the default range, the other ranges of its size,
    then every /13 and every /16: all in 127.0.0.0/8 and none holding 127.0.0.0/16."""
    default = ipaddress.IPv4Network(DEFAULT_RANGE)
    ordered = [*([preferred] if preferred else []), default, *_areas(default.prefixlen),
               *(r for prefix in FALLBACK_PREFIXES for r in _areas(prefix))]
    seen: set[ipaddress.IPv4Network] = set()
    for network in ordered:
        if network not in seen:
            seen.add(network)
            yield network


def _areas(prefix: int) -> Iterator[ipaddress.IPv4Network]:
    return (r for r in LOOPBACK.subnets(new_prefix=prefix) if not r.overlaps(HOST_OWN))


def remembered(state: Path) -> ipaddress.IPv4Network | None:
    """The range the server of ``state`` used last time, if it left a readable note."""
    try:
        network = ipaddress.IPv4Network(_remembered_path(state).read_text().strip())
    except (OSError, ValueError):
        return None
    return network if network.subnet_of(LOOPBACK) else None


def remember(state: Path, network: ipaddress.IPv4Network) -> None:
    path = _remembered_path(state)
    try:
        if path.read_text().strip() == str(network):
            return
    except OSError:
        pass
    scratch = path.with_name(path.name + f".{os.getpid()}")
    scratch.write_text(f"{network}\n")
    scratch.replace(path)  # the state directory is this user's: a rename is safe and atomic here


def _remembered_path(state: Path) -> Path:
    return state.with_name(state.name + REMEMBERED_SUFFIX)


# -- the registry -----------------------------------------------------------------------------

class Registry:
    """The host's fabric leases (one file; every change under an exclusive lock)."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory or lease_dir()
        self.path = self.directory / REGISTRY_NAME
        self.lock_path = self.directory / LOCK_NAME

    def leases(self) -> list[Lease]:
        """The live leases; entries of processes that are gone are dropped from the file."""
        with self._session() as session:
            return list(session.leases)

    def claim(self, wanted: ipaddress.IPv4Network, state: Path | str) -> Lease:
        """Lease ``wanted`` to this process, or raise ``FabricTaken`` naming the live lease it overlaps."""
        with self._session() as session:
            holder = holder_of(session.leases, wanted)
            if holder is not None:
                raise FabricTaken(wanted, holder)
            return session.add(wanted, state)

    def claim_first(self, wanted: Iterable[ipaddress.IPv4Network], state: Path | str) -> tuple[Lease, Lease | None]:
        """Lease the first of ``wanted`` no live lease overlaps; also the live lease overlapping the very first."""
        ordered = list(wanted)
        with self._session() as session:
            free = next((network for network in ordered if holder_of(session.leases, network) is None), None)
            if free is None:
                raise NoFreeFabric(
                    f"every loopback range a fabric may use overlaps one a running Latticework server holds "
                    f"({len(session.leases)} leases in {self.path}); stop a server, or name a range with --fabric")
            first_holder = holder_of(session.leases, ordered[0])
            return session.add(free, state), first_holder

    def release(self, lease: Lease) -> None:
        with self._session() as session:
            session.leases = [held for held in session.leases if held != lease]

    @contextlib.contextmanager
    def _session(self) -> Iterator["_Session"]:
        try:
            self._prepare_directory()
            with _opened(self.lock_path, os.O_RDONLY) as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the descriptor closes
                with _opened(self.path, os.O_RDWR) as registry:
                    session = _Session(registry, self.path)
                    yield session
                    session.save()
        except OSError as exc:
            raise LeaseError(f"cannot use the fabric lease registry in {self.directory} ({exc.strerror or exc}); "
                             f"set ${LEASE_DIR_VARIABLE} to a directory every Latticework server on this host "
                             f"can write") from None

    def _prepare_directory(self) -> None:
        try:
            self.directory.mkdir(parents=True)
        except FileExistsError:
            return
        os.chmod(self.directory, SHARED_DIR_MODE)  # past the umask: every user's server leases here


class _Session:
    """The registry read under the lock: the live leases, written back when they changed."""

    def __init__(self, descriptor: int, path: Path):
        self.descriptor, self.path = descriptor, path
        read = _parse(_read_all(descriptor), path)
        self.leases = [lease for lease in read if lease.alive()]
        self._written = read

    def add(self, network: ipaddress.IPv4Network, state: Path | str) -> Lease:
        pid = os.getpid()
        lease = Lease(network, pid, process_start(pid) or 0, str(state))
        self.leases = [*self.leases, lease]
        return lease

    def save(self) -> None:
        if self.leases == self._written:
            return
        data = json.dumps({"leases": [lease.to_json() for lease in self.leases]}, indent=1).encode()
        os.lseek(self.descriptor, 0, os.SEEK_SET)
        os.ftruncate(self.descriptor, 0)
        os.write(self.descriptor, data)


def _read_all(descriptor: int) -> bytes:
    chunks = []
    while chunk := os.read(descriptor, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(data: bytes, path: Path) -> list[Lease]:
    if not data.strip():
        return []
    try:
        entries = json.loads(data)["leases"]
        return [Lease.from_json(entry) for entry in entries]
    except (ValueError, KeyError, TypeError) as exc:
        # Only a writer killed mid-write leaves this; its holders may be live, but nothing tells which.
        log.warning("fabric lease registry %s is unreadable (%s); starting it afresh", path, exc)
        return []


@contextlib.contextmanager
def _opened(path: Path, flags: int) -> Iterator[int]:
    descriptor = _open_shared(path, flags)
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def _open_shared(path: Path, flags: int) -> int:
    """Open ``path``, creating it readable and writable by every user when missing.

    An existing file is opened without O_CREAT: Linux's ``fs.protected_regular`` refuses O_CREAT on another
    user's file in a sticky shared directory, even one its mode lets everybody write."""
    try:
        return os.open(path, flags)
    except FileNotFoundError:
        pass
    try:
        descriptor = os.open(path, flags | os.O_CREAT | os.O_EXCL, SHARED_FILE_MODE)
    except FileExistsError:  # another process created it meanwhile
        return os.open(path, flags)
    try:
        os.fchmod(descriptor, SHARED_FILE_MODE)  # past the umask
    except OSError as exc:
        if exc.errno != errno.EPERM:
            raise
    return descriptor


# -- what a server does ------------------------------------------------------------------------

@dataclass(frozen=True)
class Taken:
    """The lease a server runs on; the range its state file used last time, and who holds that now."""

    lease: Lease
    remembered: ipaddress.IPv4Network | None = None
    passed_over: Lease | None = None  # the live lease that kept the server off its first choice

    def moved(self) -> str | None:
        """Why VPC addresses differ from the last run of this state file (None: they do not)."""
        if self.remembered is None or self.remembered == self.lease.range or self.passed_over is None:
            return None
        holder = self.passed_over
        return (f"fabric range {self.remembered}, which this state file used last time, overlaps {holder.range} "
                f"of the server with pid {holder.pid} (state: {holder.state}); this run uses {self.lease.range}, "
                f"so VPC resolver and Lattice addresses change")


def take(state: Path, wanted: ipaddress.IPv4Network | None = None, registry: Registry | None = None) -> Taken:
    """Lease ``wanted`` (``--fabric``), or without it the first free of ``candidates()`` preferring what
    ``state`` used last; remember the range beside ``state`` for the next start."""
    registry = registry or Registry()
    if wanted is not None:
        taken = Taken(registry.claim(wanted, state))
    else:
        last = remembered(state)
        lease, passed_over = registry.claim_first(candidates(last), state)
        taken = Taken(lease, last, passed_over)
    try:
        remember(state, taken.lease.range)
    except OSError as exc:  # the server still runs; only the next start may pick another range
        log.warning("cannot remember the fabric range beside %s: %s", state, exc)
    return taken


@contextlib.contextmanager
def held(state: Path, wanted: ipaddress.IPv4Network | None = None,
         registry: Registry | None = None) -> Iterator[Taken]:
    """``take`` a lease for the duration of the block, then release it."""
    registry = registry or Registry()
    taken = take(state, wanted, registry)
    try:
        yield taken
    finally:
        registry.release(taken.lease)
