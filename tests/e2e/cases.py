"""The end-to-end cases (run by tests/e2e/run.py).

Boot(name, args, status, expect=[...], reject=[...]): one launcher run.
Compare(name, guest): a test guest natively and under the VMM, same results.
LinuxCompare(name, script): the Linux guest runs a script natively and under
    the VMM; both must succeed and print the same sections.
"""

from dataclasses import dataclass, field

HEX8 = "[0-9a-f]{8}"


@dataclass
class Boot:
    name: str
    args: list
    status: int
    expect: list = field(default_factory=list)   # regexes, matched in order
    reject: list = field(default_factory=list)
    timeout: int = 60


@dataclass
class Gdb:
    """./ringvisor run --gdb, then the gdb command it prints, in batch mode:
    gdb must stop at the breakpoint it sets, and the run then finish."""
    name: str
    stop_in: str            # the function gdb must stop in
    args: list = field(default_factory=list)    # for ./ringvisor run
    then_stop_in: str = ""  # then a breakpoint here must be hit too
    port: int = 1234
    timeout: int = 60


@dataclass
class Compare:
    name: str
    guest: str
    vmm_args: list = field(default_factory=list)
    timeout: int = 90


@dataclass
class LinuxCompare:
    """Boot the Linux guest with rv.run=SCRIPT natively and under the VMM.
    The script prints sections ("== name" ... "-- status N"); each must
    succeed and read the same both ways once masked: for a section named in
    masks, every regex there has its matches replaced by <masked> (or
    removed, for a regex ending in a newline: whole lines) before comparing
    (timing and other differences that are not the VMM's doing)."""
    name: str
    script: str
    masks: dict = field(default_factory=dict)
    timeout: int = 240


BANNER = r"^ringvisor \d+\.\d+: a VMM on two protection rings"

# What the VMM prints on a clean boot with the hello guest, in order.
CLEAN_BOOT = [
    BANNER,
    r"^command line: \S*ringvisor\.elf",
    r"^memory map \(from the bootloader\):",
    r"^  0x0000000000000000-0x[0-9a-f]{16} available",
    r"^usable RAM: \d+ MiB in \d+ ranges; \d+ pages free",
    r"^modules: 1$",
    r"^  0: 0x" + HEX8 + "-0x" + HEX8 + r" +\d+ bytes  \S*/hello\.elf$",
    r"^     ELF32 i386, entry 0x" + HEX8 + r", \d+ loadable segments",
    r"^guest: 64 MiB of RAM at host 0x" + HEX8 + r", entry 0x" + HEX8,
    r"^hello: a Multiboot test guest",
    r"^ringvisor: the guest stopped with status 0",
    r"^exits: \d+",
    r"^ringvisor: VMM integrity check passed \(read-only image and 2 guard frames",
]


# The smallest Multiboot guest: the default kernel is Linux, which the
# VMM-level cases below do not need.
HELLO = ["--kernel", "build/guests/hello.elf"]


def panic(kind, vector_text, error, cr2=HEX8, code=""):
    """A test-panic= run: the whole report, in order.  cr2 and code (the
    first instruction bytes) pin down what the fault must have been."""
    return Boot(f"panic-{kind}", ["run", *HELLO, "--vmm-args", f"test-panic={kind}"], 3, [
        r"^test-panic: provoking a fault inside the VMM",
        rf"^\*\*\* VMM PANIC: {vector_text}, error code 0x{error}$",
        rf"^EAX={HEX8} EBX={HEX8} ECX={HEX8} EDX={HEX8}$",
        rf"^ESI={HEX8} EDI={HEX8} EBP={HEX8} ESP={HEX8}$",
        rf"^EIP=fc1[0-9a-f]{{5}} EFLAGS={HEX8} CS=0100 SS=0108 DS=0108 ES=0108",
        rf"^CR0={HEX8} CR2={cr2} CR3={HEX8} CR4={HEX8}$",
        rf"^code at EIP: {code}[0-9a-f ]*$",
        r"^stack at ESP:\n  [0-9a-f]{8}:( [0-9a-f]{8}){4}",
        r"^backtrace: fc1[0-9a-f]{5}( fc1[0-9a-f]{5})+",
        r"^ringvisor: halted after a VMM panic",
    ], reject=[r"the guest stopped"])


