"""(filled in by its family)."""


class ServiceOps:
    pass
