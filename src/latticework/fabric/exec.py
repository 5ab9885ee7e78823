"""``latticework exec --vpc VPC -- CMD``: run a command as a client inside a VPC (Linux).

The loopback fabric already attributes a connection to a VPC by its
destination: every service a VPC reaches answers on that VPC's Lattice
address. So a client is "inside" a VPC as soon as its names resolve through
the VPC's resolver, which answers that address. ``run_in_vpc`` arranges that
for one command, and for nothing else on the host:

1. The command gets a private mount namespace (``unshare(CLONE_NEWNS)``,
   mount propagation private, so no mount leaks back to the host). As root
   that is all; any other user also gets a user namespace that maps the
   user's own uid and gid to themselves, so the command keeps its identity
   (it only holds capabilities until it executes).
2. In it, files are bind-mounted over the host's:

   - ``/etc/resolv.conf``: ``nameserver <the VPC's resolver>``, plus the
     host's ``search``, ``domain`` and ``options`` lines;
   - ``/etc/nsswitch.conf`` (when the host has one): the host's, with
     ``hosts: files dns``, so NSS modules that bypass resolv.conf
     (systemd-resolved's ``resolve``, ``mdns``...) are not consulted;
   - nscd's socket, when there is one: an empty file, so glibc does not ask
     the host's name cache.

3. The command runs with ``LATTICEWORK_VPC_ID`` set and CA variables
   naming a bundle of the system's CAs and Latticework's local CA
   (``CA_BUNDLE_VARIABLES``), and the CA alone in ``NODE_EXTRA_CA_CERTS``
   (Node adds it to its built-in roots). A variable the user already set to
   a file keeps what it trusts: it names a copy of that file with the local
   CA appended.

The wrapper stays in the host's namespace: it forwards SIGINT, SIGTERM,
SIGHUP and SIGQUIT to the command (except those the terminal already sent to
the whole foreground process group, which would otherwise arrive twice),
returns the command's exit status and removes its temporary files.

``exec --sign`` runs the signing proxy of ``latticework.fabric.signing``
beside the command, in this process: the command gets the proxy in its
``env`` (``http_proxy``...) and the proxy's CA with Latticework's in
``ca_pem``; nothing else here changes.

resolv.conf cannot name a port, so the VPC's resolver must listen on 53.
Exit codes of the wrapper's own failures follow env(1): 125 when the
namespace cannot be set up, 126 when the command cannot run, 127 when it is
not found.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, NoReturn, Sequence

RESOLV_CONF = "/etc/resolv.conf"
NSSWITCH_CONF = "/etc/nsswitch.conf"
NSCD_SOCKETS = ("/run/nscd/socket", "/var/run/nscd/socket")
HOSTS_LINE = "hosts: files dns"
KEPT_RESOLV_KEYWORDS = ("search", "domain", "options")
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                  "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem")

VPC_VARIABLE = "LATTICEWORK_VPC_ID"
CA_BUNDLE_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH")
CA_ALONE_VARIABLES = ("NODE_EXTRA_CA_CERTS",)

SETUP_FAILED, CANNOT_EXECUTE, NOT_FOUND = 125, 126, 127

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
SI_KERNEL = 0x80  # si_code of a signal the kernel sent, such as the terminal's ^C to its foreground group

FORWARDED = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT})
WAKE = FORWARDED | {signal.SIGCHLD}
# Signals whose default action ends a process without a core dump: a wrapper dying by one re-raises it.
TERMINATING = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGKILL, signal.SIGPIPE, signal.SIGALRM,
                         signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2})

NOT_LINUX = ("latticework exec runs the command in a Linux mount namespace; it is not available on {platform} "
             "(run Latticework and the command in a Linux VM or container, or point the client at the VPC's "
             "resolver, `latticework vpc resolver VPC_ID`, yourself)")
NOT_PORT_53 = ("the resolver of {vpc} listens on port {port}, but resolv.conf can only name port 53: run "
               "`latticework up` as root, or let unprivileged processes bind port 53 with "
               "`sudo sysctl net.ipv4.ip_unprivileged_port_start=53`, then restart it")
NO_NAMESPACE = (" (latticework exec needs root, or unprivileged user namespaces: "
                "`sudo sysctl kernel.unprivileged_userns_clone=1` on Debian, "
                "`sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0` on Ubuntu 23.10 and later; "
                "in a container, CAP_SYS_ADMIN)")


class ExecError(Exception):
    """The command could not be started inside the VPC; ``exit_code`` is what the wrapper exits with."""

    def __init__(self, message: str, exit_code: int = SETUP_FAILED):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class VpcInfo:
    """What a client needs to know about its VPC (``GET /_latticework/vpcs/<vpc-id>``)."""

    vpc_id: str
    account: str
    region: str
    resolver: str
    resolver_port: int
    lattice: str

    @classmethod
    def from_json(cls, body: Mapping) -> "VpcInfo":
        return cls(vpc_id=body["vpcId"], account=body["account"], region=body["region"],
                   resolver=body["resolver"], resolver_port=int(body.get("resolverPort", 53)),
                   lattice=body["lattice"])


# -- the files and environment of a command inside a VPC (pure) ----------------------

def resolv_conf(vpc: VpcInfo, host_text: str) -> str:
    """The VPC's resolv.conf: its resolver alone; the host's search list and options stay."""
    kept = [line for line in host_text.splitlines() if line.split()[:1] and line.split()[0] in KEPT_RESOLV_KEYWORDS]
    return "\n".join([f"# latticework exec: a client inside {vpc.vpc_id}", f"nameserver {vpc.resolver}", *kept]) + "\n"


def nsswitch_conf(host_text: str) -> str:
    """The host's nsswitch.conf with host names from /etc/hosts, then DNS, and nothing else."""
    lines = host_text.splitlines()
    hosts = [i for i, line in enumerate(lines) if line.lstrip().startswith("hosts:")]
    if not hosts:
        return "\n".join([*lines, HOSTS_LINE]) + "\n"
    lines[hosts[0]] = HOSTS_LINE
    return "\n".join(line for i, line in enumerate(lines) if i not in hosts[1:]) + "\n"


