"""(filled in by its family)."""


class AssociationOps:
    pass
