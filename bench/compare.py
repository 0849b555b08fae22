#!/usr/bin/env python3
"""Compares two benchmark result files (JSON lines from bench/run.sh) figure by figure.

Records are matched by their non-numeric fields (measure, label, contender...) and their
counts (vms, count); every other number is compared, and a move of more than --threshold
(default 20 %) either way is flagged. Prints a plain table; exits 0 either way (a flag is a
place to look, e.g. before stopping work: `bench/run.sh --quick` runs it).
"""
import argparse
import json

IDENTITY_NUMBERS = {"vms", "count", "round", "cols", "rows", "scrapes", "window_s"}


def key(record):
    parts = []
    for name, value in sorted(record.items()):
        if isinstance(value, (str, bool)) or name in IDENTITY_NUMBERS:
            parts.append(f"{name}={value}")
    return " ".join(parts)


def numbers(record):
    return {
        name: value
        for name, value in record.items()
        if isinstance(value, (int, float))
        and not isinstance(value, bool)
        and name not in IDENTITY_NUMBERS
    }


def load(path):
    grouped = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            record = json.loads(line)
            grouped.setdefault(key(record), []).append(numbers(record))
    # Several rounds of one configuration: their mean.
    merged = {}
    for k, rounds in grouped.items():
        names = set().union(*rounds)
        merged[k] = {
            n: sum(r[n] for r in rounds if n in r) / sum(1 for r in rounds if n in r)
            for n in names
        }
    return merged


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--threshold", type=float, default=0.2)
    args = parser.parse_args()
    before, after = load(args.before), load(args.after)
    flagged = 0
    for k in sorted(set(before) & set(after)):
        print(k)
        for name in sorted(set(before[k]) & set(after[k])):
            old, new = before[k][name], after[k][name]
            ratio = new / old if old else float("inf") if new else 1.0
            flag = "  <-- moved" if abs(ratio - 1) > args.threshold and max(abs(old), abs(new)) > 1e-9 else ""
            flagged += bool(flag)
            print(f"    {name:32} {old:14.4g} -> {new:14.4g}  x{ratio:6.2f}{flag}")
    print(f"{flagged} figure(s) moved by more than {args.threshold:.0%}")


if __name__ == "__main__":
    main()
