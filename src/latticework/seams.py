"""Where the control plane (``api``, ``services``) and the data plane meet.

Neither side imports the other: each names what it needs of the other as one
of these Protocols, and ``server`` (the composition root) hands each side the
object that provides it. The only data crossing is the store's revisions (the
snapshot is compiled from them) and what is said here:

- the API asks the data plane to wait until a revision is served
  (``Applier``), so that the answer to a write means "serving";
- the data plane tells the control plane which revisions it now serves
  (``Settler``), so transitional statuses settle (``CREATE_IN_PROGRESS`` ->
  ``ACTIVE``) only once they are true;
- Latticework's own HTTP paths (``/_latticework/...``) ask the data plane
  what it serves (``Introspection``);
- the server starts and stops its parts in order (``Lifecycle``).
"""

from __future__ import annotations

from typing import Protocol


class Applier(Protocol):
    async def applied(self, revision: int) -> None:
        """Return once a snapshot at or after ``revision`` serves and its statuses settled."""


class Settler(Protocol):
    def settle_all(self, skip_kinds: frozenset[str] = frozenset()) -> None:
        """Settle whatever a previous run left in progress (at start)."""

    def settle_applied(self, revision: int, skip_kinds: frozenset[str] = frozenset()) -> None:
        """Settle what writes up to ``revision`` left in progress: the data plane now serves them.

        ``skip_kinds`` are the data plane's to settle itself (a draining target goes when its
        in-flight requests are done)."""


class Introspection(Protocol):
    def status(self) -> dict:
        """The served revision, recent compile times and the fabric range."""

    def ca_pem(self) -> str:
        """The local certificate authority, PEM."""

    def vpc_info(self, vpc_id: str) -> dict | None:
        """What the data plane serves for one VPC: addresses, reachable names, bound ports (None: no VPC)."""

    def explain(self, description: dict) -> dict:
        """The auth decision the data plane would take on a described request, with its reasons; raises
        ``ValueError`` (its message for the client) when the description names nothing served."""


class Lifecycle(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...
