"""The ``vrrpwatch`` command line. The only package that imports click.

Each subcommand lives in its own module and registers itself on ``cli``; heavy libraries
(scapy, pyshark, rich, pyroute2) are imported inside commands so ``--help`` stays fast.
"""

from __future__ import annotations

import click

from vrrpwatch import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vrrpwatch")
def cli() -> None:
    """Watch, analyze and join VRRP (RFC 3768 / RFC 5798) virtual routers.

    \b
    Example:
        vrrpwatch decode captures/v2-failover.pcap
    """


def _register() -> None:
    # Imported for their side effect of adding commands to ``cli``.
    import importlib

    for name in ("decode", "analyze", "sniff", "join", "audit"):
        try:
            importlib.import_module(f"vrrpwatch.cli.{name}")
        except ModuleNotFoundError as exc:  # a command module not written yet
            if exc.name != f"vrrpwatch.cli.{name}":
                raise


_register()
