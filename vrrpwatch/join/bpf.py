"""join's kernel filter: a classic BPF program for its raw sockets (``vrrp_filter``) that
passes only adverts of its VRID and version (and, once the group is known, of our own length
only with a good checksum), so a flood for other groups, or of bad checksums for ours, is dropped
in the kernel and never reaches Python; ``attach_filter`` puts it on a socket.
"""

from __future__ import annotations

import ctypes
import socket
import struct

from dissectors.ah import AH_HEADER_LEN

__all__ = ["Insn", "SO_ATTACH_FILTER", "attach_filter", "vrrp_filter"]

# Classic BPF (<linux/filter.h>): struct sock_filter is (code, jt, jf, k).
Insn = tuple[int, int, int, int]
SO_ATTACH_FILTER = 26
_BPF_LDX_IMM = 0x01  # X <- k
_BPF_LDX_MSH = 0xB1  # X <- 4 * (P[k] & 0x0f): the IPv4 header length (RFC 791 IHL)
_BPF_LDB_IND = 0x50  # A <- P[X + k]
_BPF_JEQ_K = 0x15  # pc += (A == k) ? jt : jf
_BPF_RET_K = 0x06
_BPF_LDB_ABS = 0x30  # A <- P[k]
_BPF_LDH_ABS = 0x28  # A <- P[k:k+2], network order
_BPF_LD_LEN = 0x80  # A <- the packet's length
_BPF_ADD_X = 0x0C  # A <- A + X
_BPF_ADD_K = 0x04  # A <- A + k
_BPF_AND_K = 0x54  # A <- A & k
_BPF_RSH_K = 0x74  # A <- A >> k
_BPF_TAX = 0x07  # X <- A
_BPF_TXA = 0x87  # A <- X
_BPF_ST = 0x02  # M[k] <- A
_BPF_LDX_MEM = 0x61  # X <- M[k]
# Loads at SKF_NET_OFF + n read the network header whatever the socket sees (<linux/filter.h>).
_SKF_NET_OFF = (1 << 32) - 0x100000
_ACCEPT = 0xFFFF
# RFC 5798 section 5.2.1/5.2.2 (RFC 3768 section 5.3.1/5.3.2): the first byte is Version
# (high nibble) and Type (low nibble, 1 = ADVERTISEMENT); the second is the VRID (5.2.3).
_ADVERT_BYTE = {2: 0x21, 3: 0x31}


def vrrp_filter(
    family: int,
    vrid: int,
    version: int | None = None,
    *,
    length: int | None = None,
    ah: bool = False,
) -> list[Insn]:
    """A program for join's raw socket of ``family``: pass adverts of ``vrid`` and ``version``
    (either when None, while the group is being learnt), drop everything else. With the
    ``length`` of our own advert (once the group is known), an advert of exactly that length
    must also carry a good checksum (``_checksum_test``): a flood of bad checksums for our own
    group is dropped in the kernel too. Adverts of another length go on to the router, which
    counts and logs them (a different address list, an owner's).

    A raw IPv4 socket's filter sees the packet from its IP header (VRRP after IHL words); a raw
    IPv6 socket's sees the payload only (the VRRP message at offset 0). With ``ah`` (an
    IPv4 protocol 51 socket, keepalived's auth_type AH) the VRRP message follows a 24-byte AH
    header (``dissectors.ah``), and only a 20-byte IPv4 header is checksummed."""
    if not 1 <= vrid <= 255:
        raise ValueError(f"VRID must be 1..255, not {vrid}")
    if ah and family != 4:
        raise ValueError("AH authentication is IPv4 (VRRPv2) only")
    versions = (2, 3) if version is None else (version,)
    prog: list[Insn] = [(_BPF_LDX_MSH, 0, 0, 0) if family == 4 else (_BPF_LDX_IMM, 0, 0, 0)]
    if ah:
        # X <- IHL + the AH header: the VRRP message's offset.
        prog += [(_BPF_TXA, 0, 0, 0), (_BPF_ADD_K, 0, 0, AH_HEADER_LEN), (_BPF_TAX, 0, 0, 0)]
    prog.append((_BPF_LDB_IND, 0, 0, 0))
    # One test per version byte: on a match jump over the remaining tests to the VRID test;
    # the last test jumps to the reject at the end on a mismatch.
    n = len(versions)
    for i, ver in enumerate(versions):
        left = n - i - 1
        prog.append((_BPF_JEQ_K, left, 3 if i == n - 1 else 0, _ADVERT_BYTE[ver]))
    prog.append((_BPF_LDB_IND, 0, 0, 1))
    if length is None or version is None:
        prog.append((_BPF_JEQ_K, 0, 1, vrid))
        prog.append((_BPF_RET_K, 0, 0, _ACCEPT))
        prog.append((_BPF_RET_K, 0, 0, 0))
        return prog
    tail = _checksum_test(family, version, length, skip=AH_HEADER_LEN if ah else 0)
    prog.append((_BPF_JEQ_K, 1, 0, vrid))
    prog.append((_BPF_RET_K, 0, 0, 0))
    return prog + tail


