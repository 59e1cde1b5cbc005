"""The ``vrrpwatch`` command line. The only package that imports click.

Each subcommand lives in its own module and registers itself on ``cli``; heavy libraries
(scapy, pyshark, rich, pyroute2) are imported inside commands so ``--help`` stays fast.

One exit-code contract for every command (README "Exit codes"), kept here by the group:
0 done; 1 a verdict the user asked for (``--fail-on``, audit findings); 2 any error, as one
``Error: ...`` line (a library ``VrrpwatchError``, a usage error, a ``click.ClickException``);
130 on Ctrl-C. ``sniff`` and ``join`` catch SIGINT and SIGTERM themselves and exit 0.
"""

from __future__ import annotations

from typing import Any

import click

from vrrpwatch import __version__
from vrrpwatch.errors import VrrpwatchError

EXIT_OK = 0
EXIT_VERDICT = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process killed by Ctrl-C


class _Failure(click.ClickException):
    exit_code = EXIT_ERROR


class _Group(click.Group):
    """Maps library errors and Ctrl-C to the exit-code contract."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VrrpwatchError as exc:
            raise _Failure(str(exc)) from None
        except click.ClickException as exc:
            if exc.exit_code == EXIT_ERROR:
                raise
            raise _Failure(exc.format_message()) from None  # exit 1 is kept for verdicts
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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
