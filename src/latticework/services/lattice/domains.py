"""(filled in by its family)."""


class DomainVerificationOps:
    pass
