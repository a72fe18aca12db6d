#!/usr/bin/env python3
"""azure_cut_proxy.py PORT_FILE UPSTREAM_PORT MODE

An HTTP proxy on 127.0.0.1 (its port written to PORT_FILE) in front of
Azurite on UPSTREAM_PORT, for tests of what the Azure blob store does
when an answer is lost. Each client connection carries one request at a
time; each request goes upstream on a connection of its own. The first
request that MODE names is handled as MODE says, every other is passed
through:
  drop-putblob     Put Blob reaches Azurite, its answer is not passed
                   on: the connection is cut (the outcome is unknown)
  drop-blocklist   the same for Put Block List
  drop-delete      the same for Delete Blob
  503-block        Put Block is answered 503 by the proxy itself and
                   never reaches Azurite
  stuck-list       every List Blobs request that carries a marker gets
                   the answer to the first one, whose NextMarker never
                   moves on
"""
import socket
import sys
import threading

port_file, upstream_port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fired = threading.Event()
fire_lock = threading.Lock()
first_list = [None]  # stuck-list: the first List Blobs answer, replayed


def read_request(conn, buf):
    """One request (head, body) from conn, or None at its end."""
    while b"\r\n\r\n" not in buf[0]:
        data = conn.recv(65536)
        if not data:
            return None
        buf[0] += data
    head, rest = buf[0].split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        data = conn.recv(65536)
        if not data:
            return None
        rest += data
    buf[0] = rest[length:]
    return head, rest[:length]


def kind(head):
    line = head.split(b"\r\n", 1)[0].decode()
    method, target = line.split(" ")[:2]
    lower = head.lower()
    if method == "PUT" and "comp=blocklist" in target:
        return "blocklist"
    if method == "PUT" and "comp=block" in target:
        return "block"
    if method == "PUT" and b"x-ms-blob-type:" in lower:
        return "putblob"
    if method == "DELETE":
        return "delete"
    if method == "GET" and "comp=list" in target:
        return "list"
    return "other"


def take(what):
    """True once for the request MODE names."""
    with fire_lock:
        if fired.is_set() or not mode.endswith("-" + what):
            return False
        fired.set()
        return True


def forward(head, body):
    """Sends the request upstream and returns the whole answer."""
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
    up = socket.create_connection(("127.0.0.1", upstream_port))
    up.sendall(b"\r\n".join(lines) + b"\r\nConnection: close\r\n\r\n" + body)
    answer = b""
    while (data := up.recv(65536)):
        answer += data
    up.close()
    return answer


def serve(conn):
    buf = [b""]
    try:
        while (req := read_request(conn, buf)) is not None:
            head, body = req
            what = kind(head)
            if mode == "stuck-list" and what == "list":
                target = head.split(b" ", 2)[1]
                with fire_lock:
                    cached = first_list[0]
                if b"marker=" in target and cached is not None:
                    conn.sendall(cached)
                    break
                answer = forward(head, body)
                with fire_lock:
                    first_list[0] = first_list[0] or answer
                conn.sendall(answer)
                break
            if take(what):
                if mode.startswith("503-"):
                    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                 b"x-ms-error-code: ServerBusy\r\n\r\n")
                    continue
                forward(head, body)
                break  # the answer is lost: cut the connection
            answer = forward(head, body)
            conn.sendall(answer)
            break  # upstream closed after its answer: so do we
    except OSError:
        pass
    conn.close()


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(listener.getsockname()[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


main()
