"""Accepting relayed connections when the process runs out of descriptors (EMFILE).

The backlog stays readable while ``accept`` fails, so an accept loop that merely retries spins on the event loop
and logs on every turn. ``Listeners._accept_relaying`` stops watching the port for ``ACCEPT_BACKOFF`` instead,
then takes the waiting connections once descriptors are free again. The descriptor limit is the process's, so
the scenario runs in a child process of its own.
"""

import json
import subprocess
import sys

SCRIPT = """
import asyncio, json, logging, os, resource, socket

warnings = []
class Count(logging.Handler):
    def emit(self, record):
        if "retrying" in record.getMessage():
            warnings.append(record)
logging.getLogger("latticework.dataplane").addHandler(Count())
from latticework.dataplane.listeners import Listeners
from latticework.dataplane.plane import Plane

async def main():
    loop = asyncio.get_running_loop()
    listeners = Listeners(Plane())
    server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(128); server.setblocking(False)
    port = server.getsockname()[1]
    task = asyncio.create_task(listeners._accept_relaying(server, "127.0.0.1", port))
    await asyncio.sleep(0)
    clients = [socket.socket() for _ in range(3)]
    for c in clients:
        c.setblocking(False)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    filler = []
    try:
        while True:
            filler.append(os.dup(0))
    except OSError:
        pass
    for c in clients:
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
    await asyncio.sleep(0.5)
    stuck = len(warnings)
    for fd in filler:
        os.close(fd)
    outcomes = []
    for c in clients:
        try:
            got = await asyncio.wait_for(loop.sock_recv(c, 1), 2)
            outcomes.append("closed" if got == b"" else "data")
        except ConnectionResetError:
            outcomes.append("reset")
        except asyncio.TimeoutError:
            outcomes.append("hung")
    print(json.dumps({"warnings": stuck, "outcomes": outcomes}))
    task.cancel()

asyncio.run(main())
"""


def test_out_of_descriptors_backs_off_then_takes_the_waiting_connections():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # About one warning per backoff (0.1 s) in the half second without descriptors, not one per loop turn.
    assert 1 <= seen["warnings"] <= 10, seen
    # Once descriptors are free the three connections are taken (no load balancer at that address: reset).
    assert seen["outcomes"] == ["reset", "reset", "reset"], seen
