/*
 * The guest's life: boot, then one exit after another.
 *
 * Every trap from ring 3 is an exit.  An exception the guest caused is
 * reflected to the guest's own handler (paper §4.4.1); a hardware interrupt
 * is delivered through the guest's IDT; a #GP is usually a privileged
 * instruction the guest kernel believed it could run, and is emulated
 * (paper §4.4.2).  Each exit is counted by reason and, with trace=exits,
 * logged with the guest EIP and virtual ring.
 */
#include "core/guest.h"


#include <stdarg.h>

#include "core/arch.h"
#include "core/console.h"
#include "core/canary.h"
#include "core/deliver.h"
#include "core/emulate.h"
#include "core/exitstats.h"
#include "core/memory.h"
#include "core/mmu.h"
#include "core/segments.h"
#include "core/step.h"
#include "core/vmem.h"
#include "core/x86_bits.h"
#include "lib/format.h"
#include "lib/string.h"
#include "loader/linux.h"
#include "loader/mbguest.h"
#include "dev/i8259.h"
#include "ringvisor/exit.h"


static struct vcpu vcpu;
static struct canary canary;
static struct trapframe boot_regs;
static int trace_exits;


static void init_vcpu(struct vcpu *v, const struct guest_entry *entry)
{
	v->regs = &boot_regs;
	boot_regs = (struct trapframe){
		.eax = entry->eax, .ebx = entry->ebx, .esi = entry->esi,
		.eip = entry->eip,
		.eflags = 0x2,
		.ds = BOOT_DS, .es = BOOT_DS, .fs = BOOT_DS, .gs = BOOT_DS,
	};
	v->vpl = VPL_KERNEL;
	v->cs = BOOT_CS;
	v->ss = BOOT_DS;
	v->cr0 = CR0_PE | CR0_ET;
	emulate_reset(v);
}

/* The integrity check (core/canary.h): a guard frame each side of guest
 * RAM where one is free, and the checksum of the VMM's read-only image. */
static void start_canary(uint32_t host_base, uint32_t bytes)
{
	const uint8_t *image;
	uint32_t len;
	arch_readonly_image(&image, &len);
	uint32_t below = host_base - 4096, above = host_base + bytes;
	canary.map = arch_window;
	canary_init(&canary, image, len, memory_claim_frame(below) ? 0 : below,
		    memory_claim_frame(above) ? 0 : above);
}

/* However the guest ended: was the VMM's memory left alone? */
static void check_canary(void)
{
	if (!canary.map)
		return;			/* the guest never started */
	const char *what = canary_check(&canary);
	if (what) {
		kprintf("*** VMM integrity check FAILED: %s\n", what);
		arch_exit(EXIT_PANIC);
	}
	kprintf("ringvisor: VMM integrity check passed (read-only image and %u "
		"guard frames around guest RAM unchanged)\n",
		(canary.guard[0] != 0) + (canary.guard[1] != 0));
}

/* The words after the first (the file name) of a module's string. */
static const char *module_args(const struct boot_module *m)
{
	const char *s = m->string;
	while (*s && *s != ' ')
		s++;
	while (*s == ' ')
		s++;
	return s;
}

/*
 * Load the guest from the boot modules.  Module 0 is the kernel: a
 * Multiboot kernel gets the whole of its string as its command line, as
 * from a Multiboot loader, and takes no other module; anything else must be
 * a Linux vmlinux, whose command line is the string after the file name and
 * whose initrd, if any, is module 1.
 */
static int load_guest(struct vcpu *v, const struct boot_info *bi,
		      struct guest_entry *entry, char *err, unsigned errlen)
{
	const struct boot_module *kernel = &bi->modules[0];
	uint32_t ksize = kernel->end - kernel->start;
	char why[160];

