"""IAM: users, access keys, roles, inline and managed policies, tags; the ``query`` protocol over the store.

IAM is global: every call runs against the region ``""`` (``records.iam.GLOBAL``) whichever Region
signed it, and ARNs name no Region. Errors: ``ValidationError`` for input the model rejects,
``InvalidAction`` for an unknown or unserved action, and the model's own codes (``NoSuchEntity``,
``EntityAlreadyExists``, ``DeleteConflict``, ``MalformedPolicyDocument``, ``LimitExceeded``...)
from the providers (``common.error``).

Who may do what is not checked here: any credential of an account may manage that account's IAM
(identity-based policies limit ``AssumeRole``, see ``services.sts``, and are carried to the data
plane with each caller's identity).
"""

from __future__ import annotations

from latticework.api.awsapi import QueryApi
from latticework.services.iam.provider import IamProvider


class IamApi(QueryApi):
    global_service = True

    def __init__(self) -> None:
        super().__init__("iam", IamProvider())
