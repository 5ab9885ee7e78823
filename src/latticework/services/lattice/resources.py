"""(filled in by its family)."""


class ResourceOps:
    pass
