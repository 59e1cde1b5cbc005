"""The base of every vrrpwatch library error: the command group turns it into ``Error: ...``
and exit 2."""


class VrrpwatchError(Exception):
    pass