	if (mbguest_is_multiboot(kernel->data, ksize)) {
		if (bi->nmodules > 1) {
			ksnprintf(err, errlen, "module 1 (%s): a Multiboot guest "
				  "kernel takes no other module", bi->modules[1].string);
			return -1;
		}
		if (mbguest_load(&v->mem, kernel->data, ksize, kernel->string,
				 entry, why, sizeof(why)) == 0)
			return 0;
	} else {
		const struct boot_module *initrd = bi->nmodules > 1 ? &bi->modules[1] : 0;
		if (bi->nmodules > 2) {
			ksnprintf(err, errlen, "module 2 (%s): a Linux guest takes a "
				  "kernel and an initrd only", bi->modules[2].string);
			return -1;
		}
		const char *cmdline = module_args(kernel);
		if (linux_load(&v->mem, kernel->data, ksize,
			       initrd ? initrd->data : 0,
			       initrd ? initrd->end - initrd->start : 0,
			       cmdline, entry, why, sizeof(why)) == 0) {
			kprintf("guest: Linux, command line \"%s\"\n", cmdline);
			return 0;
		}
	}
	int name_len = 0;
	while (kernel->string[name_len] && kernel->string[name_len] != ' ')
		name_len++;
	ksnprintf(err, errlen, "guest kernel %.*s: %s", name_len, kernel->string, why);
	return -1;
}

void guest_boot(const struct boot_info *bi, const struct vmm_options *opt,
		char *err, unsigned errlen)
{
	struct vcpu *v = &vcpu;
	uint32_t bytes = opt->guest_mem_mb << 20;

	trace_exits = opt->trace_exits;
	uint32_t host_base = memory_alloc_guest_ram(bytes);
	if (!host_base) {
		ksnprintf(err, errlen, "not enough free memory for %u MiB of guest "
			  "RAM (mem=)", opt->guest_mem_mb);
		return;
	}
	v->mem = (struct guest_mem){ bytes, host_base, arch_window };
	/* Fresh RAM: nothing of the VMM's or the bootloader's may show. */
	gmem_fill(&v->mem, 0, 0, bytes);
	start_canary(host_base, bytes);

	struct guest_entry entry;
	if (load_guest(v, bi, &entry, err, errlen))
		return;
	init_vcpu(v, &entry);
	if (arch_guest_init(v)) {
		ksnprintf(err, errlen, "out of memory for the guest's page tables");
		return;
	}
	pic_init();
	kprintf("guest: %u MiB of RAM at host 0x%08x, entry 0x%08x; running it "
		"in ring 3\n", opt->guest_mem_mb, host_base, entry.eip);
	arch_enter_guest(v);
}

static const char *ring_name(const struct vcpu *v)
{
	return v->vpl == VPL_KERNEL ? "kernel" : "user";
}

static void print_exit_statistics(void)
{
	exitstats_print(0);
	check_canary();
}

void guest_shutdown(struct vcpu *v, int status)
{
	(void)v;
	kprintf("\nringvisor: the guest stopped with status %d\n", status);
	print_exit_statistics();
	arch_exit(status);
}

void guest_reset(struct vcpu *v)
{
	kprintf("\nringvisor: the guest reset the machine at eip 0x%08x\n",
		v->regs->eip);
	print_exit_statistics();
	arch_exit(EXIT_GUEST_RESET);
}

void guest_halted_for_good(struct vcpu *v)
{
	kprintf("\nringvisor: the guest halted with interrupts disabled "
		"(powered off) at eip 0x%08x\n", v->regs->eip);
	print_exit_statistics();
	arch_exit(EXIT_OK);
}

