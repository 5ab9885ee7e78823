"""(filled in by its family)."""


class TargetGroupOps:
    pass
