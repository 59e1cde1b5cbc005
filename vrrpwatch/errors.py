"""The base of every vrrpwatch library error."""


class VrrpwatchError(Exception):
    """Base of every library error; the command group maps it to one ``Error: ...`` line and
    exit 2."""
