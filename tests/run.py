#!/usr/bin/env python3
"""The `make test` driver: every tier, then one closing line "N passed, N failed".

  python3 tests/run.py [--tier unit|e2e] [-k SUBSTRING]

unit: every build/unit/test_* binary (cmocka); each test function counts.
e2e:  tests/e2e/run.py; each case counts.
fuzz: each libFuzzer target over its seed corpus (tests/fuzz/run_corpus.py);
      each target counts.
"""

import argparse
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

RUN = re.compile(r"^\[ RUN      \] (\S+)", re.M)
OK = re.compile(r"^\[       OK \] (\S+)", re.M)


def unit_tier(selected):
    """Run the cmocka binaries; count a binary that dies unparsed as a failure."""
    passed = failed = 0
    binaries = sorted(glob.glob(os.path.join(ROOT, "build", "unit", "test_*")))
    binaries = [b for b in binaries if os.access(b, os.X_OK) and not b.endswith(".d")]
    if not binaries:
        print("unit: no test binaries in build/unit (run make unit-bins)")
        return 0, 1
    for binary in binaries:
        name = os.path.basename(binary)
        if selected and selected not in name:
            continue
        p = subprocess.run([binary], capture_output=True, text=True, errors="replace")
        out = p.stdout + p.stderr
        sys.stdout.write(out)
        ran, ok = len(RUN.findall(out)), len(OK.findall(out))
        if ran == 0 or (p.returncode != 0 and ran == ok):
            print(f"unit: {name} exited with status {p.returncode} "
                  f"after {ran} tests: counted as a failure")
            failed += 1
        passed += ok
        failed += ran - ok
    print(f"unit: {passed} passed, {failed} failed")
    return passed, failed


def e2e_tier(selected):
    import run as e2e  # tests/e2e/run.py
    passed, failed = e2e.run(selected)
    print(f"e2e: {passed} passed, {failed} failed")
    return passed, failed


FUZZ_LINE = re.compile(r"^(PASS|FAIL) fuzz-", re.M)


def fuzz_tier(selected):
    args = [sys.executable, os.path.join(ROOT, "tests", "fuzz", "run_corpus.py")]
    if selected:
        args += ["-k", selected]
    p = subprocess.run(args, capture_output=True, text=True, errors="replace")
    sys.stdout.write(p.stdout + p.stderr)
    results = FUZZ_LINE.findall(p.stdout)
    passed, failed = results.count("PASS"), results.count("FAIL")
    if p.returncode != 0 and failed == 0:
        failed = 1      # it printed its own "fuzz: N passed, N failed"
    return passed, failed


TIERS = {"unit": unit_tier, "fuzz": fuzz_tier, "e2e": e2e_tier}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tier", choices=TIERS, help="run one tier only")
    p.add_argument("-k", dest="selected", help="only tests whose name contains this")
    opts = p.parse_args()

    passed = failed = 0
    for name, tier in TIERS.items():
        if opts.tier and opts.tier != name:
            continue
        print(f"=== {name} tests")
        sys.stdout.flush()
        p_, f_ = tier(opts.selected)
        passed += p_
        failed += f_
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
