"""VPC Lattice's authorization of one request: the caller's identity policies, the service
network's auth policy and the service's auth policy, taken together.

The algorithm (https://docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html,
"How authorization works")
    1. Identity layer, for signed requests only: the caller's identity-based
       policies must explicitly allow the action on the resource. Credentials whose
       identity check always passes (an account's root user) are ``ADMIN``.
       Anonymous callers (``query.principal is None``) have no identity layer.
    2. Network layer: the service network's auth policy, when its auth type is
       ``AWS_IAM``; ``SKIP`` when the auth type is ``NONE``. ``AWS_IAM`` with no
       policy attached (``None``) allows nothing ("If you do not add an auth policy,
       all traffic will get an access denied error").
    3. Service layer: the same, for the service's auth type and policy.
    4. An explicit deny in any evaluated layer wins over every allow.

    When both the network and the service have auth type ``NONE`` nothing is
    evaluated, signed or not: IAM auth is off for that path, so the caller's
    identity policies are not consulted either ("By default, all requests are
    implicitly denied when the auth type is AWS_IAM").

    Which message a denial carries: the first layer, in the order identity,
    network, service, that denies explicitly; when none does, the first that does
    not allow. The 403 body names the layer:
    ``AccessDeniedException: User: <arn|anonymous> is not authorized to perform:
    <action> on resource: <resource> because no network-based policy allows the
    <action> action`` (or ``service-based``, ``identity-based``), and ``... with an
    explicit deny in a service-based policy`` (``network-based``, ``identity-based``).
    The network and service texts are AWS's as observed; the identity texts follow
    the same pattern.

Same account and cross-account alike
    IAM's general rule lets a resource-based policy alone grant access within one
    account (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
    is the stricter cross-account case, where both sides must allow). Lattice's
    guide states the stricter rule for every signed request: "For authorization to
    succeed, both auth policies and identity-based policies need to have explicit
    allow statements", the identity check being "from the account to which the
    requester belongs". So a signed caller needs an identity allow whether or not
    it belongs to the service owner's account; the account only matters through the
    policies' ``Principal`` elements (an account id there names only that
    account's principals).

``action`` is the query's: ``vpc-lattice-svcs:Invoke`` for HTTP and gRPC,
``vpc-lattice-svcs:Connect`` for TLS passthrough; the message names it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal, Sequence

from latticework.policy.context import Query
from latticework.policy.evaluate import NOT_APPLICABLE, CompiledPolicy, Decision, evaluate_identity

Layer = Literal["identity", "network", "service"]
_PHRASES: dict[Layer, str] = {"identity": "an identity-based", "network": "a network-based",
                              "service": "a service-based"}


class Skip(enum.Enum):
    """A layer whose auth type is ``NONE``: not evaluated."""

    SKIP = "SKIP"


class Admin(enum.Enum):
    """Credentials whose identity check always passes (an account's root user)."""

    ADMIN = "ADMIN"


SKIP = Skip.SKIP
ADMIN = Admin.ADMIN
ADMIN_ALLOW = Decision("Allow")  # the identity decision of ADMIN credentials: no statement, always allowed

LayerPolicy = CompiledPolicy | None | Literal[Skip.SKIP]
Identity = Sequence[CompiledPolicy] | Literal[Admin.ADMIN]


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    layer: Layer | None  # the layer that denied; None when allowed
    identity: Decision | None  # None: not evaluated (anonymous caller)
    network: Decision | None  # None: not evaluated (auth type NONE)
    service: Decision | None
    message: str = ""  # the 403 body when denied

    @property
    def decision(self) -> Decision | None:
        """The decision of the layer that denied."""
        return None if self.layer is None else getattr(self, self.layer)


OPEN = Verdict(True, None, None, None, None)  # both layers' auth type NONE


def layer_policy(auth_type: str, policy: CompiledPolicy | None) -> LayerPolicy:
    """The layer input for a service network or service: ``SKIP`` for auth type ``NONE``."""
    return SKIP if auth_type == "NONE" else policy


def authorize(query: Query, identity: Identity = (), network: LayerPolicy = SKIP,
              service: LayerPolicy = SKIP, session: CompiledPolicy | None = None) -> Verdict:
    """May ``query.principal`` perform ``query.action`` on ``query.resource`` through these layers?

    ``identity``: the caller's identity policies (ignored for anonymous callers), or ``ADMIN``.
    ``session``: a role session's session policy, which only limits what ``identity`` allows
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session).
    ``network``/``service``: the compiled auth policy, ``None`` (``AWS_IAM`` without a
    policy: nothing is allowed) or ``SKIP`` (auth type ``NONE``).
    """
    if network is SKIP and service is SKIP:
        return OPEN
    mine, network_decision, service_decision = (
        _identity(query, identity, session), _layer(network, query), _layer(service, query))
    layers: tuple[tuple[Layer, Decision | None], ...] = (
        ("identity", mine), ("network", network_decision), ("service", service_decision))
    for explicit in (True, False):  # an explicit deny anywhere is the answer before any missing allow
        for name, decision in layers:
            if decision is not None and (decision.denied if explicit else not decision.allowed):
                return Verdict(False, name, mine, network_decision, service_decision,
                               denial_message(query, name, explicit))
    return Verdict(True, None, mine, network_decision, service_decision)


def _identity(query: Query, identity: Identity, session: CompiledPolicy | None) -> Decision | None:
    if query.principal is None:
        return None
    if identity is ADMIN:
        return ADMIN_ALLOW
    return evaluate_identity(identity, session, query)


def _layer(policy: LayerPolicy, query: Query) -> Decision | None:
    if policy is SKIP:
        return None
    if policy is None:
        return NOT_APPLICABLE
    return policy.evaluate(query)


def denial_message(query: Query, layer: Layer, explicit: bool) -> str:
    """The body of the 403 Lattice answers when ``layer`` denies."""
    user = query.principal.arn if query.principal is not None else "anonymous"
    head = (f"AccessDeniedException: User: {user} is not authorized to perform: {query.action} "
            f"on resource: {query.resource}")
    phrase = _PHRASES[layer]
    if explicit:
        return f"{head} with an explicit deny in {phrase} policy"
    return f"{head} because no {phrase.split(' ', 1)[1]} policy allows the {query.action} action"
