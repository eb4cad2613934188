#!/usr/bin/env python3
"""Write the fuzzers' seed corpora: tests/fuzz/corpus/<target>/<name>.

  python3 tests/fuzz/make_seeds.py [--out DIR]

Each seed is a small, meaningful input in the format its fuzzer reads (see
the comment at the top of tests/fuzz/fuzz_<target>.c): real instructions,
guest states that reach the emulator's main paths, page tables, descriptors,
a Multiboot information structure, and ELF kernels built here byte by byte.
The output is deterministic; rerun it after changing an input format.
"""

import argparse
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def u8(v): return struct.pack("<B", v & 0xff)
def u16(v): return struct.pack("<H", v & 0xffff)
def u32(v): return struct.pack("<I", v & 0xffffffff)
def u64(v): return struct.pack("<Q", v & 0xffffffffffffffff)


def descriptor(base, limit, typ, s=1, dpl=0, p=1, db=1, g=1):
    """A segment descriptor (SDM Vol. 3A §3.4.5), limit in its own units."""
    lo = (limit & 0xffff) | ((base & 0xffff) << 16)
    hi = ((base >> 16) & 0xff) | (base & 0xff000000) | (limit & 0xf0000) | \
        (typ << 8) | (s << 12) | (dpl << 13) | (p << 15) | (db << 22) | (g << 23)
    return (hi << 32) | lo


# ---- fuzz_decode: instruction bytes, padded to 15, then 8 registers ----

DECODE = {
    "cli": "fa",
    "sti-hlt": "fb f4",
    "mov-cr3-eax": "0f 22 d8",
    "mov-eax-cr0": "0f 20 c0",
    "lgdt-disp32": "0f 01 15 00 10 00 00",
    "lidt-sib": "0f 01 5c 24 08",
    "lock-add-sib-disp8": "f0 01 4c 98 10",
    "mov-moffs": "a1 78 56 34 12",
    "jmp-far": "ea 00 00 10 00 60 00",
    "call-far-16": "66 9a 34 12 60 00",
    "enter": "c8 10 00 01",
    "addr16-bp-si": "67 8b 42 10",
    "addr16-disp16": "67 8b 06 34 12",
    "pshufb": "66 0f 38 00 c1",
    "pcmpistri": "66 0f 3a 63 c1 0c",
    "extrq": "66 0f 78 c0 04 08",
    "iret": "cf",
    "int80": "cd 80",
    "rep-insb": "f3 6c",
    "mov-ss-mem": "8e 54 24 04",
    "ltr-ax": "0f 00 d8",
    "sysenter": "0f 34",
    "too-long": "66 " * 14 + "90",
    "seg-prefixes": "2e 3e 64 65 8b 00",
    "imm32-disp32": "c7 84 88 00 10 00 00 78 56 34 12",
}


def decode_seeds():
    regs = b"".join(u32(v) for v in
                    (0x1000, 0x20, 0x300, 0x4000, 0x8000, 0x9000, 0x10, 0x18))
    for name, hexbytes in DECODE.items():
        insn = bytes.fromhex(hexbytes)
        yield name, insn + b"\x90" * (15 - len(insn)) + regs


# ---- fuzz_emulate: guest state, code, patches, exits ----

F_USER, F_PAGING, F_WP, F_IDENT, F_VIF, F_SEGS, F_TABLES, F_MORE = (1 << i for i in range(8))
FAKE_CODE, FAKE_GDT, FAKE_IDT, FAKE_TSS = 0x100000, 0x1000, 0x2000, 0x3000
R_GDT, R_IDT, R_TSS, R_STACK, R_PT, R_LOW, R_ANY, R_CODE = range(8)
X_GP, X_PF, X_DB, X_EXC, X_IRQ = range(5)


def gate(handler, trap=True, dpl=0, sel=0x60):
    return u32((sel << 16) | (handler & 0xffff)) + \
        u32((handler & 0xffff0000) | 0x8000 | (dpl << 13) | ((0xf if trap else 0xe) << 8))


