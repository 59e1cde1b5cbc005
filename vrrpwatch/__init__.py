"""vrrpwatch: watch, analyze and join VRRP virtual routers."""

__version__ = "0.1.0"
