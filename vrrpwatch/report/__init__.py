"""The HTML report (the failover picture): rendered from a run's report data, no I/O but the
template files shipped with the package."""