def emulate_input(code, flags=0, regs=None, eflags=0x2, cr4=0, cr0=0x11,
                  segs=None, tables=None, more=None, patches=(), exits=(X_GP,)):
    r = {"eax": 0, "ecx": 0, "edx": 0, "ebx": 0, "esp": 0x8000, "ebp": 0,
         "esi": 0, "edi": 0}
    r.update(regs or {})
    out = u8(flags | (F_SEGS if segs else 0) | (F_TABLES if tables else 0) |
             (F_MORE if more else 0))
    out += u16(cr4) + u32(cr0)
    out += b"".join(u32(r[n]) for n in ("eax", "ecx", "edx", "ebx", "esp", "ebp",
                                          "esi", "edi"))
    out += u32(eflags)
    if segs:    # ds es fs gs cs ss, cs_base ss_base
        out += b"".join(u16(s) for s in segs[:6]) + u32(segs[6]) + u32(segs[7])
    if tables:  # gdtr, idtr, ldtr, ldt, tr, tr_base, tr_limit
        gb, gl, ib, il, ldtr, lb, ll, tr, tb, tl = tables
        out += u32(gb) + u16(gl) + u32(ib) + u16(il) + u16(ldtr) + u32(lb) + \
            u16(ll) + u16(tr) + u32(tb) + u32(tl)
    if more:    # cr2 cr3 sysenter_cs sysenter_esp sysenter_eip
        out += b"".join(u32(v) for v in more)
    out += (bytes.fromhex(code) + bytes(16))[:16]
    out += u8(len(patches))
    for region, off, data in patches:
        assert 1 <= len(data) <= 32
        out += u8(region << 5 | (len(data) - 1))
        out += u32(off) if region == R_ANY else u16(off)
        out += data
    for x in exits:
        if isinstance(x, tuple):
            out += u8(x[0]) + x[1]
        else:
            out += u8(x)
    return out