def vpc_environment(base: Mapping[str, str], vpc_id: str, bundle: str | None, ca: str | None) -> dict[str, str]:
    """``base`` plus the VPC id and the CA variables the user has not set (set but empty counts as unset)."""
    env = dict(base)
    env[VPC_VARIABLE] = vpc_id
    for names, path in ((CA_BUNDLE_VARIABLES, bundle), (CA_ALONE_VARIABLES, ca)):
        for name in names:
            if path and not env.get(name):
                env[name] = path
    return env


def extended_bundles(env: Mapping[str, str], directory: Path, ca_pem: str | None) -> dict[str, str]:
    """For CA variables the user set to a readable file: a copy of it with the local CA appended."""
    extended = {}
    for name in (*CA_BUNDLE_VARIABLES, *CA_ALONE_VARIABLES):
        path = env.get(name)
        if not (ca_pem and path and os.path.isfile(path)):
            continue
        try:
            text = Path(path).read_text()
        except (OSError, UnicodeDecodeError):
            continue
        separator = "" if not text or text.endswith("\n") else "\n"
        extended[name] = _write(directory / f"{name.lower()}.pem", text + separator + ca_pem)
    return extended


def system_bundle() -> str:
    """The system's trusted CAs (PEM), as OpenSSL finds them; empty when there are none."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, *SYSTEM_BUNDLES):
        if candidate and os.path.isfile(candidate):
            try:
                text = Path(candidate).read_text()
            except (OSError, UnicodeDecodeError):
                continue
            return text if text.endswith("\n") else text + "\n"
    return ""


# -- running the command ---------------------------------------------------------------

def run_in_vpc(vpc: VpcInfo, argv: Sequence[str], ca_pem: str | None = None,
               env: Mapping[str, str] | None = None) -> int:
    """Run ``argv`` inside ``vpc`` and return its exit status (negative: the signal that ended it).

    Raises ``ExecError`` when the command cannot be started there.
    """
    _check(vpc, argv)
    directory = Path(tempfile.mkdtemp(prefix="latticework-exec-"))
    directory.chmod(0o755)  # nothing secret inside, and the command may switch to another user
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, WAKE)  # from now on signals wait for ``_wait``
    try:
        binds, bundle, ca = _prepare(vpc, ca_pem, directory)
        base = os.environ if env is None else env
        child_env = vpc_environment(base, vpc.vpc_id, bundle, ca)
        child_env.update(extended_bundles(base, directory, ca_pem))
        return _wait(_spawn(argv, child_env, binds, mask))
    finally:
        _discard_pending()
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        shutil.rmtree(directory, ignore_errors=True)


def check_support() -> str | None:
    """Why commands cannot run inside a VPC on this host, or None when they can."""
    if not sys.platform.startswith("linux"):
        return NOT_LINUX.format(platform=sys.platform)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    try:
        _spawn([sys.executable, "-c", ""], dict(os.environ), [], mask).wait()
    except ExecError as exc:
        return str(exc)
    return None


def exit_like(status: int) -> NoReturn:
    """End this process the way the command ended: same exit code, or death by the same signal."""
    if status < 0 and -status in TERMINATING:
        signal.signal(-status, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {-status})
        os.kill(os.getpid(), -status)
    sys.exit(128 - status if status < 0 else status)  # a shell's convention for a signal


def _check(vpc: VpcInfo, argv: Sequence[str]) -> None:
    if not sys.platform.startswith("linux"):
        raise ExecError(NOT_LINUX.format(platform=sys.platform))
    if not argv:
        raise ExecError("no command to run")
    if vpc.resolver_port != 53:
        raise ExecError(NOT_PORT_53.format(vpc=vpc.vpc_id, port=vpc.resolver_port))
    if not os.path.exists(RESOLV_CONF):  # a missing file (or dangling link) cannot be mounted over
        raise ExecError(f"{RESOLV_CONF} does not exist on this host; create it (it may be empty) and try again")


def _prepare(vpc: VpcInfo, ca_pem: str | None, directory: Path) -> tuple[list[tuple[str, str]], str | None, str | None]:
    """Write the VPC's files; return (source, target) bind mounts, the CA bundle and the CA alone."""
    binds = [(_write(directory / "resolv.conf", resolv_conf(vpc, _read(RESOLV_CONF))), RESOLV_CONF)]
    if os.path.exists(NSSWITCH_CONF):
        binds.append((_write(directory / "nsswitch.conf", nsswitch_conf(_read(NSSWITCH_CONF))), NSSWITCH_CONF))
    binds += [(_write(directory / "no-nscd", ""), socket) for socket in _nscd_sockets()]
    if ca_pem is None:
        return binds, None, None
    ca = _write(directory / "latticework-ca.pem", ca_pem)
    return binds, _write(directory / "ca-bundle.pem", system_bundle() + ca_pem), ca


