class VrrpwatchError(Exception):
    """Base of every vrrpwatch library error; the CLI prints it as one Error: line, exit 2."""
