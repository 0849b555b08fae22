#!/usr/bin/env python3
"""The monitor loop of the classic QEMU Monitor tutorial, as the collector benchmark's contender.

Raw sockets and json, nothing else: connect to each QMP socket, read the greeting, negotiate,
then every INTERVAL seconds ask each VM for query-status, query-cpus-fast and query-blockstats,
one after another, and print one JSON line per VM with the three replies (qemu-dash --batch
prints one line per VM per poll too, so the benchmark counts VM-polls the same way).

    monitor.py [--interval SECS] SOCKET...
"""

import argparse
import json
import socket
import sys
import time


class Monitor:
    """One QMP connection, one command at a time."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.file = self.sock.makefile("rw", encoding="utf-8", newline="\n")
        greeting = json.loads(self.file.readline())
        assert "QMP" in greeting, greeting
        self.command("qmp_capabilities")

    def command(self, name, arguments=None):
        message = {"execute": name}
        if arguments is not None:
            message["arguments"] = arguments
        self.file.write(json.dumps(message) + "\n")
        self.file.flush()
        while True:
            reply = json.loads(self.file.readline())
            if "event" in reply:
                continue  # the tutorial's loop ignores events
            if "error" in reply:
                raise RuntimeError(f"{self.path}: {name}: {reply['error']}")
            return reply["return"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("sockets", nargs="+")
    args = parser.parse_args()
    monitors = [Monitor(path) for path in args.sockets]
    next_tick = time.monotonic()
    while True:
        for monitor in monitors:
            line = {
                "time": time.time(),
                "target": monitor.path,
                "status": monitor.command("query-status"),
                "cpus": monitor.command("query-cpus-fast"),
                "blockstats": monitor.command("query-blockstats"),
            }
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()
        next_tick += args.interval
        time.sleep(max(0.0, next_tick - time.monotonic()))


if __name__ == "__main__":
    try:
        main()
    except (KeyboardInterrupt, BrokenPipeError):
        pass
