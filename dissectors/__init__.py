"""Wire-format decoders and builders for VRRP, CARP, ARP and IPv6 neighbour discovery.

Pure functions over bytes returning frozen dataclasses; stdlib only; nothing here imports vrrpwatch.
"""
