#!/usr/bin/env python3
"""End-to-end tests: boot images in QEMU through ./ringvisor and judge them.

Each case in cases.py is one of:
  Boot     - one run of the launcher: expected exit status, regexes that must
             appear in the output (in order), regexes that must not;
  Compare  - a test guest run natively and under the VMM: both must end with
             status 0 and print the same result lines (PASS/FAIL/SKIP/SUMMARY);
  Gdb      - ./ringvisor run --gdb and the gdb command it prints must work.

Prints "PASS name" or "FAIL name: why" per case; full output of every run is
kept in build/e2e/<case>.log.  Run directly, or through tests/run.py.
"""

import concurrent.futures
import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
LOG_DIR = os.path.join(ROOT, "build", "e2e")
LAUNCHER = os.path.join(ROOT, "ringvisor")
RESULT_LINE = re.compile(r"^(PASS|FAIL|SKIP|SUMMARY):")
TAIL_LINES = 40

sys.path.insert(0, HERE)
import cases  # noqa: E402  (the table of cases, beside this file)


def launch(args, timeout):
    """Run the launcher; return (status, stdout, stderr)."""
    env = dict(os.environ, RINGVISOR_NO_BUILD="1")
    try:
        p = subprocess.run([LAUNCHER] + args, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, errors="replace",
                           timeout=timeout + 10, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or "", f"runner: no exit after {timeout + 10} s"
    return p.returncode, p.stdout, p.stderr


def save_log(name, runs):
    os.makedirs(LOG_DIR, exist_ok=True)
    path = os.path.join(LOG_DIR, name + ".log")
    with open(path, "w") as f:
        for label, args, status, out, err in runs:
            f.write(f"=== {label}: ./ringvisor {' '.join(args)}\n")
            f.write(f"=== exit status {status}\n{out}")
            if err:
                f.write(f"=== stderr\n{err}")
    return path


def tail(text):
    return "\n".join("    | " + l for l in text.splitlines()[-TAIL_LINES:])


def check_boot(case):
    args = case.args + ["--timeout", str(case.timeout)]
    status, out, err = launch(args, case.timeout)
    save_log(case.name, [("run", args, status, out, err)])
    text = out + err
    problems = []
    if status != case.status:
        problems.append(f"exit status {status}, expected {case.status}")
    pos = 0
    for pattern in case.expect:
        m = re.compile(pattern, re.M).search(text, pos)
        if not m:
            where = "after the previous match" if pos else "anywhere"
            problems.append(f"no line matching /{pattern}/ {where}")
            break
        pos = m.end()
    for pattern in case.reject:
        if re.search(pattern, text, re.M):
            problems.append(f"a line matches /{pattern}/, which must not appear")
    return problems, text


def result_lines(text):
    return [l for l in text.splitlines() if RESULT_LINE.match(l)]


def check_compare(case):
    kernel = os.path.join(ROOT, "build", "guests", case.guest + ".elf")
    native_args = ["run", "--native", "--kernel", kernel, "--timeout", str(case.timeout)]
    vmm_args = ["run", "--kernel", kernel, "--timeout", str(case.timeout)] + case.vmm_args
    n_status, n_out, n_err = launch(native_args, case.timeout)
    v_status, v_out, v_err = launch(vmm_args, case.timeout)
    save_log(case.name, [("native", native_args, n_status, n_out, n_err),
                         ("vmm", vmm_args, v_status, v_out, v_err)])
    problems = []
    if n_status != 0:
        problems.append(f"native run ended with status {n_status}")
    if v_status != 0:
        problems.append(f"VMM run ended with status {v_status}")
    native, vmm = result_lines(n_out), result_lines(v_out)
    if not native:
        problems.append("the native run printed no results")
    if native != vmm:
        for i in range(max(len(native), len(vmm))):
            a = native[i] if i < len(native) else "<nothing>"
            b = vmm[i] if i < len(vmm) else "<nothing>"
            if a != b:
                problems.append(f"result line {i + 1} differs:\n"
                                f"      native: {a}\n      vmm:    {b}")
                break
    return problems, v_out + v_err


SECTION = re.compile(r"^== (\S+)\n(.*?)^-- status (\d+)$", re.M | re.S)


def linux_sections(text):
    """{name: (body, status)} of a smoke script's output (console CRs gone)."""
    text = text.replace("\r", "")
    return {m.group(1): (m.group(2), int(m.group(3))) for m in SECTION.finditer(text)}


def check_linux_compare(case):
    # quiet: kernel messages would interleave with the script's output.
    base = ["run", "--append", f"quiet rv.run={case.script}",
            "--timeout", str(case.timeout)]
    native_args, vmm_args = base[:1] + ["--native"] + base[1:], base
    n_status, n_out, n_err = launch(native_args, case.timeout)
    v_status, v_out, v_err = launch(vmm_args, case.timeout)
    save_log(case.name, [("native", native_args, n_status, n_out, n_err),
                         ("vmm", vmm_args, v_status, v_out, v_err)])
    problems = []
    for label, status in (("native", n_status), ("VMM", v_status)):
        if status != 0:
            problems.append(f"{label} run ended with status {status}")
    if not re.search(cases.BANNER, v_out, re.M) or "exits: " not in v_out:
        problems.append("the VMM run did not show the VMM's banner and exit statistics")
    native, vmm = linux_sections(n_out), linux_sections(v_out)
    if not native:
        problems.append("the native run printed no sections")
    for name, (body, status) in native.items():
        if name not in vmm:
            problems.append(f"section {name} missing under the VMM")
            continue
        if status != 0 or vmm[name][1] != 0:
            problems.append(f"section {name}: status {status} natively, "
                            f"{vmm[name][1]} under the VMM")
        a, b = body, vmm[name][0]
        for pattern in case.masks.get(name, []):
            # A pattern that takes in a newline takes out whole lines.
            mark = "" if pattern.endswith("\\n") else "<masked>"
            a, b = re.sub(pattern, mark, a), re.sub(pattern, mark, b)
        if a != b:
            la, lb = a.splitlines(), b.splitlines()
            for i in range(max(len(la), len(lb))):
                x = la[i] if i < len(la) else "<nothing>"
                y = lb[i] if i < len(lb) else "<nothing>"
                if x != y:
                    problems.append(f"section {name} line {i + 1} differs:\n"
                                    f"      native: {x}\n      vmm:    {y}")
                    break
    return problems, v_out + v_err


def check_gdb(case):
    """Follow the launcher's own instructions for attaching gdb."""
    env = dict(os.environ, RINGVISOR_NO_BUILD="1")
    args = [LAUNCHER, "run"] + case.args + [f"--gdb={case.port}",
                                            "--timeout", str(case.timeout)]
    vmm = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    told = ""
    for line in vmm.stderr:            # the launcher prints it before QEMU starts
        told += line
        if line.startswith("  gdb "):
            break
    problems, gdb_out = [], ""
    if "\n  gdb " not in "\n" + told:
        problems.append("the launcher printed no gdb command")
    else:
        gdb_cmd = shlex.split(told.rstrip().splitlines()[-1])
        gdb_cmd[1:1] = ["-batch", "-nx"]
        gdb_cmd += ["-ex", "info symbol $pc", "-ex", "delete"]
        if case.then_stop_in:   # a second breakpoint, in the guest
            gdb_cmd += ["-ex", f"hbreak {case.then_stop_in}", "-ex", "continue",
                        "-ex", "info symbol $pc", "-ex", "delete"]
        gdb_cmd += ["-ex", "continue"]
        try:
            g = subprocess.run(gdb_cmd, capture_output=True, text=True,
                               timeout=case.timeout, cwd=ROOT)
            gdb_out = g.stdout + g.stderr
        except subprocess.TimeoutExpired:
            problems.append("gdb did not finish")
        for where in filter(None, (case.stop_in, case.then_stop_in)):
            if not re.search(rf"^{where} in section \.\S*text", gdb_out, re.M):
                problems.append(f"gdb did not stop in {where}")
    try:
        out, err = vmm.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        vmm.kill()
        out, err = vmm.communicate()
    err = told + err
    save_log(case.name, [("vmm", args, vmm.returncode, out, err),
                         ("gdb", ["(gdb)"], None, gdb_out, "")])
    if vmm.returncode != 0:
        problems.append(f"the run ended with status {vmm.returncode}")
    return problems, out + err + gdb_out


INTEGRITY_PASSED = re.compile(r"^ringvisor: VMM integrity check passed", re.M)


def run_case(case):
    if isinstance(case, cases.Compare):
        problems, text = check_compare(case)
    elif isinstance(case, cases.Gdb):
        problems, text = check_gdb(case)
    elif isinstance(case, cases.LinuxCompare):
        problems, text = check_linux_compare(case)
    else:
        problems, text = check_boot(case)
    # However a guest ends, the VMM checks its own memory (core/canary.h).
    if "VMM integrity check FAILED" in text:
        problems.append("the VMM's integrity check failed")
    if isinstance(case, (cases.Compare, cases.LinuxCompare)) and \
            not INTEGRITY_PASSED.search(text):
        problems.append("the VMM run did not report its integrity check passed")
    return problems, text


def run(selected=None, jobs=2):
    """Run the cases whose name contains selected; return (passed, failed)."""
    todo = [c for c in cases.CASES if not selected or selected in c.name]
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(lambda c: (c, run_case(c)), todo)
        for case, (problems, text) in results:
            if problems:
                failed += 1
                print(f"FAIL {case.name}: " + "; ".join(problems))
                print(f"    log: build/e2e/{case.name}.log; last lines:")
                print(tail(text))
            else:
                passed += 1
                print(f"PASS {case.name}")
            sys.stdout.flush()
    return passed, failed


if __name__ == "__main__":
    selected = sys.argv[1] if len(sys.argv) > 1 else None
    p, f = run(selected)
    print(f"e2e: {p} passed, {f} failed")
    sys.exit(1 if f or not p else 0)
