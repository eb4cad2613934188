/*
 * Fuzzing the #GP emulator, event delivery and the virtual MMU against the
 * simulated machine of the unit tests (tests/unit/support/fake_vmm.c): a
 * 4 MiB guest RAM buffer, the vCPU, fakes of the arch hooks.
 *
 * The input is a guest state and a few exits, taken as the VMM's exit
 * handler (core/guest.c guest_exit) takes them:
 *
 *   header   flags, CR4, CR0, the general registers, EFLAGS and, as flags
 *            ask, segment state, descriptor-table registers, CR2/CR3 and
 *            SYSENTER MSRs (see read_state)
 *   code     16 bytes at guest-physical FAKE_CODE (0x100000): the
 *            instruction at EIP (CS base + EIP is always FAKE_CODE)
 *   patches  a count, then writes into guest RAM: the GDT, IDT, TSS, stack,
 *            page tables, code page, or anywhere (see read_patches)
 *   exits    up to 8, each a byte (low 7 bits mod 5) and operands: #GP at
 *            EIP, #PF at an address, #DB (bit 7: a single-step one, which
 *            ends a step: a write to a descriptor-table page the VMM let
 *            through is then done, its bytes from the input), another
 *            exception, or a hardware interrupt (see run_exit)
 *
 * Each exit goes as core/guest.c guest_exit takes it (replayed by
 * fuzz_guest.h): first the fast paths (the kernel's iret to user mode, its
 * stores into its GDT page, shadow fills), then step_exit and emulate_gp
 * (delivering what it raises with deliver_event), mmu_page_fault, or
 * deliver_event, then the exit's tail.  The guest's
 * deaths, resets and shutdowns longjmp out (fake_vmm.c: fake_stop).  ASan
 * checks that the VMM touches no memory but the fake guest RAM and its own.
 * After every exit the fuzzer checks what the VMM promises:
 *   - the virtual ring is 0 or 3, and CS's RPL says it; CS's base is below
 *     GUEST_LINEAR_LIMIT;
 *   - the guest's EFLAGS never get IOPL or VM (its ring-3 code would then
 *     do port I/O or cli itself);
 *   - every shadow page-table entry maps a present user page of guest RAM,
 *     for a linear address below GUEST_LINEAR_LIMIT, and the VMM's
 *     directory slots are empty; a page holding the guest's GDT or LDT is
 *     writable only during the single-stepped write that opened it;
 *   - a shadow entry made by a page fault is what the guest's own tables
 *     allow at the current virtual ring (writable only if the guest's entry
 *     is writable and dirty), or the identity with paging off;
 *   - a GDT entry the exit changed (the VMM wrote it, or the single-stepped
 *     write it let through) is mirrored, as the real GDT would hold it
 *     (fake_vmm.c records the mirrors), unless some table page could not
 *     be protected (then user-mode entry re-reads them all);
 * and, by wrapping arch hooks (the link's --wrap), that every code and
 * stack segment the guest is given has an alias the VMM can run it on,
 * DPL 3 and clipped below GUEST_LINEAR_LIMIT, and that the real ports the
 * VMM touches for the guest are only the PICs'.
 */
#include <stdlib.h>

#include "tests/fuzz/fuzz_guest.h"

/* ---- what the core hands the arch ---- */

int __real_arch_guest_set_code(struct vcpu *v, uint64_t raw);
int __real_arch_guest_set_stack(struct vcpu *v, uint64_t raw);
uint32_t __real_arch_port_in(uint16_t port, unsigned size);
void __real_arch_port_out(uint16_t port, unsigned size, uint32_t value);

/* The alias the guest's code will run on can be made, and is safe. */
int __wrap_arch_guest_set_code(struct vcpu *v, uint64_t raw)
{
	uint64_t alias = segments_code_alias(raw);
	CHECK(alias != 0);
	struct segment a = segment_decode(alias);
	CHECK(a.present && segment_is_code(&a) && a.dpl == 3 &&
	      !(a.type & SEG_TYPE_CONFORMING));
	CHECK((uint64_t)a.base + a.limit < GUEST_LINEAR_LIMIT);
	return __real_arch_guest_set_code(v, raw);
}

