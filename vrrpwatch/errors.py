class VrrpwatchError(Exception):
    """Base of every library error; the CLI maps it to 'Error: ...' and exit 2."""
