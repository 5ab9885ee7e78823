"""(filled in by its family)."""


class PolicyOps:
    pass
