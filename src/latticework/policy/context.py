"""What a policy is asked: the caller (``Caller``) and the request (``Query``).

A ``Query`` is one authorization question: may ``principal`` perform ``action``
on ``resource``, given the request context ``keys``. The data plane builds one per
request; the evaluator only reads it.

The request context
    ``keys`` maps condition keys to values: a string for a single-valued key
    (``vpc-lattice-svcs:SourceVpc``, ``aws:PrincipalTag/team``), a tuple for a
    multivalued one (``vpc-lattice-svcs:RequestQueryString/x`` when ``x`` is given
    twice). An empty tuple is the same as an absent key. Policy variables
    (``${aws:username}``) read the same keys: the data plane puts ``aws:username``,
    ``aws:userid``, ``aws:PrincipalType`` (``Anonymous`` for unsigned callers) and
    the principal's tags there.

Key names are case-insensitive, values are not
    IAM: "Context key names are not case-sensitive. For example, including the
    aws:SourceIP context key is equivalent to testing for AWS:SourceIp"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html).
    The Lattice guide's "Condition keys are case sensitive"
    (https://docs.aws.amazon.com/vpc-lattice/latest/ug/auth-policies.html) is read
    as being about values: whether ``GET`` equals ``get`` is the operator's business
    (``StringEquals`` is case-sensitive, ``StringEqualsIgnoreCase`` is not). A key
    is looked up as written first, then case-insensitively, so two query-string
    keys that differ only in case (``?a=1&A=2``) each stay reachable by their own
    spelling; a spelling that matches neither exactly finds the first one given.

The caller
    ``Caller.arn`` is the principal as the 403 message and policies name it
    (``arn:aws:iam::A:user/u``, ``arn:aws:sts::A:assumed-role/R/s``,
    ``arn:aws:iam::A:root``); ``also`` holds the other ARNs a ``Principal``
    element may name the same caller by (the role of an assumed-role session).
    ``names`` is every name at once, the account's root ARN included: IAM checks
    the account, then the role, then the session
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from latticework.policy.patterns import ContextValue, folded_index

_ASSUMED_ROLE = re.compile(r"arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/.+")
_ARN_ACCOUNT = re.compile(r"arn:[^:]*:[^:]*:[^:]*:(\d{12}):.*")


@dataclass(frozen=True, slots=True)
class Caller:
    arn: str
    account: str
    also: tuple[str, ...] = ()
    root: str = field(init=False, repr=False, compare=False)
    names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        partition = self.arn.split(":")[1] if self.arn.startswith("arn:") and self.arn.count(":") >= 2 else "aws"
        object.__setattr__(self, "root", f"arn:{partition}:iam::{self.account}:root")
        object.__setattr__(self, "names", frozenset((self.arn, *self.also, self.root)))

    @classmethod
    def from_arn(cls, arn: str, role_arn: str | None = None) -> Caller:
        """The caller an ARN names; an assumed-role session is also known by its role's ARN
        (``role_arn`` when the role has a path, which a session ARN does not show)."""
        session = _ASSUMED_ROLE.fullmatch(arn)
        if session is not None:
            partition, account, role = session.groups()
            return cls(arn, account, (role_arn or f"arn:{partition}:iam::{account}:role/{role}",))
        account = _ARN_ACCOUNT.fullmatch(arn)
        return cls(arn, account.group(1) if account else "")


@dataclass(frozen=True, slots=True)
class Query:
    action: str
    resource: str
    principal: Caller | None = None  # None: anonymous (an unsigned request)
    keys: Mapping[str, ContextValue] = field(default_factory=dict)
    _folded: dict[str, ContextValue] | None = field(default=None, init=False, repr=False, compare=False)

    def value(self, key: str, folded: str | None = None) -> ContextValue | None:
        """The context value of ``key`` (``folded``: the key lowercased, if the caller has it),
        ``None`` when absent or empty."""
        found = self.keys.get(key)
        if found is None:
            index = self._folded
            if index is None:
                index = folded_index(self.keys)
                object.__setattr__(self, "_folded", index)
            found = index.get(key.lower() if folded is None else folded)
        return None if found == () else found
