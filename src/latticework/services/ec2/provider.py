"""The EC2 provider: one method per operation, one mixin per family.

Families: ``tags`` (CreateTags/DeleteTags/DescribeTags for every kind).
"""

from __future__ import annotations

from latticework.services.ec2.tags import TagOps


class Ec2Provider(TagOps):
    pass