def _nscd_sockets() -> list[str]:
    return sorted({os.path.realpath(path) for path in NSCD_SOCKETS if os.path.exists(path)})


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except (OSError, UnicodeDecodeError):
        return ""


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o644)
    return str(path)


def _spawn(argv: Sequence[str], env: Mapping[str, str], binds: list[tuple[str, str]], mask) -> subprocess.Popen:
    """Start ``argv`` in a namespace of its own; its setup errors come back through a pipe."""
    errors, error_end = os.pipe()  # close-on-exec: the child's end closes when the command starts
    try:
        return subprocess.Popen(list(argv), env=dict(env), preexec_fn=_Namespace(binds, error_end, mask))
    except subprocess.SubprocessError:
        os.close(error_end)
        error_end = -1
        raise ExecError(_read_all(errors) or "setting up the VPC's namespace failed") from None
    except FileNotFoundError:
        raise ExecError(f"{argv[0]}: command not found", NOT_FOUND) from None
    except OSError as exc:  # not executable, not a program (ENOEXEC)...
        raise ExecError(f"{argv[0]}: {exc.strerror or exc}", CANNOT_EXECUTE) from None
    finally:
        os.close(errors)
        if error_end >= 0:
            os.close(error_end)


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


class _SetupError(Exception):
    pass


