/* Arming and catching up with fastcall.S: see fastcall.h. */
#include "arch/ia32/fastcall.h"

#include <stddef.h>
#include "arch/ia32/cpu.h"
#include "arch/ia32/guest.h"
#include "core/arch.h"
#include "core/emulate.h"
#include "core/exitstats.h"
#include "core/guest.h"
#include "core/mmu.h"
#include "core/x86_bits.h"

struct fastcall fastcall;

_Static_assert(offsetof(struct fastcall, armed) == FC_ARMED, "fastcall.S");
_Static_assert(offsetof(struct fastcall, kernel) == FC_KERNEL, "fastcall.S");
_Static_assert(offsetof(struct fastcall, enter_eip) == FC_ENTER_EIP, "fastcall.S");
_Static_assert(offsetof(struct fastcall, enter_esp) == FC_ENTER_ESP, "fastcall.S");
_Static_assert(offsetof(struct fastcall, pd_kernel) == FC_PD_KERNEL, "fastcall.S");
_Static_assert(offsetof(struct fastcall, pd_user) == FC_PD_USER, "fastcall.S");
_Static_assert(offsetof(struct fastcall, pv_word) == FC_PV_WORD, "fastcall.S");
_Static_assert(offsetof(struct fastcall, data_sel) == FC_DATA_SEL, "fastcall.S");
_Static_assert(offsetof(struct fastcall, iomap_base) == FC_IOMAP_BASE, "fastcall.S");
_Static_assert(offsetof(struct fastcall, iomap_kernel) == FC_IOMAP_KERNEL, "fastcall.S");
_Static_assert(offsetof(struct fastcall, iomap_user) == FC_IOMAP_USER, "fastcall.S");
_Static_assert(offsetof(struct fastcall, gdt_kernel_limit) == FC_GDT_KERNEL, "fastcall.S");
_Static_assert(offsetof(struct fastcall, gdt_user_limit) == FC_GDT_USER, "fastcall.S");
_Static_assert(offsetof(struct fastcall, iret_cs) == FC_IRET_CS, "fastcall.S");
_Static_assert(offsetof(struct fastcall, iret_ss) == FC_IRET_SS, "fastcall.S");
_Static_assert(offsetof(struct fastcall, iret_limit) == FC_IRET_LIMIT, "fastcall.S");
_Static_assert(offsetof(struct fastcall, sysexit_cs) == FC_SYSEXIT_CS, "fastcall.S");
_Static_assert(offsetof(struct fastcall, sysexit_ss) == FC_SYSEXIT_SS, "fastcall.S");
_Static_assert(offsetof(struct fastcall, user_cs) == FC_USER_CS, "fastcall.S");
_Static_assert(offsetof(struct fastcall, user_ss) == FC_USER_SS, "fastcall.S");
_Static_assert(offsetof(struct fastcall, user_vif) == FC_USER_VIF, "fastcall.S");
_Static_assert(offsetof(struct fastcall, moves) == FC_MOVES, "fastcall.S");
_Static_assert(offsetof(struct fastcall, cr2) == FC_CR2, "fastcall.S");
_Static_assert(offsetof(struct fastcall, map_ahead) == FC_MAP_AHEAD, "fastcall.S");
_Static_assert(XR_GP_STI == FC_XR_STI && XR_GP_SYSENTER == FC_XR_SYSENTER &&
	       XR_GP_IRET == FC_XR_IRET && XR_GP_CR == FC_XR_CR, "fastcall.S");
_Static_assert(EFLAGS_GUEST == 0x00244fd5u, "fastcall.S's EFLAGS_GUEST");
_Static_assert(sizeof(struct exitstats_reason) == FC_XR_SIZE, "fastcall.S");

void fastcall_init(void)
{
	uint16_t on, off;
	fastcall.iomap_base = cpu_io_bitmap_field(&on, &off);
	fastcall.iomap_kernel = on;
	fastcall.iomap_user = off;
	cpu_gdt_view_pointer(GDT_VIEW_KERNEL, &fastcall.gdt_kernel_limit, &fastcall.gdt_kernel_base);
	cpu_gdt_view_pointer(GDT_VIEW_USER, &fastcall.gdt_user_limit, &fastcall.gdt_user_base);
}

/* Set out to sel if known and every one is usable as a data selector in
 * both GDT views, naming the same descriptor in both (fastcall.S leaves
 * them loaded from the view they were loaded from, where the general path
 * would load them again from the new one); else to selectors no segment
 * register holds. */
static void arm_selectors(uint32_t out[4], const uint32_t sel[4], int known)
{
	for (unsigned i = 0; i < 4; i++)
		known = known && arch_selector_usable_in_both_views(sel[i]);
	for (unsigned i = 0; i < 4; i++)
		out[i] = known ? (sel[i] & 0xffff) : ~0u;
}

/*
 * What the selectors and segments armed depend on, all of it: the
 * mirrors' generation, the loaded aliases and the selectors last resumed
 * with (arch), and the vCPU's remembered checks.  Arming follows most
 * exits into the kernel, and this rarely changes: compared, not
 * recomputed.
 */
