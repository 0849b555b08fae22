#!/usr/bin/env python3
"""The qemu.qmp contender of the round-trip benchmark (benches/suite/rtt.rs runs it).

Connects to a QMP socket with qemu.qmp's asyncio QMPClient, sends WARMUP query-status, then
N one after another, then N with at most DEPTH in flight (DEPTH workers, each awaiting its
own commands), and prints {"sequential": {...}, "pipelined": {...}} with wall and CPU
nanoseconds of this process for the N commands.
"""

import argparse
import asyncio
import json
import logging
import time

from qemu.qmp import QMPClient


async def measure(args):
    client = QMPClient("bench")
    await client.connect(args.socket)
    try:
        for _ in range(args.warmup):
            await client.execute("query-status")

        cpu0, wall0 = time.process_time_ns(), time.perf_counter_ns()
        for _ in range(args.n):
            await client.execute("query-status")
        sequential = {
            "wall_ns": time.perf_counter_ns() - wall0,
            "cpu_ns": time.process_time_ns() - cpu0,
        }

        async def worker(count):
            for _ in range(count):
                await client.execute("query-status")

        shares = [args.n // args.depth + (1 if i < args.n % args.depth else 0) for i in range(args.depth)]
        cpu0, wall0 = time.process_time_ns(), time.perf_counter_ns()
        await asyncio.gather(*(worker(share) for share in shares))
        pipelined = {
            "wall_ns": time.perf_counter_ns() - wall0,
            "cpu_ns": time.process_time_ns() - cpu0,
        }
    finally:
        await client.disconnect()
    return {"sequential": sequential, "pipelined": pipelined}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--socket", required=True)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--depth", type=int, default=16)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(measure(args))))


if __name__ == "__main__":
    main()
