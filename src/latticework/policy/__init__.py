"""IAM-style policies: documents (``document``) and their evaluation (``evaluate``, ``lattice``).

``parse_policy`` turns the JSON text of an auth policy or resource policy into
an immutable ``PolicyDocument`` or raises ``PolicyError`` saying what is wrong.
``compile_policy`` compiles a document once (``compile_text``: stored JSON text, cached) into a ``CompiledPolicy`` whose
``evaluate(Query)`` answers a ``Decision`` with the statements that decided it;
``authorize`` runs VPC Lattice's algorithm over the identity, service network and
service layers and answers a ``Verdict`` with the 403 message AWS sends.
"""

from latticework.policy.document import (
    Condition,
    PolicyDocument,
    PolicyError,
    Principal,
    Statement,
    parse_policy,
)
from latticework.policy.evaluate import (
    Caller, CompiledPolicy, Decision, Query, Reason, compile_policy, compile_text, evaluate_all,
)
from latticework.policy.lattice import ADMIN, SKIP, Verdict, authorize, layer_policy

__all__ = ["ADMIN", "SKIP", "Caller", "CompiledPolicy", "Condition", "Decision", "PolicyDocument", "PolicyError",
           "Principal", "Query", "Reason", "Statement", "Verdict", "authorize", "compile_policy", "compile_text", "evaluate_all",
           "layer_policy", "parse_policy"]
