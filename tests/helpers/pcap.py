"""A minimal pcap writer for IDS tests: whole TCP sessions, DNS queries and TLS ClientHellos.

No scapy: Ethernet + IPv4 + TCP/UDP headers with correct checksums, written in
the classic libpcap format, so Suricata reassembles the streams as it would on
the wire.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

_MAC_A = b"\x02\x00\x00\x00\x00\x01"
_MAC_B = b"\x02\x00\x00\x00\x00\x02"


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _ip(src: str, dst: str) -> tuple[bytes, bytes]:
    return bytes(int(x) for x in src.split(".")), bytes(int(x) for x in dst.split("."))


def ipv4_packet(src: str, dst: str, proto: int, payload: bytes, ident: int = 1) -> bytes:
    """An IPv4 header + payload with its checksum."""
    s, d = _ip(src, dst)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64, proto, 0, s, d)
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return header + payload


def tcp_segment(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int, data: bytes) -> bytes:
    """A TCP header + data with its checksum."""
    s, d = _ip(src, dst)
    header = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
    pseudo = s + d + struct.pack("!BBH", 0, 6, len(header) + len(data))
    csum = _checksum(pseudo + header + data)
    return header[:16] + struct.pack("!H", csum) + header[18:] + data


def udp_datagram(src: str, dst: str, sport: int, dport: int, data: bytes) -> bytes:
    """A UDP header + data with its checksum."""
    s, d = _ip(src, dst)
    header = struct.pack("!HHHH", sport, dport, 8 + len(data), 0)
    pseudo = s + d + struct.pack("!BBH", 0, 17, 8 + len(data))
    csum = _checksum(pseudo + header + data) or 0xFFFF
    return header[:6] + struct.pack("!H", csum) + data


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass
class PcapWriter:
    """Collects frames and writes them as a pcap file."""

    frames: list[bytes] = field(default_factory=list)
    clock: float = 1_700_000_000.0
    _ident: int = 1

    def frame(self, ip_packet: bytes, forward: bool = True) -> None:
        """Add one Ethernet frame."""
        macs = _MAC_B + _MAC_A if forward else _MAC_A + _MAC_B
        self.frames.append(macs + b"\x08\x00" + ip_packet)

    def tcp_session(
        self,
        request: bytes,
        response: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        client: tuple[str, int] = ("10.232.1.2", 40000),
        server: tuple[str, int] = ("10.232.2.2", 80),
        mss: int = 1400,
    ) -> None:
        """A complete TCP conversation: handshake, request, response, close."""
        (c, cp), (s, sp) = client, server
        cseq, sseq = 1000, 5000

        def send(src: str, dst: str, spt: int, dpt: int, seq: int, ack: int, flags: int, data: bytes = b"") -> None:
            fwd = src == c
            self._ident += 1
            self.frame(
                ipv4_packet(src, dst, 6, tcp_segment(src, dst, spt, dpt, seq, ack, flags, data), self._ident), fwd
            )

        send(c, s, cp, sp, cseq, 0, SYN)
        send(s, c, sp, cp, sseq, cseq + 1, SYN | ACK)
        cseq += 1
        sseq += 1
        send(c, s, cp, sp, cseq, sseq, ACK)
        for i in range(0, len(request), mss):
            chunk = request[i : i + mss]
            send(c, s, cp, sp, cseq, sseq, PSH | ACK, chunk)
            cseq += len(chunk)
            send(s, c, sp, cp, sseq, cseq, ACK)
        for i in range(0, len(response), mss):
            chunk = response[i : i + mss]
            send(s, c, sp, cp, sseq, cseq, PSH | ACK, chunk)
            sseq += len(chunk)
            send(c, s, cp, sp, cseq, sseq, ACK)
        send(c, s, cp, sp, cseq, sseq, FIN | ACK)
        send(s, c, sp, cp, sseq, cseq + 1, FIN | ACK)
        send(c, s, cp, sp, cseq + 1, sseq + 1, ACK)

    def udp(self, src: tuple[str, int], dst: tuple[str, int], data: bytes) -> None:
        """One UDP datagram."""
        self._ident += 1
        self.frame(ipv4_packet(src[0], dst[0], 17, udp_datagram(src[0], dst[0], src[1], dst[1], data), self._ident))

    def write(self, path: Path) -> Path:
        """Write the pcap file (microsecond timestamps, 1 ms apart)."""
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
        t = self.clock
        for frame in self.frames:
            t += 0.001
            sec = int(t)
            usec = int((t - sec) * 1_000_000)
            out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
        path.write_bytes(b"".join(out))
        return path


def dns_query(name: str, ident: int = 0x1234) -> bytes:
    """A DNS A query for ``name``."""
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)


def tls_client_hello(sni: str) -> bytes:
    """A TLS 1.2 ClientHello record carrying ``sni`` in the server_name extension."""
    host = sni.encode()
    server_name = struct.pack("!BH", 0, len(host)) + host
    sni_ext = struct.pack("!HHH", 0x0000, len(server_name) + 2, len(server_name)) + server_name
    extensions = sni_ext
    body = (
        b"\x03\x03"
        + bytes(32)
        + b"\x00"
        + struct.pack("!H", 4)
        + b"\xc0\x2f\x00\x9c"
        + b"\x01\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )
    handshake = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def http_request(method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """An HTTP/1.1 request's bytes."""
    lines = [f"{method} {target} HTTP/1.1", "Host: app.example"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
