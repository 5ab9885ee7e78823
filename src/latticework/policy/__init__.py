"""IAM-style policies: documents (``document``) and their evaluation (``evaluate``).

``parse_policy`` turns the JSON text of an auth policy or resource policy into
an immutable ``PolicyDocument`` or raises ``PolicyError`` saying what is wrong.
``compile_policy`` compiles a document once into a ``CompiledPolicy`` whose
``evaluate(Query)`` answers a ``Decision`` with the statements that decided it.
"""

from latticework.policy.document import (
    Condition,
    PolicyDocument,
    PolicyError,
    Principal,
    Statement,
    parse_policy,
)
from latticework.policy.evaluate import Caller, CompiledPolicy, Decision, Query, Reason, compile_policy, evaluate_all

__all__ = ["Caller", "CompiledPolicy", "Condition", "Decision", "PolicyDocument", "PolicyError", "Principal", "Query",
           "Reason", "Statement", "compile_policy", "evaluate_all", "parse_policy"]
