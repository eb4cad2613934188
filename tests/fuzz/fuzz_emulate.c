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
 * Each exit goes through step_exit and then emulate_gp (delivering what it
 * raises with deliver_event), mmu_page_fault, or deliver_event.  The guest's
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

#include "core/deliver.h"
#include "core/emulate.h"
#include "core/guest.h"
#include "core/mmu.h"
#include "core/pagewalk.h"
#include "core/segments.h"
#include "core/step.h"
#include "core/vmem.h"
#include "core/x86_bits.h"
#include "dev/i8259.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/unit/support/fake_vmm.h"

#define CR4_VIRTUALIZED (CR4_TSD | CR4_DE | CR4_PSE | CR4_MCE | CR4_PGE | CR4_PCE | \
			 CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_UMIP)
#define EFLAGS_GUEST 0x00244fd5u	/* what iret/popf may set (core/ring.c) */
#define DR6_BS 0x00004000u
#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define FRAME 0xfffff000u

/* The identity page tables an input may ask for: 0-4 MiB, user, writable. */
#define IDENT_PD 0x20000u
#define IDENT_PT 0x21000u

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

/* ---- the guest state ---- */

static void read_state(struct input *in)
{
	struct vcpu *v = &fake_vcpu;
	struct trapframe *tf = &fake_regs;
	uint8_t flags = in_u8(in);
	uint32_t cr4 = in_u16(in);
	uint32_t cr0 = in_u32(in);

	for (unsigned r = 0; r < 8; r++)
		*vcpu_reg(tf, r) = in_u32(in);
	tf->eflags = (in_u32(in) & EFLAGS_GUEST) | 0x2;
	v->vif = (flags >> 4) & 1;
	v->cr4 = cr4 & CR4_VIRTUALIZED;
	/* CR0: PE always (the guest dies without it), the rest the input's,
	 * paging and WP as the flags say. */
	v->cr0 = (cr0 & ~(CR0_PG | CR0_WP)) | CR0_PE | CR0_ET |
		 ((flags & 2) ? CR0_PG : 0) | ((flags & 4) ? CR0_WP : 0);

	if (flags & 8) {	/* identity-mapped first 4 MiB */
		uint32_t pde = IDENT_PT | PTE_P | PTE_W | PTE_U | 0x20;
		memcpy(fake_ram + IDENT_PD, &pde, 4);
		for (uint32_t i = 0; i < 1024; i++) {
			uint32_t pte = i << 12 | PTE_P | PTE_W | PTE_U | 0x60;
			memcpy(fake_ram + IDENT_PT + i * 4, &pte, 4);
		}
		v->cr3 = IDENT_PD;
	}

	v->vpl = (flags & 1) ? VPL_USER : VPL_KERNEL;
	if (v->vpl == VPL_USER) {
		v->cs = 0x73;
		v->ss = 0x7b;
		tf->ds = tf->es = 0x7b;
	}
	if (flags & 0x20) {	/* segment state, as loads could leave it */
		tf->ds = in_u16(in);
		tf->es = in_u16(in);
		tf->fs = in_u16(in);
		tf->gs = in_u16(in);
		v->cs = (in_u16(in) & ~3u) | v->vpl;
		v->ss = in_u16(in);
		v->cs_base = in_u32(in) % GUEST_LINEAR_LIMIT;
		v->ss_base = in_u32(in);
	}
	if (flags & 0x40) {	/* descriptor-table registers */
		v->gdtr.base = in_u32(in);
		v->gdtr.limit = in_u16(in);
		v->idtr.base = in_u32(in);
		v->idtr.limit = in_u16(in);
		v->ldtr = in_u16(in);
		v->ldt.base = in_u32(in);
		v->ldt.limit = in_u16(in);
		v->tr = in_u16(in);
		v->tr_base = in_u32(in);
		v->tr_limit = in_u32(in);
	}
	if (flags & 0x80) {	/* more registers */
		v->cr2 = in_u32(in);
		v->cr3 = in_u32(in);
		v->sysenter_cs = in_u32(in);
		v->sysenter_esp = in_u32(in);
		v->sysenter_eip = in_u32(in);
	}
	/* The code: CS base + EIP is FAKE_CODE. */
	uint8_t code[16];
	in_bytes(in, code, sizeof(code));
	fake_code(code, sizeof(code));
	tf->eip = FAKE_CODE - v->cs_base;
}

/* Writes into guest RAM: a byte (region << 5 | length - 1), an offset,
 * the bytes. */
