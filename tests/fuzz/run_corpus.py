#!/usr/bin/env python3
"""Run each built fuzz target once over its seed corpus (the fuzz test tier).

  python3 tests/fuzz/run_corpus.py [-k SUBSTRING] [--crashes]

Builds nothing: the targets are build/fuzz/fuzz_<target> (make fuzz-bins).
Each target runs every file of tests/fuzz/corpus/<target>/ once
(libFuzzer's -runs=0 over the directory): a crash, an invariant the target
checks, a sanitizer report or a timeout fails it.  Prints one line per
target, "PASS fuzz-<target>" or "FAIL fuzz-<target>: why", then
"fuzz: N passed, N failed"; exits non-zero if any failed.

--crashes runs the inputs in tests/fuzz/crashes/ (<target>-<name>) instead:
each should no longer crash once its bug is fixed (then move it into the
corpus as a regression seed).
"""

import argparse
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = ["decode", "emulate", "fastpath", "pagewalk_shadow", "segments", "multiboot",
           "elf_loaders"]
TIMEOUT = 300   # seconds for a whole corpus; each seed runs in milliseconds


def why_failed(out, code):
    """The first line that says what went wrong."""
    for pattern in (r"invariant failed: .*", r"ERROR: AddressSanitizer: [^\n]*",
                    r"runtime error: [^\n]*", r"ERROR: libFuzzer: [^\n]*",
                    r"SUMMARY: [^\n]*"):
        m = re.search(pattern, out)
        if m:
            return m.group(0).strip()
    return f"exit status {code}"


def run(binary, inputs):
    """Run binary over inputs (files or directories); None or why it failed."""
    try:
        p = subprocess.run([binary, "-runs=0", "-timeout=20", "-rss_limit_mb=2048"]
                           + inputs, capture_output=True, text=True,
                           errors="replace", timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"timed out after {TIMEOUT} s"
    out = p.stdout + p.stderr
    if p.returncode != 0:
        return why_failed(out, p.returncode)
    # A directory ends with "Done N runs", a file with "Executed FILE".
    if not re.search(r"Done \d+ runs|Executed ", out):
        return "libFuzzer did not report its runs"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-k", dest="selected", help="only targets whose name contains this")
    ap.add_argument("--crashes", action="store_true",
                    help="run tests/fuzz/crashes/ instead of the corpus")
    opts = ap.parse_args()

    passed = failed = 0
    for target in TARGETS:
        name = f"fuzz-{target}"
        if opts.selected and opts.selected not in name:
            continue
        binary = os.path.join(ROOT, "build", "fuzz", f"fuzz_{target}")
        if opts.crashes:
            inputs = sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz", "crashes",
                                                   f"{target}-*")))
            if not inputs:
                continue
        else:
            corpus = os.path.join(ROOT, "tests", "fuzz", "corpus", target)
            inputs = [corpus] if os.path.isdir(corpus) and os.listdir(corpus) else []
        if not os.access(binary, os.X_OK):
            why = f"{os.path.relpath(binary, ROOT)} is not built (make fuzz-bins)"
        elif not inputs:
            why = "no seed corpus in tests/fuzz/corpus/" + target
        elif opts.crashes:
            # One at a time: libFuzzer stops at the first crash.
            bad = [f"{os.path.basename(i)}: {w}" for i in inputs
                   for w in [run(binary, [i])] if w]
            why = "; ".join(bad) if bad else None
        else:
            why = run(binary, inputs)
        if why:
            print(f"FAIL {name}: {why}")
            failed += 1
        else:
            print(f"PASS {name}")
            passed += 1
        sys.stdout.flush()
    print(f"fuzz: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
