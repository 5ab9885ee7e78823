"""An acknowledged write survives ``kill -9`` of the server.

A dedicated server (own state file, a few accounts) takes concurrent writers:
each thread, in an account of its own (the service-network quota is per
account), creates service networks with a tag and then adds a second tag,
recording every call that answered 2xx. Once enough writes are acknowledged
the server is killed with SIGKILL while the writers are still sending. A new
server on the same state file must open cleanly and hold every acknowledged
network and tag; writes that were in flight when the kill landed may or may
not be there.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from conftest import client_for, start_server, write_accounts

WRITERS = 4
PER_WRITER = 40  # below the 50 service networks an account may have
KILL_AFTER = 60  # acknowledged writes before the kill
WAIT = 120  # seconds; a bound, not a pause


@dataclass
class Writer:
    n: int
    client: object
    acked: dict[str, dict[str, str]] = field(default_factory=dict)  # network id -> acknowledged tags
    arns: dict[str, str] = field(default_factory=dict)


def _write(writer: Writer, counter: list, enough: threading.Event, lock: threading.Lock) -> None:
    def acknowledged():
        with lock:
            counter[0] += 1
            if counter[0] >= KILL_AFTER:
                enough.set()

    try:
        for i in range(PER_WRITER):
            created = writer.client.create_service_network(name=f"crash-{writer.n}-{i}", tags={"first": str(i)})
            writer.acked[created["id"]] = {"first": str(i)}
            writer.arns[created["id"]] = created["arn"]
            acknowledged()
            writer.client.tag_resource(resourceArn=created["arn"], tags={"second": str(i)})
            writer.acked[created["id"]]["second"] = str(i)
            acknowledged()
    except (BotoCoreError, ClientError, OSError, KeyError):
        # The server is gone: stop writing. KeyError: an answer cut short by the kill parsed as an empty
        # one (no id), which acknowledges nothing.
        pass


def test_acknowledged_writes_survive_kill_9(tmp_path):
    state, config = tmp_path / "state.db", write_accounts(tmp_path / "accounts.toml", WRITERS)
    server = start_server(state, config)
    writers = [Writer(n, client_for(server, "vpc-lattice", n)) for n in range(WRITERS)]
    counter, enough, lock = [0], threading.Event(), threading.Lock()
    threads = [threading.Thread(target=_write, args=(w, counter, enough, lock)) for w in writers]
    try:
        for thread in threads:
            thread.start()
        assert enough.wait(WAIT), "writers did not get enough acknowledgements"
        server.stop(kill=True)
        for thread in threads:
            thread.join(WAIT)
    finally:
        server.stop(kill=True)
    assert sum(len(w.acked) for w in writers) > 0

    restarted = start_server(state, config)
    try:
        for writer in writers:
            _assert_kept(client_for(restarted, "vpc-lattice", writer.n), writer)
    finally:
        restarted.stop()


def _assert_kept(client, writer: Writer) -> None:
    listed = {n["id"] for n in client.list_service_networks(maxResults=100)["items"]}
    assert set(writer.acked) <= listed
    for network_id, tags in writer.acked.items():
        assert client.get_service_network(serviceNetworkIdentifier=network_id)["id"] == network_id
        kept = client.list_tags_for_resource(resourceArn=writer.arns[network_id])["tags"]
        assert tags.items() <= kept.items(), network_id