static void print_guest_state(struct vcpu *v)
{
	const struct trapframe *tf = v->regs;
	kprintf("EAX=%08x EBX=%08x ECX=%08x EDX=%08x\n", tf->eax, tf->ebx, tf->ecx, tf->edx);
	kprintf("ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n", tf->esi, tf->edi, tf->ebp, tf->esp);
	kprintf("EIP=%08x EFLAGS=%08x CS=%04x SS=%04x DS=%04x ES=%04x FS=%04x GS=%04x\n",
		tf->eip, (tf->eflags & ~0x200u) | (v->vif ? 0x200u : 0), v->cs, v->ss,
		tf->ds & 0xffff, tf->es & 0xffff, tf->fs & 0xffff, tf->gs & 0xffff);
	kprintf("CR0=%08x CR2=%08x CR3=%08x CR4=%08x (virtual)\n",
		v->cr0, v->cr2, v->cr3, v->cr4);
	kprintf("GDTR=%08x/%04x IDTR=%08x/%04x LDTR=%04x TR=%04x ring=%s\n",
		v->gdtr.base, v->gdtr.limit, v->idtr.base, v->idtr.limit,
		v->ldtr, v->tr, ring_name(v));
	uint8_t code[16];
	kprintf("code at CS:EIP:");
	if (vmem_read_sys(v, v->cs_base + tf->eip, code, sizeof(code)) == 0)
		for (unsigned i = 0; i < sizeof(code); i++)
			kprintf(" %02x", code[i]);
	else
		kprintf(" <not in guest memory>");
	kprintf("\n");
}

void guest_die(struct vcpu *v, const char *fmt, ...)
{
	char why[160];
	va_list ap;
	va_start(ap, fmt);
	kvsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);

	kprintf("\n*** guest stopped by the VMM: %s\n", why);
	kprintf("last exit: %s (vector %u), error code 0x%08x\n",
		vector_name(v->regs->vector), v->regs->vector, v->regs->error);
	print_guest_state(v);
	print_exit_statistics();
	arch_exit(EXIT_GUEST_DIED);
}

void guest_entered_v86(struct trapframe *tf)
{
	vcpu.regs = tf;
	guest_die(&vcpu, "the guest entered virtual-8086 mode (%s at %04x:%04x), "
		  "which is not virtualized", vector_name((uint8_t)tf->vector),
		  tf->cs & 0xffff, tf->eip & 0xffff);
}

void guest_resume_failed(uint32_t vector, uint32_t error)
{
	guest_die(&vcpu, "the CPU refused the state the VMM resumed the guest "
		  "with: %s (vector %u), error code 0x%08x (a VMM bug)",
		  vector_name(vector), vector, error);
}

void guest_deliver(struct vcpu *v, struct event ev)
{
	int from_user = v->vpl == VPL_USER;
	if (deliver_event(v, ev))
		guest_die(v, "triple fault while delivering %s (vector %u)",
			  vector_name(ev.vector), ev.vector);
	if (from_user && v->arm_hint != ARM_KEEP_OR_ARM)
		v->arm_hint = ARM_AFTER;	/* its iret to user mode comes next */
}

/*
 * The paravirtual interrupt flag (ringvisor/hypercall.h): the guest's
 * writes to it are its cli and sti, so the VMM takes vif from it on every
 * exit and puts it back, with whether an interrupt waits, before resuming.
 * The word's guest-physical address was checked at registration.
 */
static void pv_irq_sync_in(struct vcpu *v)
{
	uint32_t vif;
	if (v->pv_irq_word)
		v->vif = v->pv_irq_word[0] != 0;
	else if (v->pv_irq && gmem_read(&v->mem, v->pv_irq_gpa, &vif, 4) == 0)
		v->vif = vif != 0;
}

static void pv_irq_sync_out(struct vcpu *v)
{
	if (!v->pv_irq)
		return;
	uint32_t words[2] = { (uint32_t)v->vif, (uint32_t)vcpu_irq_pending(v) };
	if (v->pv_irq_word) {
		v->pv_irq_word[0] = words[0];
		v->pv_irq_word[1] = words[1];
	} else {
		gmem_write(&v->mem, v->pv_irq_gpa, words, sizeof(words));
	}
	/* A hostile guest may put the word in its GDT: mirror what changed. */
	if (v->pv_irq_on_table)
		v->tables_written = 1;
}

static void mark_pending(struct vcpu *v, uint8_t real_vector)
{
	v->pending_irqs[real_vector / 32] |= 1u << (real_vector % 32);
}

