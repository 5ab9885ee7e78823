"""What a provider knows about the call it is serving (never the HTTP request)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from latticework import formats
from latticework.config import Credential, Directory
from latticework.store import Transaction


@dataclass
class RequestContext:
    service: str
    operation: str
    account: str
    region: str
    request_id: str
    credential: Credential
    tx: Transaction = None  # type: ignore[assignment]  # set by the dispatcher for the call's transaction
    # Quota overrides of the accounts file: account id -> quota code -> value.
    quotas: dict[str, dict[str, int]] = field(default_factory=dict)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    # Where the server keeps its state (local stand-ins for public DNS and SNS live beside it).
    state_dir: Path | None = None
    # The accounts file's accounts and organizations (RAM reads principals' organizations from it).
    directory: Directory | None = None

    @property
    def partition(self) -> str:
        return formats.partition_of(self.region)

    def arn(self, service: str, resource: str, account: str | None = None) -> str:
        """The ARN of ``resource`` (``vpc/vpc-...``) of ``service`` in the call's Region and account
        (``account`` for another owner: a peer account, or ``aws`` for AWS-owned resources)."""
        return formats.arn(self.partition, service, self.region, account or self.account, resource)

    def timestamp(self) -> str:
        """The call's time as bodies store it and the wire writes it (ISO-8601, UTC, milliseconds)."""
        return formats.iso8601(self.now)
