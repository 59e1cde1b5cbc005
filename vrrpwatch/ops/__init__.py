"""Running unattended: Prometheus metrics, alerts pushed to Alertmanager.

Everything here reads the monitor's state from its own thread (the HTTP server's, the
sender's); the packet loop does no work for it.
"""