def emulate_seeds():
    iret_frame = u32(0x400000) + u32(0x73) + u32(0x202) + u32(0x7000) + u32(0x7b)
    yield "cli", emulate_input("fa", flags=F_VIF)
    yield "sti-hlt", emulate_input("fb f4")
    yield "sti-nop-step", emulate_input("fb 90", exits=(X_GP, (X_DB | 0x80, b"")))
    yield "hlt-off", emulate_input("f4")
    yield "paging-on", emulate_input("0f 22 c0", flags=F_IDENT,
                                     regs={"eax": 0x80010011})
    yield "mov-cr3", emulate_input("0f 22 d8", flags=F_IDENT | F_PAGING,
                                   regs={"eax": 0x20000})
    yield "mov-cr4", emulate_input("0f 22 e0", regs={"eax": 0x690})
    yield "lgdt", emulate_input("0f 01 13", regs={"ebx": 0x5000},
                                patches=[(R_LOW, 0x5000, u16(0xff) + u32(FAKE_GDT))])
    yield "lidt-sidt", emulate_input("0f 01 1b 0f 01 0b", regs={"ebx": 0x5000},
                                     patches=[(R_LOW, 0x5000, u16(0x7ff) + u32(FAKE_IDT))],
                                     exits=(X_GP, X_GP))
    yield "iret-to-user", emulate_input("cf", patches=[(R_STACK, 0x1000, iret_frame)])
    yield "int80-from-user", emulate_input(
        "cd 80", flags=F_USER | F_VIF,
        patches=[(R_IDT, 0x80 * 8, gate(0x200000, dpl=3))])
    yield "int80-gate-dpl0", emulate_input(
        "cd 80", flags=F_USER, patches=[(R_IDT, 0x80 * 8, gate(0x200000)),
                                        (R_IDT, 13 * 8, gate(0x300000))])
    yield "exit-port", emulate_input("e6 f4", regs={"eax": 0x11})
    yield "reset-port", emulate_input("e6 64", regs={"eax": 0xfe})
    yield "pic-init", emulate_input("e6 20 e6 21", regs={"eax": 0x11},
                                    exits=(X_GP, X_GP))
    yield "rep-insb", emulate_input("f3 6c", regs={"ecx": 4, "edi": 0x5000,
                                                   "edx": 0x80})
    yield "outsd", emulate_input("6f", regs={"esi": 0x5000, "edx": 0x21})
    yield "pf-fill-paging-off", emulate_input(
        "90", exits=((X_PF, u32(0x5000) + u8(2)),))
    yield "pf-fill-identity", emulate_input(
        "90", flags=F_IDENT | F_PAGING | F_WP,
        exits=((X_PF, u32(0x5123) + u8(2)), (X_PF, u32(0x6000) + u8(0))))
    yield "pf-user-not-user", emulate_input(
        "90", flags=F_IDENT | F_PAGING | F_USER,
        patches=[(R_PT, 0x1000 + 5 * 4, u32(0x5000 | 0x63))],
        exits=((X_PF, u32(0x5000) + u8(4)),))
    yield "pf-4mib-page", emulate_input(
        "90", flags=F_IDENT | F_PAGING, cr4=0x10,
        patches=[(R_PT, 4, u32(0x00000000 | 0xe7))],
        exits=((X_PF, u32(0x401000) + u8(2)), X_GP))
    yield "gdt-write-step", emulate_input(
        "0f 01 13", flags=F_IDENT | F_PAGING, regs={"ebx": 0x5000},
        patches=[(R_LOW, 0x5000, u16(0xff) + u32(FAKE_GDT))],
        exits=(X_GP, (X_PF, u32(FAKE_GDT + 0x68) + u8(3)), (X_DB | 0x80, b"")))
    yield "gdt-mov-emulated", emulate_input(
        "0f 01 13 89 05 68 10 00 00", flags=F_IDENT | F_PAGING,
        regs={"ebx": 0x5000, "eax": 0x12345678},
        patches=[(R_LOW, 0x5000, u16(0xff) + u32(FAKE_GDT))],
        exits=(X_GP, (X_PF, u32(FAKE_GDT + 0x68) + u8(3))))
    yield "pv-irq", emulate_input("cd 1f fb", regs={"eax": 9, "ebx": 0x6000},
                                  exits=(X_GP, X_GP, (X_IRQ, u8(0))))
    yield "invlpg", emulate_input("0f 01 38", flags=F_IDENT | F_PAGING,
                                  regs={"eax": 0x5000},
                                  exits=((X_PF, u32(0x5000) + u8(0)), X_GP))
    yield "jmp-far", emulate_input("ea 00 00 20 00 60 00")
    yield "call-far-mem", emulate_input("ff 1b", regs={"ebx": 0x5000},
                                        patches=[(R_LOW, 0x5000, u32(0x200000) + u16(0x60))])
    yield "retf-to-user", emulate_input("cb", patches=[
        (R_STACK, 0x1000, u32(0x400000) + u32(0x73) + u32(0x7000) + u32(0x7b))])
    yield "mov-ds", emulate_input("8e d8", regs={"eax": 0x7b})
    yield "pop-ss", emulate_input("17", patches=[(R_STACK, 0x1000, u32(0x68))])
    yield "lss", emulate_input("0f b2 23", regs={"ebx": 0x5000},
                               patches=[(R_LOW, 0x5000, u32(0x9000) + u16(0x68))])
    yield "ltr", emulate_input("0f 00 d8", regs={"eax": 0x80})
    yield "lldt", emulate_input("0f 00 d0", regs={"eax": 0x88}, patches=[
        (R_GDT, 0x88, u64(descriptor(0x6000, 0x3f, 0x2, s=0, db=0, g=0)))])
    yield "sysenter-sysexit", emulate_input(
        "0f 34", more=(0, 0, 0x60, 0x9000, 0x200000), exits=(X_GP,))
    yield "sysexit", emulate_input("0f 35", regs={"ecx": 0x7000, "edx": 0x400000},
                                   more=(0, 0, 0x60, 0x9000, 0x200000))
    yield "msr", emulate_input("0f 30 0f 32", regs={"ecx": 0x277, "eax": 0x06060606},
                               exits=(X_GP, X_GP))
    yield "mov-dr7", emulate_input("0f 23 f8", regs={"eax": 0x401})
    yield "hypercall-probe", emulate_input("cd 1f", regs={"eax": 0})
    yield "hypercall-console", emulate_input(
        "cd 1f", regs={"eax": 1, "ebx": 0x5000, "ecx": 5},
        patches=[(R_LOW, 0x5000, b"hello")])
    yield "hypercall-batch", emulate_input(
        "cd 1f", regs={"eax": 8, "ebx": 0x5000, "ecx": 1},
        patches=[(R_LOW, 0x5000, u32(3) + u32(0x1000) + u32(0xff) + u32(0))])
    yield "irq-to-guest", emulate_input(
        "90", flags=F_VIF, patches=[(R_IDT, 0x20 * 8, gate(0x200000, trap=False))],
        exits=((X_IRQ, u8(0)),))
    yield "exception-df-triple", emulate_input(
        "90", tables=(FAKE_GDT, 0xff, FAKE_IDT, 0x7, 0, 0, 0, 0x80, FAKE_TSS, 0x67),
        exits=((X_EXC, u8(0) + u16(0)),))
    # Regression seeds: inputs of bugs the fuzzers found, fixed since.
    yield "regress-far-jmp-clip", emulate_input(        # 89c3bb1
        "ea 00 10 00 00 88 00", patches=[(R_GDT, 0x88, u64(descriptor(0xfbfff800, 0xfffff, 0xa)))])
    yield "regress-ins-into-gdt", emulate_input(        # 515ccec
        "f3 6c", regs={"ecx": 8, "edi": FAKE_GDT + 0x68, "edx": 0x80})
    yield "user-ring0-stack", emulate_input(
        "cd 80", flags=F_USER | F_VIF,
        segs=(0x7b, 0x7b, 0, 0, 0x73, 0x7b, 0, 0),
        patches=[(R_IDT, 0x80 * 8, gate(0x200000, dpl=3)),
                 (R_TSS, 4, u32(0x9000) + u32(0x68))])


