"""Tiny TCP/UDP echo servers and clients for firewall tests, run inside namespaces with ``ip netns exec``.

    python netprobe.py serve tcp|udp PORT...           echo servers on 0.0.0.0 until killed
    python netprobe.py connect tcp|udp HOST PORT [--source ADDR] [--timeout S]

``connect`` prints ``ok`` (the echo came back), ``timeout`` or ``refused`` and
exits 0 only on ``ok``.
"""

from __future__ import annotations

import argparse
import selectors
import socket
import sys


def serve(proto: str, ports: list[int]) -> None:
    """Echo every TCP connection's first chunk / every UDP datagram, forever (IPv4 and IPv6)."""
    sel = selectors.DefaultSelector()
    for port in ports:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(socket.AF_INET6, kind)  # dual stack: IPv4 clients arrive as ::ffff:a.b.c.d
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("::", port))
        if proto == "tcp":
            sock.listen(64)
        sel.register(sock, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if proto == "tcp":
                conn, _addr = sock.accept()
                conn.settimeout(2)
                try:
                    data = conn.recv(1024)
                    conn.sendall(data)
                except OSError:
                    pass
                finally:
                    conn.close()
            else:
                data, addr = sock.recvfrom(1024)
                sock.sendto(data, addr)


def connect(proto: str, host: str, port: int, source: str | None, timeout: float) -> str:
    """One echo round trip: ``ok``, ``timeout`` or ``refused``."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as sock:
        sock.settimeout(timeout)
        if source:
            sock.bind((source, 0))
        try:
            if proto == "tcp":
                sock.connect((host, port))
                sock.sendall(b"ping")
                data = sock.recv(16)
            else:
                sock.sendto(b"ping", (host, port))
                data, _ = sock.recvfrom(16)
        except TimeoutError:
            return "timeout"
        except ConnectionRefusedError:
            return "refused"
        except OSError as exc:
            return f"error:{exc.errno}"
        return "ok" if data == b"ping" else "bad-echo"


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("proto", choices=["tcp", "udp"])
    s.add_argument("ports", type=int, nargs="+")
    c = sub.add_parser("connect")
    c.add_argument("proto", choices=["tcp", "udp"])
    c.add_argument("host")
    c.add_argument("port", type=int)
    c.add_argument("--source")
    c.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args()
    if args.cmd == "serve":
        serve(args.proto, args.ports)
        return 0
    result = connect(args.proto, args.host, args.port, args.source, args.timeout)
    print(result)
    return 0 if result == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
