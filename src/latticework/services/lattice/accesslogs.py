"""(filled in by its family)."""


class AccessLogOps:
    pass
