"""IAM-style policies: documents (``document``) now, their evaluation later.

``parse_policy`` turns the JSON text of an auth policy or resource policy into
an immutable ``PolicyDocument`` or raises ``PolicyError`` saying what is wrong.
"""

from latticework.policy.document import (
    Condition,
    PolicyDocument,
    PolicyError,
    Principal,
    Statement,
    parse_policy,
)

__all__ = ["Condition", "PolicyDocument", "PolicyError", "Principal", "Statement", "parse_policy"]