#define CONTEXT_WORDS (ARCH_FASTCALL_KEY_WORDS + 12)

static void context_of(const struct vcpu *v, uint32_t key[CONTEXT_WORDS])
{
	unsigned n = arch_fastcall_key(key);
	key[n++] = v->checked_code.generation;
	key[n++] = v->checked_code.sel | v->checked_code.pl << 16;
	key[n++] = v->checked_stack.generation;
	key[n++] = v->checked_stack.sel | v->checked_stack.pl << 16;
	key[n++] = v->user_sel_generation;
	for (unsigned i = 0; i < 4; i++)
		key[n++] = v->user_sel[i];
	key[n++] = (uint32_t)v->tables_unprotected;
	key[n++] = (uint32_t)v->gdtr.limit;
	key[n++] = v->sysenter_cs;
}

static uint32_t context[CONTEXT_WORDS];
static int context_valid;	/* context[] is what the armed fields are for */
static int context_armable;	/* ... and the flat aliases are loaded */

static void arm_context(struct vcpu *v)
{
	context_armable = arch_alias_loaded_for(1, FLAT_CODE_DPL0) &&
			  arch_alias_loaded_for(0, FLAT_DATA_DPL0);
	/* User mode's data selectors, last found valid there (what
	 * ring_user_selectors_known asks): sysexit and iret return to user
	 * mode with them, and sysenter enters the kernel with them. */
	int known = v->user_sel_generation == arch_guest_mirror_generation();
	arm_selectors(fastcall.data_sel, v->user_sel, known);
	/* The kernel's iret to user mode, with the code and stack selectors
	 * last checked for it, whose aliases are the ones loaded. */
	struct iret_to_user iret;
	if (ring_iret_to_user_known(v, &iret) && arch_alias_loaded_for(1, iret.code_raw) &&
	    arch_alias_loaded_for(0, iret.stack_raw)) {
		fastcall.iret_cs = iret.cs;
		fastcall.iret_ss = iret.ss;
		fastcall.iret_limit = iret.eip_limit;
	} else {
		fastcall.iret_cs = fastcall.iret_ss = ~0u;
	}
	uint16_t base = v->sysenter_cs & 0xfffc;
	fastcall.sysexit_cs = (base + 16) | 3;
	fastcall.sysexit_ss = (base + 24) | 3;
}

static uint32_t armed_before;	/* at the start of the exit */
static struct vcpu *armed_vcpu;

/* A page-fault handler's return to user mode may come next (vcpu.h). */
static void take_map_ahead(struct vcpu *v)
{
	if (v->map_ahead) {
		fastcall.map_ahead = v->map_ahead;
		v->map_ahead = 0;
	}
}

static void arm(struct vcpu *v)
{
	fastcall.armed = 0;
	if (!guest_system_calls_may_bypass(v))
		return;
	uint32_t key[CONTEXT_WORDS];
	context_of(v, key);
	uint32_t differ = !context_valid;
#pragma GCC unroll 32
	for (unsigned i = 0; i < CONTEXT_WORDS; i++)
		differ |= key[i] ^ context[i];
	if (differ) {
		for (unsigned i = 0; i < CONTEXT_WORDS; i++)
			context[i] = key[i];
		arm_context(v);
		context_valid = 1;
	}
	if (!context_armable)
		return;
	fastcall.moves = 0;
	fastcall.kernel = v->vpl == VPL_KERNEL;
	fastcall.cr2 = v->cr2;
	fastcall.enter_eip = v->sysenter_eip;
	fastcall.enter_esp = v->sysenter_esp;
	fastcall.pd_kernel = v->shadow.pd[SHADOW_KERNEL];
	fastcall.pd_user = v->shadow.pd[SHADOW_USER];
	fastcall.pv_word = v->pv_irq_word;
	armed_vcpu = v;
	take_map_ahead(v);
	fastcall.armed = 1;
}

void fastcall_map_ahead(void)
{
	uint32_t page = fastcall.map_ahead & ~1u;
	fastcall.map_ahead = 0;
	mmu_map_ahead(armed_vcpu, page);
}

void fastcall_resume(struct vcpu *v, unsigned hint)
{
	if (hint == ARM_AFTER || (hint == ARM_KEEP_OR_ARM && !armed_before)) {
		arm(v);
	} else if (armed_before && guest_system_calls_may_bypass(v)) {
		fastcall.armed = 1;	/* in the ring the exit left it */
		fastcall.kernel = v->vpl == VPL_KERNEL;
		fastcall.cr2 = v->cr2;
		fastcall.moves = 0;
		take_map_ahead(v);
	}
}

void arch_guest_catch_up(struct vcpu *v)
{
	armed_before = fastcall.armed;
	if (!fastcall.armed)
		return;
	fastcall.armed = 0;
	if (fastcall.moves)
		guest_system_calls_bypassed(v, (int)fastcall.kernel, (uint16_t)fastcall.user_cs,
					    (uint16_t)fastcall.user_ss, (int)fastcall.user_vif);
}