class _Namespace:
    """What the child does between fork and exec: enter its own mount namespace, mount the VPC's files."""

    def __init__(self, binds: list[tuple[str, str]], error_end: int, mask):
        self.binds = [(os.fsencode(source), os.fsencode(target)) for source, target in binds]
        self.error_end = error_end
        self.mask = mask
        self.uid, self.gid = os.geteuid(), os.getegid()
        self.libc = _libc()  # loaded before the fork, not in the child

    def __call__(self) -> None:
        try:
            self._unshare()
            self._mount(None, b"/", MS_REC | MS_PRIVATE, "making mounts private")
            for source, target in self.binds:
                self._mount(source, target, MS_BIND, f"mounting over {os.fsdecode(target)}")
        except _SetupError as exc:
            os.write(self.error_end, str(exc).encode())
            raise
        signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)

    def _unshare(self) -> None:
        if self.uid == 0 and self.libc.unshare(CLONE_NEWNS) == 0:
            return
        # Not root (or root without CAP_SYS_ADMIN): a user namespace grants the right to mount in a mount
        # namespace it owns (user_namespaces(7)).
        if self.libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
            raise _SetupError(f"cannot create a mount namespace: {os.strerror(ctypes.get_errno())}{NO_NAMESPACE}")
        self._map_ids()

    def _map_ids(self) -> None:
        # The user stays who they are inside; "deny" must precede gid_map for an unprivileged writer.
        for name, line in (("setgroups", "deny"), ("uid_map", f"{self.uid} {self.uid} 1"),
                           ("gid_map", f"{self.gid} {self.gid} 1")):
            try:
                fd = os.open(f"/proc/self/{name}", os.O_WRONLY)
                try:
                    os.write(fd, line.encode())
                finally:
                    os.close(fd)
            except OSError as exc:
                raise _SetupError(f"cannot write /proc/self/{name}: {exc.strerror}{NO_NAMESPACE}") from None

    def _mount(self, source: bytes | None, target: bytes, flags: int, doing: str) -> None:
        if self.libc.mount(source, target, None, flags, None) != 0:
            hint = NO_NAMESPACE if self.uid else ""
            raise _SetupError(f"{doing}: {os.strerror(ctypes.get_errno())}{hint}")


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.unshare.argtypes = (ctypes.c_int,)
    libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p)
    return libc


def _wait(child: subprocess.Popen) -> int:
    """Wait for ``child``, forwarding the signals meant for it; return its status."""
    delay = 0.01  # SIGCHLD wakes us at once; the timeout only covers it going to another thread
    while (status := child.poll()) is None:
        info = signal.sigtimedwait(WAKE, delay)
        delay = min(delay * 2, 1.0)
        if info is not None and forwards(info.si_signo, info.si_code):
            _send(child, info.si_signo)
    return status


def forwards(signo: int, code: int) -> bool:
    """Whether a signal the wrapper received goes on to the command.

    Not when the kernel sent it (``SI_KERNEL``): the terminal sends ^C, ^\\ and
    hangups to its whole foreground process group, the command included, and a
    second copy would make many programs give up their graceful shutdown.
    """
    return signo in FORWARDED and code != SI_KERNEL


def _send(child: subprocess.Popen, signo: int) -> None:
    try:
        child.send_signal(signo)
    except ProcessLookupError:
        pass  # it ended meanwhile


def _discard_pending() -> None:
    """Signals that arrived as the command ended were for it; none may surprise the caller once unblocked."""
    while signal.sigtimedwait(WAKE, 0) is not None:
        pass