int __wrap_arch_guest_set_stack(struct vcpu *v, uint64_t raw)
{
	uint64_t alias = segments_stack_alias(raw);
	CHECK(alias != 0);
	struct segment a = segment_decode(alias);
	CHECK(a.present && a.s && !segment_is_code(&a) && a.dpl == 3 &&
	      (a.type & SEG_TYPE_WRITABLE));
	if (!(a.type & SEG_TYPE_EXPAND_DOWN))
		CHECK((uint64_t)a.base + a.limit < GUEST_LINEAR_LIMIT);
	return __real_arch_guest_set_stack(v, raw);
}

/* Real port I/O on the guest's behalf: the PICs only (dev/i8259.c). */
uint32_t __wrap_arch_port_in(uint16_t port, unsigned size)
{
	CHECK(pic_port(port) && size == 1);
	return __real_arch_port_in(port, size);
}

void __wrap_arch_port_out(uint16_t port, unsigned size, uint32_t value)
{
	CHECK(pic_port(port) && size == 1);
	__real_arch_port_out(port, size, value);
}

/* ---- the checks ---- */

static int is_protected(const struct vcpu *v, uint32_t gpa)
{
	for (unsigned i = 0; i < v->nprotected; i++)
		if (v->protected_pages[i] == (gpa & FRAME))
			return 1;
	return 0;
}

/* A writable shadow entry for a descriptor-table page: only the page whose
 * write is being single-stepped. */
static int may_write(const struct vcpu *v, uint32_t va, uint32_t frame)
{
	return !is_protected(v, frame) ||
	       ((v->step_reasons & STEP_PROTECTED_WRITE) &&
		(va & FRAME) == (v->open_page & FRAME));
}

static void check_state(void)
{
	const struct vcpu *v = &fake_vcpu;

	CHECK(v->vpl == VPL_KERNEL || v->vpl == VPL_USER);
	CHECK((v->cs & 3) == v->vpl);
	CHECK(v->cs_base < GUEST_LINEAR_LIMIT);
	CHECK((fake_regs.eflags & (EFLAGS_IOPL | EFLAGS_VM)) == 0);
	CHECK(v->nprotected <= MAX_PROTECTED_PAGES);

	const struct shadow *s = &v->shadow;
	for (unsigned which = 0; which < 2; which++) {
		const uint32_t *pd = s->ops->table(s->pd[which]);
		for (unsigned slot = SHADOW_GUEST_PDES; slot < 1024; slot++)
			CHECK(pd[slot] == 0);	/* fake_vmm.c's VMM slots */
		for (unsigned slot = 0; slot < SHADOW_GUEST_PDES; slot++) {
			if (!(pd[slot] & PTE_P))
				continue;
			const uint32_t *pt = s->ops->table(pd[slot] & FRAME);
			for (unsigned i = 0; i < 1024; i++) {
				if (!pt[i])
					continue;
				uint32_t va = slot << 22 | i << 12, frame = pt[i] & FRAME;
				CHECK((pt[i] & (PTE_P | PTE_U)) == (PTE_P | PTE_U));
				CHECK(va < GUEST_LINEAR_LIMIT);
				/* host_base is 0: host frames are guest frames. */
				CHECK(frame < v->mem.size);
				CHECK(!(pt[i] & PTE_W) || may_write(v, va, frame));
			}
		}
	}
}

/* A #PF that filled the shadow: the entry is what the guest allows. */
static void check_fill(uint32_t va)
{
	struct vcpu *v = &fake_vcpu;
	uint32_t e = shadow_lookup(&v->shadow, vcpu_shadow(v), va);
	CHECK(e & PTE_P);
	CHECK(va < GUEST_LINEAR_LIMIT);
	uint32_t frame = e & FRAME;
	if (!vmem_paging_on(v)) {
		CHECK(frame == (va & FRAME));
		return;
	}
	unsigned access = (v->vpl == VPL_USER ? ACCESS_USER : 0) |
			  (e & PTE_W ? ACCESS_WRITE : 0);
	struct paging_mode mode = vmem_paging_mode(v);
	struct walk w;
	CHECK(guest_walk(&v->mem, &mode, va, access, 0, &w) == WALK_OK);
	CHECK((w.gpa & FRAME) == frame);
	CHECK(!(e & PTE_W) || (w.writable && w.dirty));
}

