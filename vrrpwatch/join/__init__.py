"""Active: the sans-IO RFC 5798 router, its loop, its socket transport and its set-up.

``router`` is the state machine (no I/O); ``group`` is keepalived's sync group rule (no I/O);
``unit`` runs one instance's router against its ``transport`` (``RawTransport``: raw IP
protocol 112 and AF_PACKET), writing its lines through ``log``, running its ``notify`` scripts
and recording held addresses in the ``statefile``; ``loop`` sleeps for every unit at once
(``mux`` waits on several transports) and keeps sync groups together; ``settings`` merges the
user's options with a keepalived.conf's instances; ``setup`` learns each group from the wire,
builds the routers' configurations and starts the loop (``join()``).
"""
