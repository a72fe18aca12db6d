#!/usr/bin/env python3
"""pg_cut_proxy.py PORT_FILE PG_SOCKET ARM_FILE

A TCP proxy on 127.0.0.1 (its port written to PORT_FILE) in front of a
PostgreSQL Unix socket, for tests that lose the connection at COMMIT.
While ARM_FILE exists, the first CommandComplete "COMMIT" the server
sends is handled as ARM_FILE says, then ARM_FILE is removed:
  drop   the server committed, the client never hears it: the
         connection is cut instead (the outcome is unknown to it)
  after  the client gets the CommandComplete, then the connection is cut
         before ReadyForQuery
The client must not ask for SSL or GSS (sslmode=disable
gssencmode=disable): every server message is then a typed one.
"""
import os
import socket
import struct
import sys
import threading

port_file, pg_socket, arm_file = sys.argv[1:4]
fire_lock = threading.Lock()


def take_arm():
    """The armed mode, once: None when not armed (or already fired)."""
    with fire_lock:
        try:
            with open(arm_file) as f:
                mode = f.read().strip()
            os.unlink(arm_file)
            return mode
        except FileNotFoundError:
            return None


def close_both(a, b):
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def client_to_server(client, server):
    try:
        while (data := client.recv(65536)):
            server.sendall(data)
    except OSError:
        pass
    close_both(client, server)


def server_to_client(server, client):
    """Forwards whole messages, so a COMMIT's CommandComplete can be
    held back or be the last thing the client gets."""
    buf = b""
    try:
        while (data := server.recv(65536)):
            buf += data
            out = b""
            while len(buf) >= 5:
                size = 1 + struct.unpack("!I", buf[1:5])[0]
                if len(buf) < size:
                    break
                msg, buf = buf[:size], buf[size:]
                if msg[0:1] == b"C" and msg[5:] == b"COMMIT\0" and os.path.exists(arm_file):
                    mode = take_arm()
                    if mode:
                        if mode == "after":
                            client.sendall(out + msg)
                        close_both(server, client)
                        return
                out += msg
            if out:
                client.sendall(out)
    except OSError:
        pass
    close_both(server, client)


def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(listener.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    while True:
        client, _ = listener.accept()
        server = socket.socket(socket.AF_UNIX)
        server.connect(pg_socket)
        for fn, args in ((client_to_server, (client, server)), (server_to_client, (server, client))):
            threading.Thread(target=fn, args=args, daemon=True).start()


main()
