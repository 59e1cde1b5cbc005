"""Passive: observed routers, the master timeline, alert rules, known routers, the frame feed,
and live capture."""