# ---- fuzz_fastpath: emulate's state, a setup byte, patches, steps ----

FP_PV_IRQ, FP_NO_IDT = 1, 2
S_GP, S_PF_STORE, S_PF, S_EVENT = range(4)
S_FRAME, S_ERROR_CS, S_WRITE = 0x20, 0x40, 0x20


def fastpath_input(code, setup=FP_PV_IRQ, patches=(), steps=(), **state):
    out = emulate_input(code, exits=(), **state)[:-1]     # less the patch count
    out += u8(setup) + u8(len(patches))
    for region, off, data in patches:
        out += u8(region << 5 | (len(data) - 1))
        out += u32(off) if region == R_ANY else u16(off)
        out += data
    return out + b"".join(steps)


def gp_step(code="", frame=None, error_cs=False):
    """#GP at CS:EIP, code (1-8 bytes) put there first ("": 1 byte, what is there)."""
    b = bytes.fromhex(code) or b"\x00"
    kind = S_GP | (len(b) - 1) << 2 | (S_FRAME if frame else 0) | (S_ERROR_CS if error_cs else 0)
    out = u8(kind) + (b if code else b"\x00")
    if frame:
        out += b"".join(u32(w) for w in frame)
    return out


def store_step(code="", delta=0, write=True):
    b = bytes.fromhex(code)
    return u8(S_PF_STORE | len(b) << 2 | (S_WRITE if write else 0)) + b + u8(delta)


def pf_step(va, write=False):
    return u8(S_PF | (S_WRITE if write else 0)) + u32(va)


def fastpath_seeds():
    frame = u32(0x300000) + u32(0x73) + u32(0x202) + u32(0x7000) + u32(0x7b)
    back = (gp_step("cf"), gp_step("cd 80"), gp_step("cf"))   # iret, int 0x80, iret
    yield "iret-twice", fastpath_input("cf", patches=[(R_STACK, 0x1000, frame)],
                                       steps=back)
    yield "iret-twice-paging", fastpath_input(
        "cf", flags=F_IDENT | F_PAGING, patches=[(R_STACK, 0x1000, frame)],
        steps=back + (gp_step("cd 80"), gp_step("cf", error_cs=True)))
    yield "iret-frame-changed", fastpath_input(
        "cf", patches=[(R_STACK, 0x1000, frame)],
        steps=(gp_step("cf"), gp_step("cd 80"),
               gp_step("cf", frame=(0x300100, 0x73, 0x246, 0x6000, 0x7b)),
               gp_step("cd 80"), gp_step("cf", frame=(0x300100, 0x60, 0x246, 0x6000, 0x68))))
    yield "iret-no-pv-irq", fastpath_input("cf", setup=0,
                                           patches=[(R_STACK, 0x1000, frame)], steps=back)
    stores = (store_step(), store_step("89 48 04"), store_step("a3 38 10 00 00"),
              store_step("89 4d 08"), store_step("89 0d 40 10 00 00"))
    regs = {"eax": 0x1030, "ecx": 0x00cff300, "ebp": 0x1040}
    yield "table-stores", fastpath_input("89 08", regs=regs, steps=stores)
    yield "table-stores-paging", fastpath_input("89 08", regs=regs, flags=F_IDENT | F_PAGING,
                                                steps=stores)
    yield "table-store-off-limit", fastpath_input(
        "89 08", regs={"eax": 0x10f8, "ecx": 0x1234},
        tables=(0x1000, 0xfb, FAKE_IDT, 0x7ff, 0, 0, 0, 0x80, FAKE_TSS, 0x67),
        steps=(store_step(), store_step("89 48 04"), store_step("89 48 fc")))
    yield "fill-paging", fastpath_input("90", flags=F_IDENT | F_PAGING,
                                        steps=(pf_step(0x200000), pf_step(0x201000, True)))
    yield "fill-guest-fault", fastpath_input(
        "90", flags=F_IDENT | F_PAGING | F_USER, patches=[(R_PT, 0x1000 + 0x300 * 4, u32(0x300003))],
        steps=(pf_step(0x300000, True),))
    # The GDT's second page mapped onto its first one's frame: a store
    # there is a store into entry 18 too (mmu.c remember_store_page).
    yield "regress-table-store-gdt-alias", fastpath_input(
        "89 08", regs={"eax": 0x1f90, "ecx": 0x00cff300}, flags=F_IDENT | F_PAGING,
        tables=(0x1f80, 0xff, FAKE_IDT, 0x7ff, 0, 0, 0, 0x80, FAKE_TSS, 0x67),
        patches=[(R_PT, 0x1000 + 2 * 4, u32(0x1000 | 0x67))],
        steps=(store_step(), store_step("89 0d 10 10 00 00")))


