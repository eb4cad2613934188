#!/usr/bin/env python3
"""Instructions by function, from the hotblocks plugin (tools/prof/hotblocks.c).

    tools/prof/report.py COUNTS [--log CONSOLE] [--window LABEL] [--top N]

COUNTS is what `./ringvisor run --profile COUNTS` wrote.  Under the VMM the
counts are cut at every profile mark (a benchmark makes one before and after
each test); with --log (the run's console output, which names each mark in a
"profile LABEL:" line) --window picks the window that ended at the mark
LABEL, e.g. null-syscall.  Without --window: the whole run.

Addresses are named from the VMM's symbols (build/ringvisor.elf) and the
guest kernel's (build/linux/vmlinux); anything below the guest kernel is
"[guest user]".
"""

import argparse
import bisect
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUEST_KERNEL_BASE = 0xC0000000


def symbols(elf):
    """Sorted [(address, name)] of the ELF's functions."""
    if not os.path.exists(elf):
        return []
    out = subprocess.run(["nm", "-n", elf], capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16), parts[2]))
    return syms


def windows(path):
    """[(kind, {vaddr: instructions})] in file order."""
    result, current = [], None
    with open(path) as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("mark", "end"):
                current = {}
                result.append((parts[0], current))
                continue
            vaddr, insns, count = int(parts[0], 16), int(parts[1]), int(parts[2])
            current[vaddr] = current.get(vaddr, 0) + insns * count
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("counts")
    p.add_argument("--log", help="the run's console output (names the marks)")
    p.add_argument("--window", help="the mark LABEL whose window to show")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--vmm", default=os.path.join(ROOT, "build", "ringvisor.elf"))
    p.add_argument("--guest", default=os.path.join(ROOT, "build", "linux", "vmlinux"))
    opts = p.parse_args()

    wins = windows(opts.counts)
    if opts.window:
        if not opts.log:
            sys.exit("report: --window needs --log (the console output)")
        with open(opts.log, errors="replace") as f:
            labels = re.findall(r"^profile (\S+):", f.read(), re.M)
        # The k-th mark block ran when the k-th profile line was printed.
        marks = [w for kind, w in wins if kind == "mark"]
        picked = [marks[i] for i, l in enumerate(labels)
                  if l == opts.window and i < len(marks)]
        if not picked:
            sys.exit(f"report: no window ends at a mark named {opts.window}")
        counts = picked[-1]
    else:
        counts = {}
        for _, w in wins:
            for a, n in w.items():
                counts[a] = counts.get(a, 0) + n

    syms = sorted(symbols(opts.vmm) + symbols(opts.guest))
    addrs = [a for a, _ in syms]
    by_name = {}
    for vaddr, n in counts.items():
        if vaddr < GUEST_KERNEL_BASE:
            name = "[guest user]"
        else:
            i = bisect.bisect_right(addrs, vaddr) - 1
            name = syms[i][1] if i >= 0 else "?"
            if vaddr >= 0xFC000000:
                name = "vmm:" + name
        by_name[name] = by_name.get(name, 0) + n
    total = sum(by_name.values()) or 1
    vmm = sum(n for k, n in by_name.items() if k.startswith("vmm:"))
    print(f"{total} instructions; VMM {vmm} ({100 * vmm / total:.1f}%)")
    for name, n in sorted(by_name.items(), key=lambda x: -x[1])[:opts.top]:
        print(f"{n:>14} {100 * n / total:6.2f}%  {name}")


if __name__ == "__main__":
    main()