CASES = [
    Boot("boot-multiboot", ["run", *HELLO], 0, CLEAN_BOOT),
    Boot("boot-grub-iso", ["run", *HELLO, "--iso"], 0, CLEAN_BOOT),
    Gdb("gdb-attach", "vmm_main", ["--kernel", "build/guests/hello.elf"]),
    # The command the launcher prints loads the guest's symbols too: a
    # breakpoint in the guest kernel under the VMM.  (On a port of its own:
    # the cases run in parallel.)
    Gdb("gdb-linux-guest", "vmm_main", ["--append", "quiet rv.run=/bin/true"],
        then_stop_in="start_kernel", port=1235),
    Boot("trace-exits", ["run", *HELLO, "--trace"], 0, [
        r"^command line: \S+ trace=exits",
        r"^exit: #GP general protection +eip=" + HEX8 + " ring=kernel$",
        r"^ringvisor: the guest stopped with status 0",
    ]),

    panic("ud", r"#UD invalid opcode \(vector 6\)", "00000000", code="0f 0b"),
    panic("de", r"#DE divide error \(vector 0\)", "00000000", code="f7 f1"),
    panic("gp", r"#GP general protection \(vector 13\)", "0000fff8", code="8e"),
    panic("pf", r"#PF page fault \(vector 14\)", "00000002", cr2="00001234"),
    # The stack ran into its guard page: CR2 is the guard page's last word.
    panic("df", r"#DF double fault \(vector 8\)", "00000000",
          cr2="fc1[0-9a-f]{2}ffc", code="6a 00"),
    Boot("qemu-log", ["run", *HELLO, "--vmm-args", "test-panic=ud",
                      "--qemu-log", "build/e2e/qemu-log.qemu"], 3,
         [r"VMM PANIC: #UD"]),

    # Bad input: one clear line, a non-zero status, never a hang.
    Boot("bad-vmm-option", ["run", *HELLO, "--vmm-args", "bogus=1"], 2,
         [r"^ringvisor: error: unknown option 'bogus'$"]),
    Boot("bad-vmm-option-value", ["run", *HELLO, "--vmm-args", "mem=1"], 2,
         [r"^ringvisor: error: option 'mem' takes a size in MiB"]),
    Boot("guest-ram-too-big", ["run", *HELLO, "--vmm-args", "mem=3000"], 2,
         [r"^ringvisor: error: not enough free memory for 3000 MiB"]),
    Boot("module-not-elf", ["run", "--kernel", "README.md"], 2,
         [r"^ringvisor: error: module 0 \(README\.md.*\): not an ELF file \(bad magic\)$"]),
    Boot("module-not-32-bit", ["run", "--kernel", "build/unit/test_elf"], 2,
         [r"^ringvisor: error: module 0 \(.*\): not a 32-bit ELF file"]),
    Boot("kernel-missing", ["run", "--kernel", "build/no-such-kernel"], 2,
         [r"^ringvisor: error: kernel image build/no-such-kernel: No such file"]),
    Boot("launcher-bad-option", ["run", "--frobnicate"], 2,
         [r"^ringvisor: error: unrecognized arguments: --frobnicate"]),
    Boot("launcher-bad-command", ["frobnicate"], 2,
         [r"^ringvisor: error: unknown command 'frobnicate'"]),

    # Test guests: the same results natively and under the VMM.
    *[Compare(f"guest-{g}", g) for g in
      ("exceptions", "privileged", "interrupts", "usermode", "sysenter", "segments",
       "pagefault", "ring_matrix", "paging", "protection", "addrspace", "twoproc",
       "earlyirq", "userfault")],
    # Hypercalls exist only under the VMM.
    Boot("guest-hypercalls", ["run", "--kernel", "build/guests/hypercalls.elf"], 0, [
        r"^PASS: probe finds the vmm",
        r"^hypercall console: hello$",
        # Broken, this one hangs in hlt: the short timeout says so sooner.
        r"^PASS: pv irq: sti; hlt takes the waiting interrupt$",
        r"^SUMMARY: \d+ tests, 0 failures",
    ], reject=[r"^FAIL:"], timeout=20),
    Boot("guest-hypercall-shutdown", ["run", "--kernel", "build/guests/hypercalls.elf",
                                      "--kernel-args", "shutdown"], 0, [
        r"^shutting down through the hypercall$",
        r"^ringvisor: the guest stopped with status 0",
    ], reject=[r"^SUMMARY:"]),
    # Guest access to the VMM's memory (paper case 4): faults, not a halt.
    Boot("guest-vmm-memory", ["run", "--kernel", "build/guests/vmm_memory.elf"], 0, [
        r"^PASS: kernel read 0xfc000000$",
        r"^PASS: user jump to 0xfc100000$",
        r"^SUMMARY: \d+ tests, 0 failures",
        r"^ringvisor: the guest stopped with status 0",
    ], reject=[r"^FAIL:", r"^SKIP:"]),
    Boot("guest-outside-ram", ["run", "--kernel", "build/guests/vmm_memory.elf",
                               "--kernel-args", "outside-ram"], 4, [
        r"^\*\*\* guest stopped by the VMM: page fault at 0x80000000, outside the guest's RAM",
        r"^EIP=" + HEX8 + " EFLAGS=" + HEX8 + " CS=0060 SS=0068",
        r"^code at CS:EIP:( [0-9a-f]{2}){16}$",
        r"^exits: \d+",
    ]),
    Boot("guest-pte-past-ram", ["run", "--kernel", "build/guests/pagefault.elf",
                                "--kernel-args", "past-ram"], 4, [
        r"^reading a page mapped past guest RAM$",
        r"^\*\*\* guest stopped by the VMM: the guest maps 0x40002000 to 0x7f000000, past its RAM",
        r"^CR0=80010011 CR2=" + HEX8 + r" CR3=" + HEX8,
    ], reject=[r"^read 0x"]),
    Boot("guest-pastram", ["run", "--kernel", "build/guests/pastram.elf"], 4, [
        r"^\*\*\* guest stopped by the VMM: the guest maps 0x40000000 to 0x7f000000, past its RAM",
    ]),

    # Linux and Busybox (issue 5): the smoke script, natively and under the
    # VMM.  Masked: what depends on speed and scheduling (BogoMIPS, which
    # kernel worker threads exist, hence PIDs and /proc's link count), and
    # on the wall clock.  (The script itself leaves the clocksource
    # watchdog's lines out of its dmesg section.)
    LinuxCompare("linux-smoke", "/tests/smoke.sh", masks={
        "cpuinfo": [r"(?<=bogomips\t: )[0-9.]+", r"(?<=cpu MHz\t\t: )[0-9.]+"],
        "ls": [r"\w{3} +\d+ +\d\d:\d\d", r"(?<=dr-xr-xr-x) +\d+(?= root +root +0 <masked> proc)"],
        "ps": [r"(?m)^.*\[kworker.*\n", r"(?m)^ *\d+(?= +root)"],
    }),
    # The launcher's Linux options, and what ends a Linux guest.
    Boot("linux-icount-status", ["run", "--icount", "--append",
                                  "quiet rv.run=/bin/false"], 1, [
        r"^guest: Linux, command line \"console=ttyS0 panic=-1 quiet rv\.run=",
        r"^rv\.run: /bin/false exited with status 1",
        r"^ringvisor: the guest stopped with status 1",
    ]),
    Boot("linux-panic-resets", ["run", "--append", "quiet rdinit=/bin/false"], 5, [
        r"Kernel panic - not syncing: Attempted to kill init!",
        r"^ringvisor: the guest reset the machine at eip 0x" + HEX8,
        r"^exits: \d+",
    ]),
    Boot("linux-halt-powers-off", ["run", "--append", "quiet rv.run=/bin/poweroff,-f"], 0, [
        r"reboot: System halted",
        r"^ringvisor: the guest halted with interrupts disabled \(powered off\)",
    ]),
    # Malformed Linux input: one clear line, a non-zero status.
    Boot("linux-kernel-past-ram", ["run", "--mem", "16"], 2, [
        r"^ringvisor: error: guest kernel \S+/vmlinux: ELF segment 0 "
        r"\(0x01000000-0x[0-9a-f]{8}\) is outside guest RAM \(16 MiB\); give the "
        r"guest more memory$"]),
    Boot("linux-initrd-does-not-fit", ["run", "--mem", "20"], 2, [
        r"^ringvisor: error: guest kernel \S+/vmlinux: initrd of \d+ KiB does not fit "
        r"in guest RAM above the kernel \(\d+ KiB free\); give the guest more memory$"]),
    Boot("linux-initrd-missing", ["run", "--initrd", "build/no-such-initrd"], 2, [
        r"^ringvisor: error: initrd build/no-such-initrd: No such file"]),
    Boot("multiboot-with-initrd", ["run", *HELLO, "--initrd", "README.md"], 2, [
        r"^ringvisor: error: \S+hello\.elf is a Multiboot kernel: --initrd is for Linux"]),
    Boot("linux-initrd-not-gzip", ["run", "--initrd", "README.md", "--append", "quiet"], 5, [
        r"Initramfs unpacking failed|VFS: Unable to mount root fs",
        r"^ringvisor: the guest reset the machine"]),

    # Chaos guests (issue 7): a hostile guest cannot hurt the VMM.  Random
    # code, random tables, random hypercalls, every vector: the guest gets
    # the faults hardware would give, or the VMM stops it with a report;
    # never a panic, a hang or a corrupted VMM.
    Boot("guest-chaos-code", ["run", "--kernel", "build/guests/chaos_code.elf"], 0, [
        r"^chaos_code: 8 seeds, 2000 sequences per ring$",
        r"^PASS: kernel: every sequence came back$",
        r"^PASS: kernel: no sequence left its page$",
        r"^PASS: user: every sequence came back$",
        r"^PASS: user: a plain #UD still arrives as it should$",
        r"^PASS: the VMM still answers$",
        r"^SUMMARY: \d+ tests, 0 failures",
        r"^ringvisor: the guest stopped with status 0",
    ], reject=[r"VMM PANIC", r"^FAIL:", r"guest stopped by the VMM"]),
    Boot("guest-chaos-hypercalls", ["run", "--kernel", "build/guests/chaos_hypercalls.elf"], 0, [
        r"^chaos_hypercalls: guest RAM ends at 0x04000000",
        r"^PASS: paging off: every call did what the ABI says$",
        r"^PASS: paging on: every call did what the ABI says$",
        r"^PASS: user mode: every int \$0x1f is #GP\(0xfa\), nothing done$",
        r"^PASS: tables intact at the end$",
        r"^SUMMARY: \d+ tests, 0 failures",
        r"^ringvisor: the guest stopped with status 0",
    ], reject=[r"VMM PANIC", r"^FAIL:", r"guest stopped by the VMM"]),
    Compare("guest-chaos-vectors", "chaos_vectors"),
    Compare("guest-chaos-tables", "chaos_tables"),
    # Faults nested until the stack is gone: a triple fault, natively a
    # reset; the VMM stops the guest with its report.  Also with a
    # double-fault task gate, which natively recovers and which the VMM
    # does not virtualize.
    *[Boot(f"guest-chaos-vectors-{arg}", ["run", "--kernel", "build/guests/chaos_vectors.elf",
                                          "--kernel-args", arg], 4, [
        r"^chaos_vectors: nesting page faults until the stack runs out$",
        r"^\*\*\* guest stopped by the VMM: triple fault while delivering #PF page fault "
        r"\(vector 14\)$",
        r"^EIP=" + HEX8 + " EFLAGS=" + HEX8 + " CS=0060 SS=0068",
        r"^exits: \d+",
    ], reject=[r"VMM PANIC", r"^SUMMARY:"]) for arg in ("nest", "nest-dftask")],
    # Corrupted tables the guest cannot survive: each ends in a triple
    # fault the VMM reports.
    *[Boot(f"guest-chaos-tables-final-{what}", ["run", "--kernel",
                                                "build/guests/chaos_tables.elf",
                                                "--kernel-args", f"final={what}"], 4, [
        rf"^chaos_tables: final: {what}$",
        r"^\*\*\* guest stopped by the VMM: triple fault while delivering #(UD|PF) ",
        r"^exits: \d+",
    ], reject=[r"VMM PANIC", r"^SUMMARY:"]) for what in ("tss", "ss0", "gdt", "idt", "pd")],
    # Found by chaos_code: a user process entering virtual-8086 mode
    # through QEMU's lax iret once made its next trap look like the VMM's
    # own, a VMM panic.  Now the guest is stopped with a report.
    Boot("guest-v86-from-user", ["run", "--kernel", "build/guests/chaos_repro.elf",
                                 "--kernel-args", "v86-iret-user"], 4, [
        r"^\*\*\* guest stopped by the VMM: the guest entered virtual-8086 mode",
        r"^ringvisor: VMM integrity check passed",
    ], reject=[r"VMM PANIC"]),
    Boot("guest-hc-gdt-index-wrap", ["run", "--kernel", "build/guests/chaos_repro.elf",
                                     "--kernel-args", "hc-gdt-index-wrap"], 0, [
        r"^PASS: set gdt entry 0x20000000 is refused",
    ], reject=[r"VMM PANIC", r"^FAIL:"]),
    # Far transfers to empty or system descriptors, 16-bit returns to a
    # null CS: the #GP the CPU gives (natively the same lines), not a
    # stopped guest.
    *[Boot(f"guest-{word}", ["run", "--kernel", "build/guests/chaos_repro.elf",
                              "--kernel-args", word], 0, [r"^PASS: "],
           reject=[r"VMM PANIC", r"^FAIL:", r"guest stopped by the VMM"])
      for word in ("farjmp-empty-user", "lcall-empty-user", "farjmp-tss-user",
                   "farjmp-empty-kernel", "iretw-user", "retfw-user")],
    # Where the VMM differed from the CPU (issue 7), now as the CPU does:
    # the same PASS lines natively and under the VMM.
    *[Boot(f"guest-{word}", ["run", "--kernel", "build/guests/chaos_repro.elf",
                              "--kernel-args", word], 0, [r"^PASS: "],
           reject=[r"VMM PANIC", r"^FAIL:", r"guest stopped by the VMM"])
      for word in ("pde-accessed", "ljmp-eip-limit-user", "iobitmap-user",
                   "ldt-high", "code-in-fs", "gate-np-ring1", "ss16-kernel")],
]
