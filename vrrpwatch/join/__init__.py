"""Active: the sans-IO RFC 5798 router, its loop, its socket transport and its set-up."""