/*
 * The GDT mirror.  Writes to the guest's descriptor tables are mirrored into
 * the real GDT as they happen: the guest's own trap (core/mmu.c), and the
 * VMM's writes for it must be mirrored too.  So an entry whose bytes change
 * during an exit (same GDTR, same address space) must be mirrored, as the
 * real GDT would hold it, by the end of that exit.
 */
static int peek(struct vcpu *v, uint32_t linear, uint8_t *buf, uint32_t len)
{
	/* As the CPU reads it, without setting accessed flags. */
	while (len) {
		uint32_t chunk = 4096 - (linear & 0xfff), gpa = linear;
		if (chunk > len)
			chunk = len;
		if (vmem_paging_on(v)) {
			struct paging_mode mode = vmem_paging_mode(v);
			struct walk w;
			if (guest_walk(&v->mem, &mode, linear, 0, 0, &w) != WALK_OK)
				return -1;
			gpa = w.gpa;
		}
		if (gmem_read(&v->mem, gpa, buf, chunk))
			return -1;
		linear += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

struct gdt_view {
	struct descriptor_table gdtr;
	uint32_t cr0, cr3;
	uint8_t ok[32];
	uint64_t raw[32];
};

static void view_gdt(struct gdt_view *g)
{
	struct vcpu *v = &fake_vcpu;
	g->gdtr = v->gdtr;
	g->cr0 = v->cr0;
	g->cr3 = v->cr3;
	for (unsigned i = 0; i < 32; i++)
		g->ok[i] = v->gdtr.limit && i * 8 + 7 <= v->gdtr.limit &&
			   peek(v, v->gdtr.base + i * 8, (uint8_t *)&g->raw[i], 8) == 0;
}

static int same_mirror(uint64_t a, uint64_t b)
{
	return segments_mirror(a, VPL_KERNEL) == segments_mirror(b, VPL_KERNEL) &&
	       segments_mirror(a, VPL_USER) == segments_mirror(b, VPL_USER);
}

static void check_mirror(const struct gdt_view *before)
{
	struct gdt_view after;
	view_gdt(&after);
	if (before->gdtr.base != after.gdtr.base || before->gdtr.limit != after.gdtr.limit ||
	    before->cr0 != after.cr0 || before->cr3 != after.cr3)
		return;
	/* Table pages the VMM could not protect are re-read on the next entry
	 * to user mode instead (core/ring.c enter_user_mode). */
	if (fake_vcpu.tables_unprotected)
		return;
	for (unsigned i = 0; i < 32; i++)
		if (before->ok[i] && after.ok[i] && before->raw[i] != after.raw[i])
			CHECK(same_mirror(fake_gdt_mirror[i], after.raw[i]));
}

/* ---- the exits ---- */

static unsigned deliveries;

int __real_deliver_event(struct vcpu *v, struct event ev);
int __wrap_deliver_event(struct vcpu *v, struct event ev)
{
	deliveries++;
	return __real_deliver_event(v, ev);
}

/*
 * One exit, as core/guest.c guest_exit takes it (replayed by
 * tests/fuzz/fuzz_guest.h, fast paths first).  Returns 1 when the guest
 * waits in hlt: the run is over.
 */
static int run_exit(struct input *in)
{
	struct vcpu *v = &fake_vcpu;
	struct trapframe *tf = &fake_regs;
	uint8_t kind = in_u8(in);
	uint8_t vector;
	uint32_t debug_status = 0, va = 0;

	switch ((kind & 0x7f) % 5) {
	case 0: vector = VEC_GP; break;
	case 1: vector = VEC_PF; va = in_u32(in); tf->error = in_u8(in) & 7; break;
	case 2: vector = VEC_DB; debug_status = (kind & 0x80) ? DR6_BS : in_u32(in); break;
	case 3: vector = in_u8(in) % 32; tf->error = in_u16(in); break;
	default: vector = PIC_REAL_BASE + in_u8(in) % 16; break;
	}
	if (vector == VEC_GP)
		tf->error = 0;
	tf->vector = vector;
	/* rep ins/outs run ECX times inside the VMM: keep that short. */
	tf->ecx &= 0xffff;
	SAY("exit %u (va 0x%08x error 0x%x) at eip 0x%08x ring %u\n", vector, va,
	    tf->error, tf->eip, v->vpl);

	/* A single step ending: the stepped instruction ran natively.  If it
	 * was the write the VMM let through to a descriptor-table page, do
	 * that write here: 1 to 16 bytes at the fault address (16: an SSE
	 * store such as movdqu), within its page. */
	if (vector == VEC_DB && (debug_status & DR6_BS) &&
	    (v->step_reasons & STEP_PROTECTED_WRITE)) {
		uint8_t bytes[16];
		unsigned n = 1 + in_u8(in) % 16;
		in_bytes(in, bytes, n);
		uint32_t at = v->open_page, gpa = at;
		if (4096 - (at & 0xfff) < n)
			n = 4096 - (at & 0xfff);
		struct paging_mode mode = vmem_paging_mode(v);
		struct walk w;
		if (vmem_paging_on(v))
			gpa = guest_walk(&v->mem, &mode, at, 0, 0, &w) == WALK_OK ?
			      w.gpa : 0xffffffffu;
		if (gmem_write(&v->mem, gpa, bytes, n) == 0)
			SAY("  the stepped instruction wrote %u bytes at 0x%08x\n", n, at);
	}

	/* guest_exit's fast paths: the exit ends there when one takes it. */
	int guest_fault = 0;
	uint32_t guest_error = 0;
	if (vector == VEC_GP && replay_fast_gp(v, tf)) {
		SAY("  fast path: iret\n");
		return 0;
	}
	if (vector == VEC_PF) {
		unsigned before = deliveries;
		uint32_t entry = shadow_lookup(&v->shadow, vcpu_shadow(v), va);
		if (replay_fast_pf(v, va, &guest_fault, &guest_error)) {
			SAY("  fast path: %s\n", entry == shadow_lookup(&v->shadow,
			    vcpu_shadow(v), va) ? "table store" : "fill");
			if (deliveries == before && entry != shadow_lookup(&v->shadow,
			    vcpu_shadow(v), va))
				check_fill(va);
			return 0;
		}
	}

	unsigned before = deliveries;
	replay_exit_body(v, vector, va, debug_status, guest_fault, guest_error);
	if (vector == VEC_PF && !guest_fault && deliveries == before)
		check_fill(va);
	return replay_exit_tail(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size, 0 };

	fake_reset();
	reset_pics();
	read_state(&in);
	read_patches(&in);
	/* As after the guest's lgdt/lldt: the pages holding its tables are
	 * found and protected. */
	mmu_protect_tables(&fake_vcpu);
	check_state();

	if (setjmp(fake_stop)) {
		SAY("  stopped: %s%s\n", fake_end == FAKE_DIED ? "died: " :
		    fake_end == FAKE_SHUTDOWN ? "shutdown" : fake_end == FAKE_RESET ?
		    "reset" : "halted", fake_end == FAKE_DIED ? fake_die_reason : "");
		return 0;	/* the guest died, reset or shut down */
	}
	for (unsigned n = 0; n < 8; n++) {
		struct gdt_view before;
		view_gdt(&before);
		int halted = run_exit(&in);
		SAY("  -> eip 0x%08x cs 0x%04x ring %u vif %d step %u%s\n", fake_regs.eip,
		    fake_vcpu.cs, fake_vcpu.vpl, fake_vcpu.vif, fake_vcpu.step_reasons,
		    halted ? " halted" : "");
		check_state();
		check_mirror(&before);
		if (halted || in_left(&in) == 0)
			break;
	}
	return 0;
}
