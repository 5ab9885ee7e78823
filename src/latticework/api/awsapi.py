"""A served AWS API: its model, its provider, and its wire protocol.

``AwsApi`` is what the gateway dispatches to, chosen by the SigV4 signing
name. A subclass per protocol turns an HTTP request into (operation, params)
and results or errors back into HTTP; everything in between (validation,
idempotency, transactions) is shared and lives in ``api.dispatch``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from botocore.model import OperationModel, ServiceModel
from botocore import xform_name

from latticework.api import query, restjson
from latticework.api.errors import ServiceError
from latticework.api.models import service_model
from latticework.api.validate import Violation, summary
from latticework.api.wire import ParseError, Response


@dataclass(frozen=True)
class HttpRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]  # lower-cased names, repeated headers joined with ','
    body: bytes


class AwsApi:
    """Base: model lookup and the provider's method for an operation."""

    protocol = ""
    # Global services (IAM, STS) keep their records in no Region: their calls' transactions are scoped to
    # the region "" whichever Region signed the request (``records.iam.GLOBAL``).
    global_service = False

    def __init__(self, name: str, provider: Any, model: ServiceModel | None = None):
        self.name = name
        self.model = model or service_model(name)
        self.provider = provider

    def store_region(self, region: str) -> str:
        """The region a call's transaction is scoped to."""
        return "" if self.global_service else region

    def method_for(self, op: OperationModel):
        return getattr(self.provider, xform_name(op.name), None)

    def token_member(self, op: OperationModel) -> str | None:
        """The input member whose value makes a write idempotent: the one the model marks ``idempotencyToken``."""
        shape = op.input_shape
        if shape is None:
            return None
        return next((n for n, m in shape.members.items() if m.metadata.get("idempotencyToken")), None)

    def implemented(self) -> list[str]:
        return [op for op in self.model.operation_names if self.method_for(self.model.operation_model(op))]

    # Protocol hooks -----------------------------------------------------------
    def parse(self, request: HttpRequest) -> tuple[OperationModel, dict]:
        raise NotImplementedError

    def respond(self, op: OperationModel, result: dict, request_id: str) -> Response:
        raise NotImplementedError

    def error(self, err: ServiceError, request_id: str) -> Response:
        raise NotImplementedError

    # Service-specific errors (overridden where the model defines its own) ----
    def validation_error(self, violations: list[Violation]) -> ServiceError:
        return ServiceError(summary(violations), status=400, code="ValidationError")

    def parse_error(self, exc: ParseError) -> ServiceError:
        return ServiceError(str(exc), status=400, code="ValidationError")

    def unknown_operation(self, request: HttpRequest) -> ServiceError:
        return ServiceError("The action or operation requested is invalid.", status=400, code="InvalidAction")

    def not_implemented(self, op: OperationModel) -> ServiceError:
        return ServiceError(f"{op.name} is not supported by Latticework yet.", status=400, code="InvalidAction")

    def idempotency_mismatch(self, op: OperationModel, token: str) -> ServiceError:
        return ServiceError(
            f"Client token {token} was already used with different parameters.",
            status=400, code="IdempotentParameterMismatch")


class RestJsonApi(AwsApi):
    protocol = "rest-json"

    def __init__(self, name: str, provider: Any, model: ServiceModel | None = None):
        super().__init__(name, provider, model)
        self.router = restjson.Router(self.model)

    def parse(self, request: HttpRequest) -> tuple[OperationModel, dict]:
        qs = parse_qs(request.raw_query, keep_blank_values=True)
        found = self.router.match(request.method, request.raw_path, qs)
        if found is None:
            raise self.unknown_operation(request)
        op, labels = found
        try:
            return op, restjson.parse_request(op, labels, qs, request.headers, request.body)
        except ParseError as exc:
            raise self.parse_error(exc) from None

    def respond(self, op, result, request_id):
        return restjson.serialize_response(op, result, request_id)

    def error(self, err, request_id):
        return restjson.serialize_error(self.model, err, request_id)


class QueryApi(AwsApi):
    protocol = "query"
    dialect = query.QUERY  # EC2 speaks its own (``query.EC2``)

    def _form(self, request: HttpRequest) -> dict[str, str]:
        content_type = request.headers.get("content-type", "")
        text = request.raw_query
        if request.body:
            if "x-www-form-urlencoded" not in content_type:
                raise self.unknown_operation(request)
            try:
                text = request.body.decode()
            except UnicodeDecodeError:
                raise self.unknown_operation(request) from None
        return dict(parse_qsl(text, keep_blank_values=True))

    def parse(self, request: HttpRequest) -> tuple[OperationModel, dict]:
        form = self._form(request)
        action = form.get("Action", "")
        if action not in self.model.operation_names:
            raise self.unknown_action(request, action)
        op = self.model.operation_model(action)
        try:
            return op, query.parse_request(op, form, self.dialect)
        except ParseError as exc:
            raise self.parse_error(exc) from None

    def respond(self, op, result, request_id):
        return query.serialize_response(self.model, op, result, request_id, self.dialect)

    def error(self, err, request_id):
        return query.serialize_error(self.model, err, request_id, self.dialect)

    def unknown_action(self, request: HttpRequest, action: str) -> ServiceError:
        """A well-formed request whose ``Action`` the model does not know."""
        return self.unknown_operation(request)

    def unknown_operation(self, request):
        return ServiceError("Could not find operation for this request.", status=400, code="InvalidAction")
