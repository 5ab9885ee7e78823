"""The request pipeline, a short list of steps from HTTP to provider and back.

1. verify the SigV4 signature -> account, region, signing name
2. pick the ``AwsApi`` by signing name; parse the operation and its input
3. validate the input against the model
4. replay or refuse a reused ``clientToken`` (idempotency, generic for every
   member the model marks ``idempotencyToken``)
5. run the provider method: reads (Get/List/Describe) against committed state,
   writes in one store transaction
6. serialize the result, or the error, in the service's protocol

Calls run on the event-loop thread, one at a time. Provider logic over the
in-memory index and a SQLite commit take a fraction of a millisecond; running
them inline avoids handing work between threads under the GIL, which cost
milliseconds per call under concurrent load.

Records a write leaves in a transitional status (``CREATE_IN_PROGRESS``...)
settle once the data plane serves them (``api.settle``): the answer to the
write waits until the data plane has applied its revision (the
``seams.Applier`` given at construction), by which time they are settled, so
the next call a client makes sees them settled, and settled means serving.
Without a data plane (no applier) they settle in the writing transaction
itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from pathlib import Path

from botocore.model import OperationModel

from latticework.api import sigv4
from latticework.api.context import RequestContext
from latticework.api.errors import ServiceError
from latticework.api.wire import Response
from latticework.api.awsapi import AwsApi, HttpRequest
from latticework.api.settle import Settlement
from latticework.api.validate import validate
from latticework.config import Credentials, Directory
from latticework.seams import Applier
from latticework.store import Store, Transaction

log = logging.getLogger("latticework.api")

# Operations that only read: served on the event loop from committed state.
READ_PREFIXES = ("Get", "List", "Describe")


def _fingerprint(params: dict, token_member: str) -> str:
    rest = {k: v for k, v in params.items() if k != token_member}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, default=str).encode()).hexdigest()


class Dispatcher:
    def __init__(self, directory: Directory, store: Store, apis: dict[str, AwsApi], settlement: Settlement,
                 applier: Applier | None = None, state_dir: Path | None = None,
                 credentials: Credentials | None = None):
        self.directory = directory
        # Who signs with which key: the accounts file's credentials, IAM users' keys and STS sessions.
        self.credentials: Credentials = credentials or directory
        self.store = store
        self.apis = apis
        self.settlement = settlement
        self.applier = applier
        self.state_dir = state_dir

    # -- entry point -----------------------------------------------------------
    async def handle(self, request: HttpRequest) -> Response:
        request_id = str(uuid.uuid4())
        api = self._guess_api(request)
        try:
            verified = sigv4.verify(self.credentials, request.method, request.raw_path, request.raw_query,
                                    request.headers, request.body, query_protocol=api.protocol == "query")
            found = self.apis.get(verified.service)
            if found is None:
                return self._unknown_api(verified.service, request_id)
            api = found
            op, params = api.parse(request)
            self._validate(api, op, params)
            ctx = RequestContext(api.name, op.name, verified.credential.account_id, verified.region,
                                 request_id, verified.credential, quotas=self.directory.quotas,
                                 state_dir=self.state_dir, directory=self.directory)
            read_only = op.name.startswith(READ_PREFIXES)
            result = (self._read if read_only else self._call)(api, op, ctx, params)
            revision = None if read_only else ctx.tx.revision_written
            if revision is not None and self.applier is not None:
                await self.applier.applied(revision)
            return api.respond(op, result, request_id)
        except ServiceError as err:
            return api.error(err, request_id)
        except Exception:  # a bug of ours, never the client's: say so, keep serving
            log.exception("internal error serving %s", request.raw_path)
            return api.error(ServiceError("Internal server error", status=500, code="InternalServerException"),
                                 request_id)

    # -- steps -----------------------------------------------------------------
    def _guess_api(self, request: HttpRequest) -> AwsApi:
        """The API whose error format an unsigned or mis-signed request should get."""
        scope = request.headers.get("authorization", "")
        for name, api in self.apis.items():
            if f"/{name}/aws4_request" in scope:
                return api
        if b"Action=" in request.body or "Action=" in request.raw_query:
            return self.apis.get("sts") or next(iter(self.apis.values()))
        return self.apis.get("vpc-lattice") or next(iter(self.apis.values()))

    def _validate(self, api: AwsApi, op: OperationModel, params: dict) -> None:
        violations = validate(op.input_shape, params)
        if violations:
            raise api.validation_error(violations)

    def _call(self, api: AwsApi, op: OperationModel, ctx: RequestContext, params: dict) -> dict:
        """Run a writing operation in one transaction."""
        method = self._method(api, op)
        token_member = api.token_member(op)
        token = params.get(token_member) if token_member else None
        fingerprint = _fingerprint(params, token_member) if token_member and token is not None else ""
        with self.store.transaction(ctx.account, api.store_region(ctx.region), op.name) as tx:
            ctx.tx = tx
            if token is not None:
                replay = self._replay(api, op, tx, token, fingerprint)
                if replay is not None:
                    return replay
            result = method(ctx, params) or {}
            if token is not None:
                tx.remember_result(op.name, token, fingerprint, result)
            if self.applier is None:
                self.settlement.settle_now(tx, list(tx.written))
            else:
                self.settlement.hold(tx.written)
        return result

    def _read(self, api: AwsApi, op: OperationModel, ctx: RequestContext, params: dict) -> dict:
        """Run a reading operation against committed state (it cannot write)."""
        method = self._method(api, op)
        ctx.tx = self.store.reader(ctx.account, api.store_region(ctx.region), op.name)
        return method(ctx, params) or {}

    def _method(self, api: AwsApi, op: OperationModel):
        method = api.method_for(op)
        if method is None:
            raise api.not_implemented(op)
        return method

    def _replay(self, api: AwsApi, op: OperationModel, tx: Transaction, token: str,
                fingerprint: str) -> dict | None:
        seen = tx.idempotent_result(op.name, token)
        if seen is None:
            return None
        if seen[0] != fingerprint:
            raise api.idempotency_mismatch(op, token)
        return seen[1]

    def _unknown_api(self, name: str, request_id: str) -> Response:
        body = json.dumps({"__type": "UnknownServiceException",
                           "message": f"Latticework does not serve the '{name}' API."}).encode()
        return Response(400, [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id),
                              ("x-amzn-ErrorType", "UnknownServiceException")], body)