/* Deliver the highest-priority pending interrupt if the guest can take it
 * now.  The PIC's priority is its IRQ order, lowest real vector first. */
static void deliver_pending(struct vcpu *v)
{
	if (!v->vif || (v->step_reasons & STEP_STI_SHADOW) || v->sti_shadow ||
	    !vcpu_irq_pending(v))
		return;
	for (unsigned word = 0; word < 8; word++) {
		if (!v->pending_irqs[word])
			continue;
		unsigned bit = (unsigned)__builtin_ctz(v->pending_irqs[word]);
		v->pending_irqs[word] &= ~(1u << bit);
		int vector = pic_guest_vector((uint8_t)(word * 32 + bit));
		if (vector >= 0)
			guest_deliver(v, (struct event){ .vector = (uint8_t)vector,
							  .source = EVENT_EXTERNAL });
		return;
	}
}

static void handle_exit(struct vcpu *v, uint8_t vector, uint32_t fault_address,
			int guest_fault, uint32_t guest_error)
{
	struct trapframe *tf = v->regs;
	struct event raise;

	if (vector == VEC_GP) {
		if (emulate_gp(v, tf->error, &raise) == RAISE)
			guest_deliver(v, raise);
	} else if (vector == VEC_PF) {
		if (guest_fault)	/* found so by mmu_fast_fill already */
			mmu_reflect_fault(v, fault_address, guest_error);
		else
			mmu_page_fault(v, fault_address, tf->error);
	} else if (vector < 32) {
		guest_deliver(v, (struct event){ .vector = vector,
			.has_error = (uint8_t)vector_has_error_code(vector),
			.error = tf->error, .source = EVENT_EXCEPTION });
	} else {
		/* A hardware interrupt: the guest had IF set, or it could not
		 * have reached us, so it is taken now. */
		mark_pending(v, vector);
	}
}

/* What a system call's two instructions do (SDM Vol. 2, SYSENTER and
 * SYSEXIT): which one is which, whether it applies now (1) or needs the
 * general way (0, nothing changed). */
enum system_call { SC_NONE, SC_SYSENTER, SC_STI_SYSEXIT };

static enum system_call system_call_in(const struct vcpu *v, uint32_t insn)
{
	if (v->vpl == VPL_USER && (insn & 0xffff) == 0x340f)
		return SC_SYSENTER;
	if (v->vpl == VPL_KERNEL && (insn & 0xffffff) == 0x350ffb &&
	    !v->tables_unprotected && !vcpu_irq_pending(v) && ring_user_selectors_known(v))
		return SC_STI_SYSEXIT;
	return SC_NONE;
}

/* The vCPU's state either changes, both loading flat CS and SS of base 0. */
static void system_call_vcpu_state(struct vcpu *v, enum system_call call)
{
	uint16_t base = v->sysenter_cs & 0xfffc;
	if (call == SC_SYSENTER) {
		v->vif = 0;
		v->vpl = VPL_KERNEL;
		v->cs = base;
		v->ss = base + 8;
	} else {
		v->vif = 1;
		v->vpl = VPL_USER;
		v->cs = (base + 16) | 3;
		v->ss = (base + 24) | 3;
	}
	v->cs_base = v->ss_base = 0;
}

/* ... and the registers. */
static void system_call_registers(struct vcpu *v, struct trapframe *tf, enum system_call call)
{
	if (call == SC_SYSENTER) {
		tf->eip = v->sysenter_eip;
		tf->esp = v->sysenter_esp;
		tf->eflags &= ~(EFLAGS_VM | EFLAGS_RF);
	} else {
		tf->eip = tf->edx;
		tf->esp = tf->ecx;
	}
}

