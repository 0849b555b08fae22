#!/usr/bin/env python3
"""Turns the suite's JSON lines (bench/run.sh) into bench/RESULTS.md: machine, tables, goals.

Medians are over rounds (or presses, or frames); ratios are of medians. bench/analysis.md,
when present, is appended as the explanation of the goals missed.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path


def median(values):
    return statistics.median(values) if values else float("nan")


def p90(values):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, -(-9 * len(ordered) // 10) - 1)]


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def mem_total():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


def verdict(met):
    return "**met**" if met else "**missed**"


class Report:
    def __init__(self, records):
        self.by_bench = defaultdict(list)
        for record in records:
            self.by_bench[record["bench"]].append(record)
        self.goals = []  # (goal, measured, met)
        self.sections = []

    def rtt(self):
        records = self.by_bench["rtt"]
        if not records:
            return
        groups = defaultdict(list)
        for r in records:
            groups[(r["contender"], r["mode"])].append(r)
        med = {k: (median([r["wall_us_per_cmd"] for r in v]), median([r["cpu_us_per_cmd"] for r in v]))
               for k, v in groups.items()}
        # Ratios are taken within each block (same second, same load), then the median; the
        # Python rounds are not paired with blocks: the ratio of medians.
        wall = {(r["contender"], r["mode"], r["round"]): r["wall_us_per_cmd"] for r in records if r["paired"]}

        def ratio(contender, mode, floor="raw"):
            if (floor, mode) not in med:
                return float("nan")
            paired = [wall[(contender, mode, k)] / wall[(floor, mode, k)]
                      for (c, m, k) in wall if c == contender and m == mode and (floor, mode, k) in wall]
            return median(paired) if paired else med[(contender, mode)][0] / med[(floor, mode)][0]

        contenders = ["raw", "raw-id", "raw-tokio", "qemu-dash", "qemu-dash-multi-thread", "qemu.qmp"]
        rows = []
        for c in contenders:
            if (c, "sequential") not in med:
                continue
            seq, pipe = med[(c, "sequential")], med[(c, "pipelined")]
            rows.append([
                f"`{c}`",
                f"{seq[0]:.1f}", f"{ratio(c, 'sequential'):.3f}", f"{ratio(c, 'sequential', 'raw-id'):.3f}",
                f"{seq[1]:.1f}",
                f"{pipe[0]:.1f}", f"{ratio(c, 'pipelined'):.3f}", f"{ratio(c, 'pipelined', 'raw-id'):.3f}",
                f"{pipe[1]:.1f}",
            ])
        block = next(r["n"] for r in records if r["paired"])
        blocks = len({r["round"] for r in records if r["paired"]})
        python_n = next((r["n"] for r in records if not r["paired"]), 0)
        python_rounds = len({r["round"] for r in records if not r["paired"]})
        depth = max(r["depth"] for r in records)
        self.sections.append(
            "## 1. QMP round trip: `query-status`\n\n"
            "One QEMU (`-M none`) with a QMP socket per client. The Rust clients are connected at once "
            f"and take turns in {blocks} blocks of {block} commands, sequential (one in flight) and "
            f"pipelined ({depth} in flight), the order rotating every block; `÷ raw` is the median of "
            "the ratios taken within each block, so bursts of load from other work touch the "
            f"contenders alike. `qemu.qmp` runs between blocks as a subprocess, {python_rounds} rounds "
            f"of {python_n} commands (its `÷ raw` is the ratio of medians). Wall µs per command (median), "
            "and the client's own CPU µs per command (all its threads). `raw` is blocking std I/O on "
            "the socket, one line out and lines in until a reply (the floor: QEMU's own cost), sending the "
            "shortest request, `{\"execute\":\"query-status\"}`; `raw-id` the same client sending exactly "
            "what qemu-dash sends, `{\"execute\":\"query-status\",\"id\":N}` (QEMU 7.2 reads QMP input one "
            "byte per main-loop turn, so request length is QEMU time); `raw-tokio` the short request on a "
            "current-thread tokio runtime (what async I/O costs); "
            "`qemu-dash` is `qmp::Client::execute` on the runtime the binary uses (current-thread); "
            "`qemu-dash-multi-thread` the same client on a multi-thread runtime with 2 workers; "
            "`qemu.qmp` is Python's `qemu.qmp` 0.0.6 `QMPClient.execute` (asyncio).\n\n"
            + table(["client", "sequential µs", "÷ raw", "÷ raw-id", "CPU µs",
                     "pipelined µs", "÷ raw", "÷ raw-id", "CPU µs"], rows)
        )
        ours_seq = ratio("qemu-dash", "sequential")
        ours_pipe = ratio("qemu-dash", "pipelined")
        self.goals.append(("QMP round trip: qemu-dash ÷ raw ≤ 1.05 (sequential / pipelined)",
                           f"{ours_seq:.3f} / {ours_pipe:.3f} (÷ raw-id, same request bytes: "
                           f"{ratio('qemu-dash', 'sequential', 'raw-id'):.3f} / {ratio('qemu-dash', 'pipelined', 'raw-id'):.3f})",
                           ours_seq <= 1.05 and ours_pipe <= 1.05))
        if ("qemu.qmp", "sequential") in med:
            faster = all(med[("qemu-dash", m)][0] < med[("qemu.qmp", m)][0] for m in ("sequential", "pipelined"))
            self.goals.append((
                "QMP round trip: qemu-dash faster than qemu.qmp",
                f"{med[('qemu-dash', 'sequential')][0]:.0f} vs {med[('qemu.qmp', 'sequential')][0]:.0f} µs sequential, "
                f"{med[('qemu-dash', 'pipelined')][0]:.0f} vs {med[('qemu.qmp', 'pipelined')][0]:.0f} µs pipelined",
                faster))

    def collector(self):
        records = self.by_bench["collector"]
        if not records:
            return
        groups = defaultdict(list)
        for r in records:
            groups[(r["label"], r["vms"], r["contender"])].append(r)
        configs = sorted({(r["label"], r["vms"]) for r in records}, key=lambda c: (c[0] != "-M none + qcow2", c[1]))
        rows, qemu_rows = [], []
        interval = records[0]["interval_s"]
        for label, vms in configs:
            baseline = groups.get((label, vms, "none"), [])
            base_rate = median([r["qemu_cpu_ms"] / r["wall_s"] for r in baseline])
            per_poll, extras = {}, {}
            for contender in ("floor", "qemu-dash", "python-monitor"):
                runs = groups.get((label, vms, contender), [])
                if not runs:
                    continue
                polls = sum(r["polls"] for r in runs)
                wall = sum(r["wall_s"] for r in runs)
                each = [r["cpu_ms"] / r["polls"] for r in runs if r["polls"]]
                ms_per_poll = median(each)
                core = median([r["cpu_ms"] / r["wall_s"] / 10 for r in runs])
                per_poll[contender] = ms_per_poll
                python = next((r.get("python") for r in runs if r.get("python")), None)
                name = f"`{contender}`" + (f" ({python.split()[0]})" if python else "")
                rows.append([label, vms, name, f"{polls / wall:.1f}",
                             f"{ms_per_poll:.4f} ({min(each):.4f}–{max(each):.4f})",
                             f"{core:.3f} %", "", len(each)])
                qemu_each = [r["qemu_cpu_ms"] / r["wall_s"] - base_rate for r in runs]
                extra = median(qemu_each)
                extras[contender] = extra
                qemu_rows.append([label, vms, name, f"{base_rate:.2f}",
                                  f"{extra:+.2f} ({min(qemu_each):+.2f}–{max(qemu_each):+.2f})",
                                  f"{extra / (polls / wall) * 1000:+.1f}" if polls else "-", ""])
                if contender == "qemu-dash" and label.startswith("-M none") and vms >= 50:
                    self.goals.append((f"collector: {vms} VMs at {interval:g} s under 2 % of one core",
                                       f"{core:.2f} %", core < 2.0))
            for row in rows:
                if row[0] == label and row[1] == vms:
                    contender = row[2].split("`")[1]
                    if "floor" in per_poll and contender in per_poll:
                        row[6] = f"{per_poll[contender] / per_poll['floor']:.2f}"
            for row in qemu_rows:
                if row[0] == label and row[1] == vms:
                    contender = row[2].split("`")[1]
                    if extras.get("floor", 0) > 0 and contender in extras:
                        row[6] = f"{extras[contender] / extras['floor']:.2f}"
            if "floor" in per_poll and "qemu-dash" in per_poll and label.startswith("-M none"):
                ratio = per_poll["qemu-dash"] / per_poll["floor"]
                self.goals.append((f"collector CPU ≤ 1.25 × the floor ({vms} VM{'s' if vms > 1 else ''})",
                                   f"{ratio:.2f} × ({per_poll['qemu-dash']:.4f} vs {per_poll['floor']:.4f} ms per VM-poll)",
                                   ratio <= 1.25))
                if extras.get("floor", 0) > 0:
                    q = extras["qemu-dash"] / extras["floor"]
                    self.goals.append((f"QEMU CPU answering qemu-dash ≤ the floor client's ({vms} VM{'s' if vms > 1 else ''})",
                                       f"{q:.2f} × ({extras['qemu-dash']:.2f} vs {extras['floor']:.2f} ms/s)",
                                       q <= 1.0))
        window = median([r["wall_s"] for r in records if r["contender"] != "none"])
        rounds = len({r["round"] for r in records})
        self.sections.append(
            "## 2. Collector cost\n\n"
            f"`qemu-dash --batch --interval {interval:g}` watching real QEMUs, against the floor reference "
            "(`suite floor`, benches/suite/floor.rs: per tick one write of the 3 queries per VM, `poll()` "
            "over all sockets, replies decoded straight into typed structs, `/proc/<pid>/stat` kept open "
            "and read with `pread`, one write of all output lines) and the monitor loop of "
            "the classic QEMU Monitor tutorial (`bench/monitor.py`: raw socket + `json`, "
            "`query-status`, `query-cpus-fast`, `query-blockstats` per VM per interval, one line printed "
            "per VM-poll, as qemu-dash does). qemu-dash also reads `/proc` for host CPU and RSS, computes "
            "rates, asks `query-block` every 10th poll (name, memory and balloon once per connection and after the events that change them), and "
            f"formats a richer line. Measured over {rounds} rounds × ~{window:.0f} s per contender and "
            "VM count, after the connections settled; CPU is the contender's whole process "
            "(all threads, `/proc/<pid>/task/*/schedstat`). `-M none + qcow2` is `-M none` with one "
            "qcow2 drive (so `query-blockstats` has a device); `pc, idle, no OS` is a default machine "
            "with one vCPU and a virtio disk, firmware idle.\n\n"
            + "Each figure is the median over the rounds, with min–max; the contenders take turns "
            "within a round (the order rotates), so load moves them alike.\n\n"
            + table(["VMs", "count", "contender", "VM-polls/s", "CPU ms per VM-poll (min–max)", "% of one core",
                     "÷ floor", "rounds"], rows)
            + "\n\n## 3. Cost to QEMU\n\n"
            "The same windows, seen from the QEMUs: their summed CPU with the contender attached against "
            "windows with nothing attached (`baseline`), so `extra` is what answering costs QEMU.\n\n"
            + table(["VMs", "count", "watched by", "QEMUs' CPU ms/s, baseline", "extra ms/s (min–max)",
                     "extra µs per VM-poll", "÷ floor"], qemu_rows)
        )

    def render(self):
        records = self.by_bench["render"]
        bytes_records = self.by_bench["bytes"]
        if records:
            rows = []
            worst = 0.0
            for r in records:
                rows.append([r["size"], r["case"], f"{r['median_us']:.0f}", f"{r['p99_us']:.0f}",
                             f"{r['cpu_us_per_frame']:.0f}", f"{r['bytes_per_frame']:.0f}" if r["case"] != "render" else "-",
                             r["full_frame_bytes"]])
                worst = max(worst, r["median_us"])
            self.sections.append(
                "## 4. Rendering\n\n"
                "`ui::render` with full histories (300 samples in every sparkline, the 1000-entry event "
                f"log full, 4 vCPUs, 3 disks), {records[0]['frames']} frames per case. `render`: the "
                "pure render into a frame (no diff, no output). `idle frame`: a whole `Terminal::draw` "
                "through the dashboard's backend (`ui::screen`: the new frame compared with the shown one, "
                "crossterm's escape sequences) into a byte-counting sink when only the clock moved; `busy frame`: "
                "the same after a new sample (every sparkline shifts, every figure changes). "
                "`full repaint` is the first frame on an empty terminal.\n\n"
                + table(["size", "case", "median µs", "p99 µs", "CPU µs/frame", "bytes/frame", "full repaint bytes"], rows)
            )
            self.goals.append(("render: under 1 ms per frame (median, worst case)", f"{worst / 1000:.3f} ms",
                               worst < 1000))
            for r in records:
                if r["size"] == "240x67" and r["case"] == "busy frame":
                    self.goals.append(("a busy frame at 240x67 under 0.5 ms at p99",
                                       f"p99 {r['p99_us'] / 1000:.3f} ms (median {r['median_us'] / 1000:.3f} ms)",
                                       r["p99_us"] < 500))
        if bytes_records:
            full = {r["size"]: r["full_frame_bytes"] for r in records}
            rows = []
            for r in bytes_records:
                share = r["bytes_per_frame"] / full[r["size"]] if r["size"] in full else None
                rows.append([r["label"], r["size"], f"{r['bytes_per_s']:.0f}", f"{r['frames_per_s']:.2f}",
                             f"{r['bytes_per_frame']:.0f}", f"{share:.1%}" if share is not None else "-",
                             f"{r['changed_cells_per_s']:.0f}", f"{r['bytes_per_changed_cell']:.1f}"])
                if r["label"] == "idle" and share is not None:
                    self.goals.append((f"terminal output when idle, {r['size']}: only what changed is written",
                                       f"{r['bytes_per_frame']:.0f} bytes/frame = {share:.1%} of a repaint, "
                                       f"{r['bytes_per_changed_cell']:.1f} bytes per changed cell",
                                       share < 0.10))
            self.sections.append(
                "### Bytes written to the terminal\n\n"
                "The real binary in a pseudo-terminal (default 1 s interval) against a real QEMU: the plain "
                "idle VM, and the tiny guest running its `dd` disk workload. Frames are counted by the "
                "cursor-hide sequence each draw ends with; changed cells by comparing the emulated screen "
                "(vt100) before and after each chunk. `of a repaint` compares a frame with the full repaint "
                "of the same size from the table above.\n\n"
                + table(["VM", "size", "bytes/s", "frames/s", "bytes/frame", "of a repaint", "changed cells/s",
                         "bytes per changed cell"], rows)
            )

    def fleet(self):
        records = self.by_bench["fleet"]
        if not records:
            return
        rows = []
        for key in sorted({(r["vms"], r["interval_s"], r["size"]) for r in records}):
            runs = [r for r in records if (r["vms"], r["interval_s"], r["size"]) == key]
            cpu = [r["cpu_percent"] for r in runs]
            frames = [r["frames_per_s"] for r in runs]
            loads = [r["load"] for r in runs if r.get("load") is not None]
            vms, interval, size = key
            rows.append([vms, f"{interval:g} s", size, len(runs),
                         f"{median(cpu):.2f} % ({min(cpu):.2f}–{max(cpu):.2f})",
                         f"{median(frames):.2f}", f"{1 / interval:g}",
                         f"{median([r['bytes_per_s'] for r in runs]):.0f}",
                         f"{median(loads):.2f}" if loads else "-"])
            if vms >= 50 and interval <= 0.25:
                self.goals.append((f"fleet view: {vms} VMs at {interval:g} s under 3 % of a core ({size})",
                                   f"{median(cpu):.2f} %", median(cpu) < 3.0))
                self.goals.append((f"fleet view: at most one frame per poll interval ({vms} VMs at {interval:g} s)",
                                   f"{median(frames):.2f} frames/s", median(frames) <= 1 / interval * 1.05))
        self.sections.append(
            "### The fleet table\n\n"
            "The real binary in a pseudo-terminal showing the fleet table of the `-M none` QEMUs, polling "
            "every 0.25 s: the CPU of the whole qemu-dash process (collectors, model, rendering, output) "
            "over each round's window, one dashboard per round. Median (min–max) over the rounds; the load "
            "average is the machine's at the start of each window.\n\n"
            + table(["VMs", "interval", "size", "rounds", "CPU, % of one core", "frames/s",
                     "poll rounds/s", "bytes/s", "load"], rows)
        )

    def keys(self):
        records = self.by_bench["keys"]
        if not records:
            return
        rows = []
        for interval in sorted({r["interval_s"] for r in records}, reverse=True):
            runs = [r for r in records if r["interval_s"] == interval]
            row = [f"{interval:g} s", len(runs)]
            for key in ("qmp_event_ms", "result_shown_ms", "event_logged_ms", "state_shown_ms"):
                values = [r[key] for r in runs]
                row.append(f"{median(values):.1f} / {p90(values):.1f}")
            rows.append(row)
            qmp = median([r["qmp_event_ms"] for r in runs])
            qmp90 = p90([r["qmp_event_ms"] for r in runs])
            state = median([r["state_shown_ms"] for r in runs])
            state90 = p90([r["state_shown_ms"] for r in runs])
            self.goals.append((f"key → STOP/RESUME on a second QMP socket under 20 ms (interval {interval:g} s)",
                               f"median {qmp:.1f} ms, p90 {qmp90:.1f} ms", qmp90 < 20))
            self.goals.append((f"key → \"paused\"/\"running\" in the header under 20 ms (interval {interval:g} s)",
                               f"median {state:.1f} ms, p90 {state90:.1f} ms", state90 < 20))
        self.sections.append(
            "## 5. Key to effect\n\n"
            "The real binary in a pseudo-terminal (120x36) watching the plain VM; `p` and space pressed "
            "alternately with a random 0.2-1.2 s pause (so presses land at random phases of the poll "
            "interval). Times from the key's write to: the `STOP`/`RESUME` event read on a second QMP "
            "socket; the command's result on screen (`pause: done`); the event in the on-screen log "
            "(`Events (N seen)` moves); the header's run state (`● paused` / `● running`). "
            "Median / p90, ms.\n\n"
            + table(["interval", "presses", "QMP event", "result shown", "event logged", "header state"], rows)
        )

    def memory(self):
        records = self.by_bench["memory"]
        if not records:
            return
        rows = []
        for r in sorted(records, key=lambda r: r["vms"]):
            rows.append([r["vms"], f"{r['seconds'] / 60:g} min", f"{r['interval_s']:g} s", r["samples_per_vm"],
                         r["events_sent"],
                         r["events_seen_on_screen"] if r["events_seen_on_screen"] is not None else "- (fleet view)",
                         f"{r['peak_rss_kib'] / 1024:.1f} MiB", f"{r['final_rss_kib'] / 1024:.1f} MiB"])
            if r["vms"] == 1:
                self.goals.append(("memory: peak RSS under 20 MB watching one VM",
                                   f"{r['peak_rss_kib'] * 1024 / 1e6:.1f} MB ({r['peak_rss_kib'] / 1024:.1f} MiB)",
                                   r["peak_rss_kib"] * 1024 < 20e6))
        by_vms = {r["vms"]: r for r in records}
        many = max(by_vms)
        if 1 in by_vms and many > 1:
            per_vm = (by_vms[many]["peak_rss_kib"] - by_vms[1]["peak_rss_kib"]) / (many - 1)
            self.goals.append((f"memory per watched VM ≤ 0.1 MiB beyond its histories (1 vs {many} VMs)",
                               f"{per_vm:.0f} KiB", per_vm <= 102.4))
        self.sections.append(
            "## 6. Memory\n\n"
            "The interactive dashboard in a pseudo-terminal (120x36), polling every 0.25 s so the "
            "300-sample histories fill in 75 s; `stop`/`cont` pairs sent through the first VM's second "
            "QMP socket fill its 1000-entry event log. Peak RSS is `VmHWM`. The one VM is the plain VM; "
            "the many are the `-M none` QEMUs (shown as a fleet, so the event count is not on screen).\n\n"
            + table(["VMs", "ran", "interval", "samples per VM", "events sent", "events seen", "peak RSS",
                     "RSS at the end"], rows)
        )


    def exporter(self):
        records = self.by_bench["exporter"]
        if not records:
            return
        rows = [[r["vms"], r["scrapes"], f"{r['scrape_ms_median']:.2f}", f"{r['scrape_ms_p90']:.2f}",
                 f"{r['scrape_ms_max']:.2f}", f"{r['bytes'] / 1024:.0f} KiB", f"{r['exporter_cpu_ms_per_scrape']:.2f}"]
                for r in sorted(records, key=lambda r: r["vms"])]
        self.sections.append(
            "## 7. Exporter\n\n"
            "`qemu-dash exporter` watching the `-M none` QEMUs at a 1 s interval, scraped back to back "
            "over HTTP/1.0 as Prometheus would. Exporter CPU per scrape includes its collectors' polls "
            "meanwhile (an upper bound).\n\n"
            + table(["VMs", "scrapes", "median ms", "p90 ms", "max ms", "answer", "exporter CPU ms per scrape"], rows)
        )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--qemu", default="qemu-system-x86_64")
    parser.add_argument("--date", default="")
    parser.add_argument("--load-start", default="")
    parser.add_argument("--load-end", default="")
    parser.add_argument("--seconds", default="")
    parser.add_argument("--settings", default="")
    args = parser.parse_args()
    records = [json.loads(line) for line in Path(args.results).read_text().splitlines() if line.strip()]
    report = Report(records)
    report.rtt()
    report.collector()
    report.render()
    report.fleet()
    report.keys()
    report.memory()
    report.exporter()

    root = Path(__file__).resolve().parent.parent

    def git_log(*paths):
        return subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%h", "--", *paths],
                              capture_output=True, text=True).stdout.strip() or "?"

    commit = f"{git_log('src', 'Cargo.lock')} (last change to src/), suite at {git_log()}"
    qemu_version = subprocess.run([args.qemu, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    minutes = f"{int(args.seconds) // 60} min {int(args.seconds) % 60} s" if args.seconds else "?"
    out = [
        "# qemu-dash benchmark results",
        "",
        "Written by `bench/run.sh` (`bench/report.py`); raw figures in `target/bench/results.jsonl`. "
        "Do not edit by hand: run the suite again.",
        "",
        table(["", ""], [
            ["date", args.date],
            ["code measured", f"commit {commit}"],
            ["machine", f"{os.cpu_count()} CPUs, {cpu_model()}, {mem_total()} RAM"],
            ["kernel", platform.release()],
            ["QEMU", qemu_version + " (TCG)"],
            ["load average (1/5/15 min)", f"start {' '.join(args.load_start.split()[:3])}, end {' '.join(args.load_end.split()[:3])}"],
            ["settings", args.settings],
            ["run time", minutes],
        ]),
        "",
        "## Goals",
        "",
        table(["goal", "measured", ""], [[g, m, verdict(ok)] for g, m, ok in report.goals]),
        "",
    ]
    for section in report.sections:
        out += [section, ""]
    analysis = Path(__file__).with_name("analysis.md")
    if analysis.exists():
        out += [analysis.read_text().rstrip(), ""]
    Path(args.out).write_text("\n".join(out))


if __name__ == "__main__":
    main()
