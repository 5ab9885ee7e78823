"""The IAM provider: one method per operation, one mixin per family.

Families: ``users`` (and their access keys), ``roles`` (trust policies, instance profiles),
``policies`` (managed policies, versions, attachments), ``inline`` (inline policies), ``tags``.
"""

from __future__ import annotations

from latticework.services.iam.inline import InlinePolicyOps
from latticework.services.iam.policies import ManagedPolicyOps
from latticework.services.iam.roles import RoleOps
from latticework.services.iam.tags import TagOps
from latticework.services.iam.users import UserOps


class IamProvider(UserOps, RoleOps, ManagedPolicyOps, InlinePolicyOps, TagOps):
    pass