static int fast_system_call(struct vcpu *v, struct trapframe *tf, const uint8_t insn[3])
{
	enum system_call call = (v->sysenter_cs & 0xfffc) == 0 ? SC_NONE :
		system_call_in(v, insn[0] | insn[1] << 8 | (uint32_t)insn[2] << 16);
	if (call == SC_NONE)
		return 0;
	system_call_registers(v, tf, call);
	system_call_vcpu_state(v, call);
	arch_guest_set_flat_segments(v);
	arch_guest_switch_ring(v);
	v->arm_hint = ARM_AFTER;
	return 1;
}

int guest_system_calls_may_bypass(const struct vcpu *v)
{
	return (v->sysenter_cs & 0xfffc) != 0 && v->pv_irq_word && !v->pv_irq_on_table &&
	       !v->step_reasons && !v->sti_shadow && !trace_exits && !v->halted &&
	       !v->tables_unprotected && !vcpu_irq_pending(v) &&
	       v->cs_base == 0 && v->ss_base == 0;
}

void guest_system_calls_bypassed(struct vcpu *v, int in_kernel, uint16_t user_cs,
				 uint16_t user_ss, int user_vif)
{
	if (in_kernel) {
		system_call_vcpu_state(v, SC_SYSENTER);
	} else {
		/* sysexit or the kernel's iret (ring_fast_iret_to_user) */
		v->vpl = VPL_USER;
		v->cs = user_cs;
		v->ss = user_ss;
		v->vif = user_vif;
		v->cs_base = v->ss_base = 0;
	}
}

/*
 * The commonest #GP exits, the short way (issue 6): a Linux system call's
 * two (sysenter, which faults in virtual user mode because the real
 * SYSENTER_CS is 0, and the kernel's "sti; sysexit", whose sti faults at
 * IOPL 0), the kernel's iret back to user mode, and its reads of control
 * registers (CR2 in every page fault), CR3 loads (every context
 * switch) and invlpg through a register.  Each is #GP(0) on bytes that say
 * all there is to know, read straight through the shadow the guest ran
 * on, and each changes a fixed set of state: what the general emulation
 * (ring_sysenter, emulate_sti with ring_sysexit, ring_iret, emulate_mov_cr)
 * would change, less what cannot apply here.  Anything that needs more
 * goes the general way (returns 0, nothing changed): a step or sti shadow
 * in progress, the guest's own TF, exit tracing, an interrupt waiting to
 * be delivered as IF comes on, tables to mirror again, selectors not
 * already known valid.
 */
