"""``python -m vrrpwatch``: the same as the ``vrrpwatch`` command."""

from vrrpwatch.cli import cli

cli(prog_name="vrrpwatch")
