/* Arming and catching up with fastcall.S: see fastcall.h. */
#include "arch/ia32/fastcall.h"

#include <stddef.h>
#include "arch/ia32/cpu.h"
#include "arch/ia32/guest.h"
#include "core/arch.h"
#include "core/exitstats.h"
#include "core/guest.h"

struct fastcall fastcall;

_Static_assert(offsetof(struct fastcall, armed) == FC_ARMED, "fastcall.S");
_Static_assert(offsetof(struct fastcall, kernel) == FC_KERNEL, "fastcall.S");
_Static_assert(offsetof(struct fastcall, enter_eip) == FC_ENTER_EIP, "fastcall.S");
_Static_assert(offsetof(struct fastcall, enter_esp) == FC_ENTER_ESP, "fastcall.S");
_Static_assert(offsetof(struct fastcall, pd_kernel) == FC_PD_KERNEL, "fastcall.S");
_Static_assert(offsetof(struct fastcall, pd_user) == FC_PD_USER, "fastcall.S");
_Static_assert(offsetof(struct fastcall, pv_word) == FC_PV_WORD, "fastcall.S");
_Static_assert(offsetof(struct fastcall, kernel_sel) == FC_KERNEL_SEL, "fastcall.S");
_Static_assert(offsetof(struct fastcall, user_sel) == FC_USER_SEL, "fastcall.S");
_Static_assert(offsetof(struct fastcall, iomap_base) == FC_IOMAP_BASE, "fastcall.S");
_Static_assert(offsetof(struct fastcall, iomap_kernel) == FC_IOMAP_KERNEL, "fastcall.S");
_Static_assert(offsetof(struct fastcall, iomap_user) == FC_IOMAP_USER, "fastcall.S");
_Static_assert(offsetof(struct fastcall, gdt_kernel_limit) == FC_GDT_KERNEL, "fastcall.S");
_Static_assert(offsetof(struct fastcall, gdt_user_limit) == FC_GDT_USER, "fastcall.S");
_Static_assert(XR_GP_STI == FC_XR_STI && XR_GP_SYSENTER == FC_XR_SYSENTER, "fastcall.S");
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

/*
 * Set out to sel if every one names the same descriptor in both views
 * (fastcall.S leaves them loaded from the view they were loaded from);
 * else to selectors no segment register holds.  Remembered per list, for
 * the mirrors' generation: arming follows every system call the general
 * way, and the selectors rarely change.
 */
struct armed_memo {
	uint32_t generation;	/* 0: none */
	uint32_t sel[4];
	int known;
};

static void arm_selectors(struct armed_memo *memo, uint32_t out[4], const uint32_t sel[4],
			  int known)
{
	uint32_t generation = arch_guest_mirror_generation();
	if (memo->generation != generation || memo->known != known ||
	    ((memo->sel[0] ^ sel[0]) | (memo->sel[1] ^ sel[1]) |
	     (memo->sel[2] ^ sel[2]) | (memo->sel[3] ^ sel[3])) != 0) {
		int same = known;
		for (unsigned i = 0; i < 4; i++) {
			memo->sel[i] = sel[i];
			same = same && arch_selector_same_in_views(sel[i]);
		}
		for (unsigned i = 0; i < 4; i++)
			out[i] = same ? (sel[i] & 0xffff) : ~0u;
		memo->generation = generation;
		memo->known = known;
	}
}

static struct armed_memo kernel_memo, user_memo;

void fastcall_arm(struct vcpu *v)
{
	fastcall.armed = 0;
	if (!guest_system_calls_may_bypass(v) || !arch_flat_aliases_loaded())
		return;
	uint32_t sel[4] = { 0 };
	/* Into the kernel with the user's selectors, as last resumed there. */
	int known = arch_resume_checked_selectors(GDT_VIEW_KERNEL, sel);
	arm_selectors(&kernel_memo, fastcall.kernel_sel, sel, known);
	/* Out to user mode with the selectors last found valid there (what
	 * ring_user_selectors_known asks), as last resumed there. */
	uint32_t resumed[4];
	known = v->user_sel_generation == arch_guest_mirror_generation() &&
		arch_resume_checked_selectors(GDT_VIEW_USER, resumed);
	for (unsigned i = 0; i < 4; i++)
		known = known && (v->user_sel[i] & 0xffff) == resumed[i];
	arm_selectors(&user_memo, fastcall.user_sel, v->user_sel, known);
	fastcall.kernel = v->vpl == VPL_KERNEL;
	fastcall.enter_eip = v->sysenter_eip;
	fastcall.enter_esp = v->sysenter_esp;
	fastcall.pd_kernel = v->shadow.pd[SHADOW_KERNEL];
	fastcall.pd_user = v->shadow.pd[SHADOW_USER];
	fastcall.pv_word = v->pv_irq_word;
	fastcall.armed = 1;
}

void arch_guest_catch_up(struct vcpu *v)
{
	if (!fastcall.armed)
		return;
	fastcall.armed = 0;
	guest_system_calls_bypassed(v, (int)fastcall.kernel);
}