static int fast_gp(struct vcpu *v, struct trapframe *tf)
{
	uint64_t began = arch_read_tsc();
	uint8_t insn[3];
	enum exit_reason reason;

	if (v->step_reasons || v->sti_shadow || trace_exits ||
	    (tf->eflags & EFLAGS_TF) || !v->pv_irq_word ||
	    arch_read_guest_linear(v->cs_base + tf->eip, insn, 3))
		return 0;
	/* iret faults with its CS in the error code (the guest's code
	 * segments are mirrored DPL 0), the others with 0. */
	if (tf->error != 0 && insn[0] != 0xcf)
		return 0;
	if (insn[0] == 0x0f && insn[1] == 0x20 && v->vpl == VPL_KERNEL) {
		/* mov %crN, reg: ModRM's reg is N, r/m the register */
		unsigned n = (insn[2] >> 3) & 7;
		const uint32_t *cr = n == 0 ? &v->cr0 : n == 2 ? &v->cr2 :
				     n == 3 ? &v->cr3 : n == 4 ? &v->cr4 : 0;
		if (!cr)
			return 0;
		*vcpu_reg(tf, insn[2] & 7) = *cr;
		tf->eip += 3;
		exitstats_add(XR_GP_CR, arch_read_tsc() - began);
		v->arm_hint = ARM_KEEP;	/* (CR2 in a page fault, before its iret) */
		return 1;	/* neither the ring nor the interrupt flag moved */
	}
	if (insn[0] == 0x0f && insn[1] == 0x01 && (insn[2] & 0xf8) == 0x38 &&
	    (insn[2] & 7) != 4 && (insn[2] & 7) != 5 && v->vpl == VPL_KERNEL) {
		/* invlpg (%reg): Linux's flush of one page, DS-relative */
		uint64_t raw;
		struct segment ds;
		if (ring_descriptor(v, &v->data_segment, (uint16_t)tf->ds, &raw, &ds) ||
		    !ds.present || !ds.s)
			return 0;	/* the general path gives the fault */
		mmu_invalidate(v, ds.base + *vcpu_reg(tf, insn[2] & 7));
		tf->eip += 3;
		exitstats_add(XR_GP_INVLPG, arch_read_tsc() - began);
		return 1;
	}
	if (insn[0] == 0x0f && insn[1] == 0x22 && ((insn[2] >> 3) & 7) == 3 &&
	    v->vpl == VPL_KERNEL) {
		/* mov reg, %cr3: a context switch (as emulate_mov_cr) */
		v->cr3 = *vcpu_reg(tf, insn[2] & 7);
		int moved = vmem_paging_on(v) && mmu_load_cr3(v);
		tf->eip += 3;
		exitstats_add(XR_GP_CR, arch_read_tsc() - began);
		/* The short path stays armed if the descriptor tables did not
		 * move: nothing it depends on changed (a context switch in the
		 * middle of a system call; its sysexit comes next). */
		if (!moved)
			v->arm_hint = ARM_KEEP;
		return 1;
	}
	v->vif = v->pv_irq_word[0] != 0;	/* the guest's, as it left it */
	if (insn[0] == 0xcf && !vcpu_irq_pending(v) && ring_fast_iret_to_user(v))
		reason = XR_GP_IRET;
	else if (fast_system_call(v, tf, insn))
		reason = insn[0] == 0x0f ? XR_GP_SYSENTER : XR_GP_STI;
	else
		return 0;
	v->pv_irq_word[0] = (uint32_t)v->vif;
	v->pv_irq_word[1] = (uint32_t)vcpu_irq_pending(v);
	if (v->pv_irq_on_table)		/* as in pv_irq_sync_out */
		ring_mirror_written(v, v->pv_irq_gpa, 8);
	exitstats_add(reason, arch_read_tsc() - began);
	return 1;
}

/*
 * The page a user page fault's handler mapped (vcpu.h, map_ahead), when
 * its return to user mode went the general way: mapped before the
 * retried access faults for it.
 */
static void map_ahead_in_user_mode(struct vcpu *v)
{
	if (v->map_ahead && v->vpl == VPL_USER) {
		mmu_map_ahead(v, v->map_ahead & ~1u);
		v->map_ahead = 0;
	}
}

/*
 * The end of a fast exit, as of every exit: what the VMM stored into a
 * descriptor-table page on the way (the A and D bits its walks set, where
 * a hostile guest keeps page tables in its GDT's page) is mirrored before
 * the guest runs again (found by fuzz_fastpath).
 */
static struct vcpu *finish_fast_exit(struct vcpu *v)
{
	map_ahead_in_user_mode(v);
	if (v->tables_written) {
		v->tables_written = 0;
		ring_mirror_tables(v);
	}
	return v;
}

struct vcpu *guest_exit(struct trapframe *tf)
{
	struct vcpu *v = &vcpu;
	uint8_t vector = (uint8_t)tf->vector;

