#!/usr/bin/env python3
"""A TCP relay that delays every chunk it forwards: the network delay between hosts, where the
kernel has no netem qdisc to add it.

    delay_relay.py --pair LISTEN_HOST:PORT=TO_HOST:PORT [--pair ...]
                   [--delay-ms 2] [--jitter-ms 1] [--listen-netns NAME]

Each chunk read on one side is written to the other once `delay +- jitter` ms (uniform) have
passed, and never before the chunk ahead of it: order on a connection is kept, as TCP keeps it.
With --listen-netns, the listening sockets are made inside that network namespace (setns(2))
and the onward connections in the relay's own: a relay can join a namespace the test made to
the loopback brokers, without any address outside either.

It runs until SIGTERM or SIGINT; each side's close closes the other.
"""

import argparse
import asyncio
import ctypes
import os
import random
import signal
import socket
import sys
import time

CLONE_NEWNET = 0x40000000


def setns(path):
    """Moves this thread into the network namespace at `path`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({path}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def listening_socket(host, port, netns):
    """A listening socket on host:port, made inside `netns` when given."""
    own = "/proc/self/ns/net"
    back = os.open(own, os.O_RDONLY) if netns else None
    try:
        if netns:
            setns(f"/var/run/netns/{netns}")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
        return sock
    finally:
        if back is not None:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.setns(back, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the relay's namespace")
            os.close(back)


def address(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def pair(text):
    listen, sep, to = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r} is not LISTEN=TO")
    return address(listen), address(to)


async def pump(reader, writer, delay_s, jitter_s):
    """Forwards `reader` to `writer`, each chunk held its delay and kept in order; at most 256
    chunks wait, so a slow receiver slows the sender as TCP would."""
    queue = asyncio.Queue(maxsize=256)

    async def release():
        while True:
            due, chunk = await queue.get()
            if chunk is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.ensure_future(release())
    last_due = 0.0
    try:
        # A sender whose peer went away takes nothing more: stop reading, never wait on it.
        while not sender.done():
            chunk = await reader.read(65536)
            if not chunk:
                break
            due = time.monotonic() + random.uniform(delay_s - jitter_s, delay_s + jitter_s)
            last_due = max(due, last_due)
            put = asyncio.ensure_future(queue.put((last_due, chunk)))
            await asyncio.wait([put, sender], return_when=asyncio.FIRST_COMPLETED)
            put.cancel()
    except (ConnectionError, OSError):
        pass
    finally:
        if not sender.done():
            await queue.put((0.0, None))
        try:
            await sender
        except (ConnectionError, OSError):
            pass
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


async def serve(listen_sock, to, delay_s, jitter_s):
    async def connected(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.wait_for(
                asyncio.open_connection(*to), timeout=10
            )
        except (OSError, asyncio.TimeoutError):
            client_writer.close()
            return
        await asyncio.gather(
            pump(client_reader, server_writer, delay_s, jitter_s),
            pump(server_reader, client_writer, delay_s, jitter_s),
        )

    return await asyncio.start_server(connected, sock=listen_sock)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", type=pair, action="append", required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--listen-netns")
    args = parser.parse_args()
    if args.jitter_ms > args.delay_ms or args.delay_ms < 0:
        parser.error("give --delay-ms >= --jitter-ms >= 0")
    delay_s, jitter_s = args.delay_ms / 1e3, args.jitter_ms / 1e3
    servers = []
    for (host, port), to in args.pair:
        sock = listening_socket(host, port, args.listen_netns)
        servers.append(await serve(sock, to, delay_s, jitter_s))
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    print("ready", flush=True)
    await done.wait()
    for server in servers:
        server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except OSError as error:
        print(f"delay_relay: {error}", file=sys.stderr)
        sys.exit(2)
