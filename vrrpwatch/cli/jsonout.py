"""``--json`` of analyze, report and audit: the document on standard output."""

from __future__ import annotations

import os
import sys
from typing import Any

from vrrpwatch.store.json_text import write_json


def print_json(doc: Any) -> None:
    """Write ``doc`` as ``json.dumps(doc, indent=2)`` would (vrrpwatch/store/json_text.py), in
    pieces. A reader that goes away (``| head``) ends the output quietly, as for sniff: the rest
    goes to /dev/null and the command's exit code stays its own (the run, the verdict)."""
    try:
        write_json(doc, sys.stdout)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
