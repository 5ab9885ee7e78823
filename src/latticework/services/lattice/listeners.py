"""(filled in by its family)."""


class ListenerOps:
    pass
