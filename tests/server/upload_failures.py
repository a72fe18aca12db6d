#!/usr/bin/env python3
"""upload_failures.py - raw-socket clients for upload_failures.sh.

  idem PORT TOKEN     two uploads with one Idempotency-Key: the first
                      pauses mid-body while the second completes; both
                      must answer 201 with the second's ticket.
  stall PORT TOKEN    an upload that stops mid-file and waits for the
                      server to close the connection (idle timeout).
  drop PORT PATH TOK  a download read a little, then dropped.
"""
import json
import socket
import sys
import time


def body(desc, files):
    b = b'--BB\r\nContent-Disposition: form-data; name="description"\r\n\r\n' + desc.encode() + b"\r\n"
    for name, data in files:
        b += (b'--BB\r\nContent-Disposition: form-data; name="f"; filename="' + name.encode() + b'"\r\n\r\n'
              + data + b"\r\n")
    return b + b"--BB--\r\n"


def head(port, tok, length, key=None):
    h = f"POST /api/v1/tickets HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {tok}\r\n"
    if key:
        h += f"Idempotency-Key: {key}\r\n"
    h += f"Content-Type: multipart/form-data; boundary=BB\r\nContent-Length: {length}\r\n\r\n"
    return h.encode()


def response(s):
    s.settimeout(20)
    d = b""
    while b"\r\n\r\n" not in d:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("connection closed before an answer")
        d += chunk
    h, _, rest = d.partition(b"\r\n\r\n")
    lines = h.split(b"\r\n")
    cl = int(next(l.split(b":", 1)[1] for l in lines if l.lower().startswith(b"content-length")))
    while len(rest) < cl:
        rest += s.recv(65536)
    return int(lines[0].split()[1]), json.loads(rest[:cl])


def idem(port, tok):
    b1 = body("first", [("a.log", b"A" * 100000), ("b.log", b"B" * 1000)])
    s1 = socket.create_connection(("127.0.0.1", port))
    s1.sendall(head(port, tok, len(b1), "K-inflight") + b1[:60000])
    time.sleep(0.3)
    b2 = body("second", [("c.log", b"C" * 10)])
    s2 = socket.create_connection(("127.0.0.1", port))
    s2.sendall(head(port, tok, len(b2), "K-inflight") + b2)
    st2, j2 = response(s2)
    s1.sendall(b1[60000:])
    st1, j1 = response(s1)
    print(st2, j2.get("id"), j2.get("description"), st1, j1.get("id"), j1.get("description"))


def stall(port, tok):
    b = body("x", [("a.log", b"A" * 150000)])
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head(port, tok, len(b)) + b[:90000])
    s.settimeout(20)
    try:
        print("closed" if s.recv(1000) == b"" else "answered")
    except OSError as e:
        print("error", e)


def drop(port, path, tok):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n\r\n".encode())
    s.recv(4096)
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()  # a reset, mid-body
    print("dropped")


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "idem":
        idem(int(sys.argv[2]), sys.argv[3])
    elif what == "stall":
        stall(int(sys.argv[2]), sys.argv[3])
    elif what == "drop":
        drop(int(sys.argv[2]), sys.argv[3], sys.argv[4])
