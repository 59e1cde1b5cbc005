"""vrrpwatch: watch, analyze and join VRRP virtual routers."""

__version__ = "0.2.0"
