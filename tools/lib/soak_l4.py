#!/usr/bin/env python3
"""L4 load for tools/soak: TCP connections held open and UDP flows through the kernel fast path.

usage: soak_l4.py ADDR TCP_PORT UDP_PORT SECONDS STATUS_FILE [TCP_CONNS] [UDP_FLOWS]

Each TCP connection sends an HTTP/1.1 keep-alive request every 0.5 s on the same socket and
reads the whole answer (the backends are xgate-echo); a connection that errs, closes or
answers anything but 200 is counted broken and opened again. Each UDP flow (its own socket,
so its own 5-tuple) sends a datagram every 0.2 s and waits up to 1 s for the echo; a datagram
without an answer is counted lost. Counters go to STATUS_FILE as one JSON object every second
and at the end.
"""
import json
import os
import socket
import sys
import time

addr, tcp_port, udp_port, seconds, status_file = sys.argv[1:6]
tcp_conns = int(sys.argv[6]) if len(sys.argv) > 6 else 8
udp_flows = int(sys.argv[7]) if len(sys.argv) > 7 else 4
tcp_port, udp_port, seconds = int(tcp_port), int(udp_port), float(seconds)
REQUEST = b"GET /soak HTTP/1.1\r\nHost: l4.example.com\r\n\r\n"

stats = {"tcp_requests": 0, "tcp_broken": 0, "tcp_open": 0, "udp_sent": 0, "udp_answered": 0,
         "udp_lost": 0, "errors": []}


def note(error):
    if len(stats["errors"]) < 20:
        stats["errors"].append(f"{time.strftime('%H:%M:%S')} {error}")


class Tcp:
    def __init__(self):
        self.sock = None
        self.buf = b""
        self.due = time.monotonic()
        self.waiting = False

    def open(self):
        self.sock = socket.create_connection((addr, tcp_port), timeout=3)
        self.sock.setblocking(False)
        self.buf, self.waiting = b"", False

    def broken(self, why):
        stats["tcp_broken"] += 1
        note(f"tcp: {why}")
        try:
            self.sock.close()
        except OSError:
            pass
        self.sock = None

    def answer_done(self):
        head, sep, body = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return None
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if len(body) < length:
            return None
        return head.split(b" ", 2)[1] if b" " in head else b"?"


def udp_flow():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((addr, udp_port))
    s.setblocking(False)
    return {"sock": s, "due": time.monotonic(), "sent_at": None}


def main():
    tcps = [Tcp() for _ in range(tcp_conns)]
    udps = [udp_flow() for _ in range(udp_flows)]
    end = time.monotonic() + seconds
    next_report = 0.0
    while time.monotonic() < end:
        now = time.monotonic()
        for c in tcps:
            if c.sock is None:
                try:
                    c.open()
                except OSError as e:
                    stats["tcp_broken"] += 1
                    note(f"tcp connect: {e}")
                    c.due = now + 0.5
                    continue
            if not c.waiting and now >= c.due:
                try:
                    c.sock.send(REQUEST)
                    c.waiting, c.sent_at = True, now
                except OSError as e:
                    c.broken(f"send: {e}")
                    continue
            if c.waiting:
                try:
                    data = c.sock.recv(65536)
                    if not data:
                        c.broken("closed by the other end")
                        continue
                    c.buf += data
                except BlockingIOError:
                    if now - c.sent_at > 3:
                        c.broken("no answer in 3 s")
                    continue
                except OSError as e:
                    c.broken(f"recv: {e}")
                    continue
                code = c.answer_done()
                if code is not None:
                    stats["tcp_requests"] += 1
                    c.buf, c.waiting, c.due = b"", False, now + 0.5
                    if code != b"200":
                        c.broken(f"answer {code!r}")
        for f in udps:
            s = f["sock"]
            try:
                while True:
                    s.recv(65536)
                    if f["sent_at"] is not None:
                        stats["udp_answered"] += 1
                        f["sent_at"] = None
            except (BlockingIOError, ConnectionRefusedError):
                pass
            if f["sent_at"] is not None and now - f["sent_at"] > 1:
                stats["udp_lost"] += 1
                note("udp: no answer in 1 s")
                f["sent_at"] = None
            if f["sent_at"] is None and now >= f["due"]:
                try:
                    s.send(b"soak")
                    stats["udp_sent"] += 1
                    f["sent_at"], f["due"] = now, now + 0.2
                except OSError as e:
                    note(f"udp send: {e}")
        stats["tcp_open"] = sum(1 for c in tcps if c.sock is not None)
        if now >= next_report:
            write()
            next_report = now + 1
        time.sleep(0.01)
    # The last answers in flight.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline and any(f["sent_at"] is not None for f in udps):
        for f in udps:
            try:
                f["sock"].recv(65536)
                if f["sent_at"] is not None:
                    stats["udp_answered"] += 1
                    f["sent_at"] = None
            except (BlockingIOError, ConnectionRefusedError):
                pass
        time.sleep(0.01)
    stats["udp_lost"] += sum(1 for f in udps if f["sent_at"] is not None)
    write()


def write():
    tmp = status_file + ".tmp"
    with open(tmp, "w") as out:
        json.dump(stats, out)
    os.replace(tmp, status_file)


main()