	arch_guest_catch_up(v);
	v->regs = tf;
	if (vector == VEC_GP && fast_gp(v, tf))
		return finish_fast_exit(v);
	/* The shadow's own faults: the descriptor-table stores and plain
	 * fills, without the rest of the exit when nothing else is going on
	 * (a step, an sti shadow; nothing else is delivered: a fill changes
	 * no interrupt state). */
	int guest_fault = 0;		/* the fast fill found the guest's own */
	uint32_t guest_error = 0;
	if (vector == VEC_PF && !trace_exits && !v->step_reasons && !v->sti_shadow) {
		uint64_t began = arch_read_tsc();
		uint32_t va = arch_fault_address();
		if (v->store_page_va && (va & ~0xfffu) == v->store_page_va &&
		    mmu_fast_table_store(v, va)) {
			exitstats_add(XR_PF_PROTECTED, arch_read_tsc() - began);
			return finish_fast_exit(v);
		}
		int filled = mmu_fast_fill(v, va, tf->error, &guest_error);
		if (filled > 0) {
			exitstats_add(XR_PF_FILL, arch_read_tsc() - began);
			return finish_fast_exit(v);
		}
		guest_fault = filled < 0;
		/* The guest's own page fault (a page it has not mapped yet,
		 * copy-on-write): reflected at once, with what the rest of
		 * this exit would do around it, when the interrupt flag is
		 * the paravirtual one (no step or sti shadow, checked above). */
		if (guest_fault && v->pv_irq_word) {
			pv_irq_sync_in(v);
			mmu_reflect_fault(v, va, guest_error);
			deliver_pending(v);
			pv_irq_sync_out(v);
			exitstats_add(XR_PF_GUEST, arch_read_tsc() - began);
			return finish_fast_exit(v);
		}
	}
	/* CR2 first: the VMM's own copies through the shadow (vmem) may
	 * fault and be retried the slow way, which changes it. */
	uint32_t fault_address = vector == VEC_PF ? arch_fault_address() : 0;
	exitstats_begin(vector, arch_read_tsc());
	pv_irq_sync_in(v);
	if (trace_exits)
		kprintf("exit: %-26s eip=%08x ring=%s\n", vector_name(vector),
			tf->eip, ring_name(v));

	/*
	 * The sti shadow (SDM Vol. 2, STI): until the instruction after an
	 * emulated sti has run, interrupts wait.  An exit with EIP still on it
	 * means it has not run; an interrupt then starts a single step, which
	 * lets the instruction finish before the interrupt is delivered.  Any
	 * other EIP means the shadow is over.
	 */
	if (v->sti_shadow) {
		if (tf->eip != v->sti_shadow_eip)
			v->sti_shadow = 0;
		else if (vector >= 32) {
			v->sti_shadow = 0;
			step_sti_shadow(v, tf->eip);
		}
	}

	uint32_t debug_status = vector == VEC_DB ? arch_take_debug_status() : 0;
	if (step_exit(v, vector, debug_status)) {
		exitstats_refine(XR_DB_STEP);
	} else {
		/* A #DB for the guest: its handler reads why in DR6. */
		if (vector == VEC_DB)
			v->dr[6] = debug_status;
		handle_exit(v, vector, fault_address, guest_fault, guest_error);
	}

	/*
	 * hlt: wait for an interrupt, unless one already waits here.  With
	 * the paravirtual interrupt flag the CPU takes interrupts while the
	 * guest's flag is clear, so one can come between Linux's idle check
	 * and its "sti; hlt".  The PIC has acknowledged it and, until the
	 * guest's EOI, holds back every request of its priority or lower:
	 * waiting first would sleep for good (hlt wakes at once on hardware).
	 */
	uint64_t idle = 0;
	while (v->halted) {
		deliver_pending(v);
		if (!v->halted)
			break;
		uint64_t waiting = arch_read_tsc();
		arch_wait_for_interrupt(v->pending_irqs);
		idle += arch_read_tsc() - waiting;
	}
	if (v->sti_shadow && v->regs->eip != v->sti_shadow_eip)
		v->sti_shadow = 0;	/* the instruction was emulated */
	deliver_pending(v);
	pv_irq_sync_out(v);
	/* Last: the delivery just above pushes a frame, and the guest's
	 * interrupt-flag word is written, either of which may land on a
	 * descriptor-table page (found by fuzz_emulate). */
	if (v->tables_written) {
		v->tables_written = 0;
		ring_mirror_tables(v);
	}
	/* Back in user mode the general way after a user page fault. */
	map_ahead_in_user_mode(v);
	exitstats_end(arch_read_tsc(), idle);
	return v;
}