static void read_patches(struct input *in)
{
	static const struct { uint32_t base, size; } regions[8] = {
		{ FAKE_GDT, 0x1000 }, { FAKE_IDT, 0x800 }, { FAKE_TSS, 0x1000 },
		{ 0x7000, 0x2000 },		/* the stacks: ESP 0x8000, ESP0 0x9000 */
		{ IDENT_PD, 0x2000 },		/* the identity tables */
		{ 0, 0x10000 },			/* low memory */
		{ 0, FAKE_RAM_SIZE },		/* anywhere */
		{ FAKE_CODE, 0x1000 },		/* the code page */
	};
	unsigned n = in_u8(in) & 31;
	for (unsigned i = 0; i < n && in_left(in) > 0; i++) {
		uint8_t b = in_u8(in);
		unsigned r = b >> 5, len = (b & 31) + 1;
		uint32_t off = r == 6 ? in_u32(in) : in_u16(in);
		uint32_t gpa = regions[r].base + off % regions[r].size;
		uint8_t bytes[32];
		in_bytes(in, bytes, len);
		if (gpa + len > FAKE_RAM_SIZE)
			len = FAKE_RAM_SIZE - gpa;
		memcpy(fake_ram + gpa, bytes, len);
	}
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

static void deliver(struct event ev)
{
	if (deliver_event(&fake_vcpu, ev))
		guest_die(&fake_vcpu, "triple fault");
}

static void mark_pending(struct vcpu *v, uint8_t real_vector)
{
	v->pending_irqs[real_vector / 32] |= 1u << (real_vector % 32);
}

/* The paravirtual interrupt flag (ringvisor/hypercall.h), as guest.c keeps it. */
static void pv_irq_sync_in(struct vcpu *v)
{
	uint32_t vif;
	if (v->pv_irq && gmem_read(&v->mem, v->pv_irq_gpa, &vif, 4) == 0)
		v->vif = vif != 0;
}

static void pv_irq_sync_out(struct vcpu *v)
{
	if (!v->pv_irq)
		return;
	int pending = 0;
	for (unsigned w = 0; w < 8; w++)
		pending |= v->pending_irqs[w] != 0;
	uint32_t words[2] = { (uint32_t)v->vif, (uint32_t)pending };
	gmem_write(&v->mem, v->pv_irq_gpa, words, sizeof(words));
	if (vcpu_table_page(v, v->pv_irq_gpa))
		v->tables_written = 1;
}

static void deliver_pending(struct vcpu *v)
{
	if (!v->vif || (v->step_reasons & STEP_STI_SHADOW) || v->sti_shadow)
		return;
	for (unsigned word = 0; word < 8; word++) {
		if (!v->pending_irqs[word])
			continue;
		unsigned bit = (unsigned)__builtin_ctz(v->pending_irqs[word]);
		v->pending_irqs[word] &= ~(1u << bit);
		int vector = pic_guest_vector((uint8_t)(word * 32 + bit));
		if (vector >= 0)
			deliver((struct event){ .vector = (uint8_t)vector,
						.source = EVENT_EXTERNAL });
		return;
	}
}

/*
 * One exit, as core/guest.c guest_exit and handle_exit take it (that file
 * is built for the VMM only: this follows it, and must keep following it).
 * Returns 1 when the guest waits in hlt: the run is over.
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
	pv_irq_sync_in(v);

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

	if (v->sti_shadow) {
		if (tf->eip != v->sti_shadow_eip)
			v->sti_shadow = 0;
		else if (vector >= 32) {
			v->sti_shadow = 0;
			step_sti_shadow(v, tf->eip);
		}
	}
	if (!step_exit(v, vector, debug_status)) {
		if (vector == VEC_DB)
			v->dr[6] = debug_status;
		if (vector == VEC_GP) {
			struct event raise;
			if (emulate_gp(v, tf->error, &raise) == RAISE)
				deliver(raise);
		} else if (vector == VEC_PF) {
			unsigned before = deliveries;
			mmu_page_fault(v, va, tf->error);
			if (deliveries == before)
				check_fill(va);
		} else if (vector < 32) {
			deliver((struct event){ .vector = vector,
				.has_error = (uint8_t)vector_has_error_code(vector),
				.error = tf->error, .source = EVENT_EXCEPTION });
		} else {
			mark_pending(v, vector);
		}
	}
	if (v->sti_shadow && tf->eip != v->sti_shadow_eip)
		v->sti_shadow = 0;
	int halted = v->halted;	/* the VMM would wait for an interrupt: the end */
	if (!halted) {
		deliver_pending(v);
		pv_irq_sync_out(v);
	}
	/* Last, as in guest_exit: the delivery and the flag word may store
	 * into a table page too.  (Halted, the VMM mirrors before it resumes
	 * the guest; here, before the checks.) */
	if (v->tables_written) {	/* the VMM stored into a table page */
		v->tables_written = 0;
		ring_mirror_gdt(v);
		if (v->ldtr)
			ring_mirror_ldt(v);
	}
	return halted;
}

/* The PICs' state lives in dev/i8259.c: initialise them the same way for
 * every input, as a guest kernel does (ICW1-4, vector bases 0x20/0x28). */
static void reset_pics(void)
{
	static const uint8_t icw[2][5] = { { 0x20, 0x11, 0x20, 0x04, 0x01 },
					   { 0xa0, 0x11, 0x28, 0x02, 0x01 } };
	for (unsigned i = 0; i < 2; i++) {
		pic_write(icw[i][0], icw[i][1]);
		for (unsigned j = 2; j < 5; j++)
			pic_write(icw[i][0] + 1, icw[i][j]);
	}
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