# ---- fuzz_pagewalk_shadow: programs ----

def pw_seeds():
    P, W, U, PS, G = 1, 2, 4, 0x80, 0x100

    def wr(index, value): return u8(0) + u16(index) + u32(value)
    def pde(slot, value): return u8(1) + u16(slot) + u32(value)
    def walk(va, how): return u8(2) + u32(va) + u8(how)
    def fill(va, how): return u8(6) + u32(va) + u8(how)
    def smap(how, va, pa): return u8(3) + u8(how) + u32(va) + u32(pa)
    def inval(va): return u8(4) + u32(va)
    flush, flush_nonglobal = u8(5), u8(13)
    def mode(cr3, pse=1, wp=1, pge=1):
        return u8(7) + u8(0x80 | pse | wp << 1 | pge << 2) + u32(cr3)

    base = u8(24) + mode(0x1000) + pde(0, 0x2000 | P | W | U) + \
        wr(0x2000 // 4 + 1, 0x3000 | P | W | U) + wr(0x2000 // 4 + 2, 0x4000 | P | U)
    yield "walk-4k", base + walk(0x1abc, 0) + walk(0x1000, 3) + walk(0x2000, 3) + \
        walk(0x2000, 1) + walk(0x5000, 0)
    yield "fill-invalidate", base + fill(0x1000, 1) + fill(0x2000, 2) + \
        inval(0x1000) + walk(0x1000, 4) + flush
    yield "large-page", base + pde(1, 0x00400000 | P | W | U | PS) + \
        fill(0x401000, 3) + fill(0x7ff000, 0) + inval(0x500000) + fill(0x400000, 2)
    yield "pse-off", base + mode(0x1000, pse=0) + pde(1, 0x2000 | P | W | PS) + \
        walk(0x401000, 0) + walk(0x401000, 2)
    yield "wp-off", base + mode(0x1000, wp=0) + walk(0x2000, 1) + fill(0x2000, 1)
    yield "bad-table", base + pde(2, 0x7fff000 | P) + walk(0x800000, 0)
    yield "vmm-space", u8(8) + smap(1, 0xfc000000, 0x5000) + smap(0, 0xfbfff000, 0x5000) + \
        smap(3, 0xffc00000, 0x5000) + inval(0xfc000000)
    yield "out-of-frames", u8(8) + b"".join(smap(i & 1, i << 22, i << 12)
                                            for i in range(26)) + flush
    yield "global-cr3-load", base + wr(0x2000 // 4 + 3, 0x5000 | P | W | G) + \
        fill(0x3000, 0) + fill(0x1000, 0) + smap(8 | 1, 0x800000, 0x6000) + \
        flush_nonglobal + walk(0x3000, 0) + inval(0x3000) + mode(0x1000, pge=0) + \
        fill(0x3000, 0) + flush_nonglobal
    yield "self-map", base + pde(3, 0x1000 | P | W | U) + walk(0xc00000, 3) + \
        fill(0xc00000, 1)

    def again(which, writable, va, pa): return smap(0x10 | which | writable << 1, va, pa)
    def touch(which, va): return u8(12) + u8(which) + u32(va)
    def flush_listing(n): return u8(13 | n << 4)    # a list of (1 << n) >> 1
    yield "working-set", base + again(1, 0, 0x1000, 0x3000) + again(0, 1, 0x2000, 0x4000) + \
        again(1, 1, 0x400000, 0x5000) + fill(0x1000, 3) + touch(1, 0x1000) + \
        touch(0, 0x2000) + touch(1, 0x400000) + flush_listing(5) + \
        again(1, 0, 0xfc000000, 0x5000) + again(1, 0, 0x1000, 0x3000) + \
        again(1, 0, 0x3000, 0x3000) + touch(1, 0x1000) + touch(1, 0x3000) + flush_listing(1)
    yield "working-set-out-of-frames", u8(8) + b"".join(smap(i & 1, i << 22, i << 12)
                                                        for i in range(22)) + \
        flush_nonglobal + b"".join(again(i & 1, 1, (64 + i) << 22, i << 12)
                                   for i in range(26)) + flush_listing(3)


# ---- fuzz_segments: descriptor, ring ----

def seg_seeds():
    seeds = {
        "flat-code0": descriptor(0, 0xfffff, 0xb),
        "flat-data0": descriptor(0, 0xfffff, 0x3),
        "flat-code3": descriptor(0, 0xfffff, 0xb, dpl=3),
        "flat-data3": descriptor(0, 0xfffff, 0x3, dpl=3),
        "conforming": descriptor(0x1000, 0xfff, 0xf, dpl=1),
        "expand-down": descriptor(0xfff00000, 0xff, 0x7, dpl=0),
        "byte-limit-near-top": descriptor(0xfbff0000, 0xfffff, 0x3, g=0),
        "page-at-top": descriptor(0xfbfff000, 0xfffff, 0xb),
        "base-in-vmm": descriptor(0xfc000000, 0xfff, 0x3),
        "tss": descriptor(0x3000, 0x67, 0x9, s=0, db=0, g=0),
        "ldt": descriptor(0x6000, 0x3f, 0x2, s=0, db=0, g=0),
        "not-present": descriptor(0, 0xfffff, 0xb, p=0),
        "call-gate": (0x0060 << 16) | 0x1234 | ((0x8c00 | 0x12340000) << 32),
    }
    for name, raw in seeds.items():
        yield name, u64(raw) + u8(0) + u64(raw) + u8(3)
    # Regression seed: clipping under a page below the VMM (fixed in 89c3bb1).
    yield "regress-clip-underflow", u64(descriptor(0xfbfff800, 0xfffff, 0xa)) + u8(0)


# ---- fuzz_multiboot: info offset, flags, physical memory from 0x1000 ----

def mb_seeds():
    MEM = 0x1000

    def memory(cmdline=b"ringvisor mem=64", modules=(), mmap=None):
        mem = bytearray(0x800)
        mmap = mmap or [(0, 0x9fc00, 1), (0x9fc00, 0x400, 2), (0xf0000, 0x10000, 2),
                        (0x100000, 0x7f00000, 1)]
        flags = 1 << 6 | 1 << 0
        mm = b"".join(u32(20) + u64(b) + u64(n) + u32(t) for b, n, t in mmap)
        mem[0x100:0x100 + len(mm)] = mm
        if cmdline is not None:
            flags |= 1 << 2
            mem[0x300:0x300 + len(cmdline) + 1] = cmdline + b"\0"
        mods = b""
        for i, (data, string) in enumerate(modules):
            s_at, d_at = 0x400 + 0x40 * i, 0x600 + 0x80 * i
            mem[s_at:s_at + len(string) + 1] = string + b"\0"
            mem[d_at:d_at + len(data)] = data
            mods += u32(MEM + d_at) + u32(MEM + d_at + len(data)) + u32(MEM + s_at) + u32(0)
        if modules:
            flags |= 1 << 3
            mem[0x200:0x200 + len(mods)] = mods
        info = u32(flags) + u32(639) + u32(0x7f00000 // 1024) + u32(0) + \
            u32(MEM + 0x300) + u32(len(modules)) + u32(MEM + 0x200) + bytes(16) + \
            u32(len(mm)) + u32(MEM + 0x100)
        mem[0:len(info)] = info
        return u32(0) + u8(0) + bytes(mem)

    yield "basic", memory()
    yield "no-cmdline", memory(cmdline=None)
    yield "modules", memory(modules=[(b"\x7fELF" + bytes(60), b"/kernel console=ttyS0"),
                                     (b"initrd" * 10, b"")])
    yield "overlapping-map", memory(mmap=[(0, 0x200000, 1), (0x100000, 0x1000, 2),
                                          (0x180000, 0x100000, 1), (0xfffff000, 0x2000, 1),
                                          (0x100000000, 0x1000, 1)])
    yield "bad-magic", u32(0x12345678) + u8(1) + memory()[5:]


# ---- fuzz_elf_loaders: what, RAM, cmdline length, initrd length, image ----

def elf(segments, entry, mb_header=False):
    """An i386 ET_EXEC: segments are (vaddr, paddr, data, memsz)."""
    phoff, n = 52, len(segments)
    offset = phoff + 32 * n + (12 if mb_header else 0)
    phdrs, blobs = b"", b""
    for vaddr, paddr, data, memsz in segments:
        phdrs += u32(1) + u32(offset + len(blobs)) + u32(vaddr) + u32(paddr) + \
            u32(len(data)) + u32(memsz) + u32(7) + u32(0x1000)
        blobs += data
    eh = b"\x7fELF\x01\x01\x01" + bytes(9) + u16(2) + u16(3) + u32(1) + u32(entry) + \
        u32(phoff) + u32(0) + u32(0) + u16(52) + u16(32) + u16(n) + u16(40) + u16(0) + u16(0)
    mbh = u32(0x1badb002) + u32(3) + u32(-(0x1badb002 + 3)) if mb_header else b""
    return eh + phdrs + mbh + blobs


def elf_seeds():
    code = bytes.fromhex("fa f4 eb fd") * 8
    mb = elf([(0x100000, 0x100000, code, 0x2000)], 0x100000, mb_header=True)
    vmlinux = elf([(0xc1000000, 0x1000000, code, 0x3000),
                   (0xc1400000, 0x1400000, code[:16], 0x1000)], 0x1000000)
    initrd = b"070701" + bytes(58)

    def hdr(what, ram, cmdline_len, initrd_len):
        return u8(what) + u8(ram) + u16(cmdline_len) + u32(initrd_len)

    yield "multiboot-kernel", hdr(1, 1, 20, 0) + mb
    yield "multiboot-low", hdr(1, 3, 0, 0) + elf([(0x10000, 0x10000, code, 0x100)],
                                                 0x10000, mb_header=True)
    yield "vmlinux-initrd", hdr(2, 7, 40, len(initrd)) + vmlinux + initrd
    yield "vmlinux-no-cmdline", hdr(6, 5, 0, 0) + vmlinux
    yield "vmlinux-high-entry", hdr(2, 7, 10, 0) + \
        elf([(0xc1000000, 0x1000000, code, 0x1000)], 0xc1000010)
    yield "both-loaders", hdr(3, 7, 100, 16) + mb + bytes(16)
    yield "not-32-bit", hdr(3, 7, 0, 0) + b"\x7fELF\x02\x01\x01" + bytes(57)


GENERATORS = {
    "decode": decode_seeds, "emulate": emulate_seeds, "fastpath": fastpath_seeds,
    "pagewalk_shadow": pw_seeds, "segments": seg_seeds,
    "multiboot": mb_seeds, "elf_loaders": elf_seeds,
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, "tests", "fuzz", "corpus"))
    opts = p.parse_args()
    total = 0
    for target, gen in GENERATORS.items():
        d = os.path.join(opts.out, target)
        os.makedirs(d, exist_ok=True)
        # Regression seeds a fuzzer found (regress-*, not written here)
        # stay; every other file is this script's to write again.
        for old in os.listdir(d):
            if not old.startswith("regress-"):
                os.remove(os.path.join(d, old))
        for name, data in gen():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            total += len(data)
    print(f"seeds written to {opts.out}: {total} bytes")


if __name__ == "__main__":
    main()
