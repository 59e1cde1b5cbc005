"""Active: the sans-IO RFC 5798 router, its loop, its socket transport and its set-up.

``router`` is the state machine (no I/O); ``loop`` runs it against a ``transport``
(``RawTransport``: raw IP protocol 112 and AF_PACKET), writing its lines through ``log``,
running the ``notify`` command and recording held addresses in the ``statefile``;
``settings`` merges the user's options with a keepalived.conf instance; ``setup`` learns the
group from the wire, builds the router's configuration and starts the loop (``join()``).
"""