def _checksum_test(family: int, version: int, length: int, *, skip: int = 0) -> list[Insn]:
    """Accept unless the message is ``length`` bytes long and its checksum is bad. RFC 3768
    section 5.3.8: VRRPv2 sums the message; RFC 5798 section 5.2.8: VRRPv3 adds the IPv4
    (RFC 768) or IPv6 (RFC 8200 section 8.1) pseudo-header; over IPv4 the RFC 9568 variant
    without it is accepted too, as the decoder accepts it. The sum is kept in X, one
    halfword at a time (the message is whole halfwords: 8 bytes plus whole addresses).
    ``skip``: the bytes between the IPv4 header and the message (AH)."""
    out: list[Insn] = []
    accept_unless = (_BPF_JEQ_K, 1, 0)  # + k: skip the inline accept on a match
    if family == 4:
        # Only a 20-byte IPv4 header (no options) is checked: offsets are then fixed.
        out += [(_BPF_LDB_ABS, 0, 0, 0), (*accept_unless, 0x45), (_BPF_RET_K, 0, 0, _ACCEPT)]
        base, ip_len = 20 + skip, 20 + skip
    else:
        base, ip_len = 0, 0
    out += [(_BPF_LD_LEN, 0, 0, 0), (*accept_unless, ip_len + length)]
    out.append((_BPF_RET_K, 0, 0, _ACCEPT))
    out.append((_BPF_LDX_IMM, 0, 0, 0))
    for off in range(base, base + length, 2):
        out += [(_BPF_LDH_ABS, 0, 0, off), (_BPF_ADD_X, 0, 0, 0), (_BPF_TAX, 0, 0, 0)]
    if version == 2:
        return out + _fold_and_judge(last=True)
    # The pseudo-header: addresses, the protocol and the length.
    if family == 4:
        words = range(12, 20, 2)  # IPv4 source and destination
    else:
        words = range(_SKF_NET_OFF + 8, _SKF_NET_OFF + 40, 2)  # IPv6 source and destination
    pseudo: list[Insn] = []
    for off in words:
        pseudo += [(_BPF_LDH_ABS, 0, 0, off), (_BPF_ADD_X, 0, 0, 0), (_BPF_TAX, 0, 0, 0)]
    pseudo += [(_BPF_TXA, 0, 0, 0), (_BPF_ADD_K, 0, 0, 112 + length), (_BPF_TAX, 0, 0, 0)]
    if family == 6:
        return out + pseudo + _fold_and_judge(last=True)
    # IPv4: the message alone may verify (RFC 9568); else with the pseudo-header.
    return (
        out
        + [(_BPF_TXA, 0, 0, 0), (_BPF_ST, 0, 0, 0)]
        + _fold_and_judge(last=False)
        + [(_BPF_LDX_MEM, 0, 0, 0)]
        + pseudo
        + _fold_and_judge(last=True)
    )


def _fold_and_judge(*, last: bool) -> list[Insn]:
    """Fold the 32-bit sum in X to 16 bits (twice: RFC 1071 end-around carry) and accept when
    it is 0xffff; else reject (``last``) or go on after this block."""
    fold = [
        (_BPF_TXA, 0, 0, 0),
        (_BPF_RSH_K, 0, 0, 16),
        (_BPF_ST, 0, 0, 1),
        (_BPF_TXA, 0, 0, 0),
        (_BPF_AND_K, 0, 0, 0xFFFF),
        (_BPF_LDX_MEM, 0, 0, 1),
        (_BPF_ADD_X, 0, 0, 0),
        (_BPF_TAX, 0, 0, 0),
    ]
    out = fold + fold + [(_BPF_TXA, 0, 0, 0)]
    if last:
        return out + [
            (_BPF_JEQ_K, 0, 1, 0xFFFF),
            (_BPF_RET_K, 0, 0, _ACCEPT),
            (_BPF_RET_K, 0, 0, 0),
        ]
    return out + [(_BPF_JEQ_K, 0, 1, 0xFFFF), (_BPF_RET_K, 0, 0, _ACCEPT)]


def attach_filter(sock: socket.socket, program: list[Insn]) -> None:
    """SO_ATTACH_FILTER (socket(7)) with a struct sock_fprog {unsigned short len;
    struct sock_filter *filter}; it replaces the socket's previous program."""
    insns = b"".join(struct.pack("=HBBI", *insn) for insn in program)
    buf = ctypes.create_string_buffer(insns, len(insns))
    fprog = struct.pack("HL", len(program), ctypes.addressof(buf))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
