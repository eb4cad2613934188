/*
 * Each hypercall is the instruction it replaces, done by the same code the
 * emulator uses, or a small service (console, shutdown).  Every argument is
 * a guest value: lengths are bounded, pointers go through vmem.
 */
#include "core/hypercall.h"

#include <stddef.h>

#include "core/arch.h"
#include "core/console.h"
#include "core/emulate.h"
#include "core/guest.h"
#include "core/mmu.h"
#include "core/vmem.h"
#include "ringvisor/exit.h"
#include "ringvisor/hypercall.h"

#define CONSOLE_WRITE_MAX 4096

static int32_t console_write(struct vcpu *v, uint32_t text, uint32_t len)
{
	char chunk[128];
	if (len > CONSOLE_WRITE_MAX)
		return RV_EINVAL;
	for (uint32_t done = 0; done < len; ) {
		uint32_t n = len - done < sizeof(chunk) - 1 ? len - done : sizeof(chunk) - 1;
		if (vmem_read(v, text + done, chunk, n))
			return RV_EFAULT;
		chunk[n] = '\0';
		kprintf("%s", chunk);
		done += n;
	}
	return (int32_t)len;
}

static int32_t set_gdt_entry(struct vcpu *v, uint32_t index, uint32_t lo,
			     uint32_t hi)
{
	uint64_t raw = ((uint64_t)hi << 32) | lo;
	/* 64-bit: index * 8 must not wrap around to a valid entry. */
	if (index == 0 || (uint64_t)index * 8 + 7 > v->gdtr.limit)
		return RV_EINVAL;
	if (vmem_write_sys(v, v->gdtr.base + index * 8, &raw, 8))
		return RV_EFAULT;
	ring_mirror_gdt(v);
	return 0;
}

/* RV_HC_PV_IRQ: the word must lie in guest RAM, aligned; it then holds
 * the virtual IF (core/guest.c keeps it in step). */
static int32_t pv_irq(struct vcpu *v, uint32_t gpa)
{
	struct rv_pv_irq word = { v->vif, 0, 1, v->cr2 };
	if (gpa & 3)
		return RV_EINVAL;
	if (!gmem_contains(&v->mem, gpa, sizeof(word)))
		return RV_EFAULT;
	gmem_write(&v->mem, gpa, &word, sizeof(word));
	v->pv_irq_gpa = gpa;
	v->pv_irq = 1;
	v->pv_irq_on_table = vcpu_table_page(v, gpa);
	/* Read and written on every exit: through a window of its own when
	 * the words the VMM uses share a page. */
	v->pv_irq_word = 0;
	if ((gpa & 0xfffu) <= 0x1000u - sizeof(word))
		v->pv_irq_word = arch_fixed_window(FIXED_WINDOW_PV_IRQ,
						   v->mem.host_base + gpa);
	return 0;
}

void hypercall_pv_cr2(struct vcpu *v)
{
	if (!v->pv_irq)
		return;
	if (v->pv_irq_word)
		v->pv_irq_word[3] = v->cr2;
	else
		gmem_write(&v->mem, v->pv_irq_gpa + offsetof(struct rv_pv_irq, cr2), &v->cr2, 4);
	if (v->pv_irq_on_table)		/* a hostile guest's layout */
		v->tables_written = 1;
}

/* One call.  Faults the equivalent instruction would raise are raised. */
static int32_t call(struct vcpu *v, uint32_t nr, const uint32_t arg[4],
		    int in_batch, struct event *raise, int *raised)
{
	*raised = 0;
	switch (nr) {
	case RV_HC_PROBE:
		return RV_PROBE_MAGIC;
	case RV_HC_PV_IRQ:
		return pv_irq(v, arg[0]);
	case RV_HC_CONSOLE_WRITE:
		return console_write(v, arg[0], arg[1]);
	case RV_HC_SHUTDOWN:
		if (in_batch)
			return RV_ENOSYS;
		guest_shutdown(v, (int)(arg[0] & 0xff));
	case RV_HC_LOAD_GDT:
	case RV_HC_LOAD_IDT: {
		struct descriptor_table *t = nr == RV_HC_LOAD_GDT ? &v->gdtr : &v->idtr;
		if (arg[1] > 0xffff)
			return RV_EINVAL;
		t->base = arg[0];
		t->limit = (uint16_t)arg[1];
		if (t == &v->gdtr) {
			ring_mirror_gdt(v);
			mmu_protect_tables(v);
		}
		return 0;
	}
	case RV_HC_LOAD_LDT:
	case RV_HC_LOAD_TR:
		if (arg[0] > 0xffff)
			return RV_EINVAL;
		*raised = ring_load_system_segment(v, nr == RV_HC_LOAD_TR,
						   (uint16_t)arg[0], raise) != EMULATED;
		return 0;
	case RV_HC_SET_GDT_ENTRY:
		return set_gdt_entry(v, arg[0], arg[1], arg[2]);
	}
	return RV_ENOSYS;
}

static int32_t batch(struct vcpu *v, uint32_t list, uint32_t count,
		     struct event *raise, int *raised)
{
	*raised = 0;
	if (count > RV_BATCH_MAX)
		return RV_EINVAL;
	for (uint32_t i = 0; i < count; i++) {
		struct rv_hypercall hc;
		if (vmem_read(v, list + i * sizeof(hc), &hc, sizeof(hc)))
			return RV_EFAULT;
		if (hc.nr == RV_HC_BATCH)
			return RV_ENOSYS;	/* no nesting */
		uint32_t arg[4] = { hc.arg[0], hc.arg[1], hc.arg[2], 0 };
		int32_t r = call(v, hc.nr, arg, 1, raise, raised);
		if (*raised)
			return 0;
		if (r < 0)
			return r;
	}
	return (int32_t)count;
}

int hypercall(struct vcpu *v, struct event *raise)
{
	struct trapframe *tf = v->regs;
	uint32_t arg[4] = { tf->ebx, tf->ecx, tf->edx, tf->esi };
	int raised = 0;
	int32_t r;

	if (tf->eax == RV_HC_BATCH)
		r = batch(v, arg[0], arg[1], raise, &raised);
	else
		r = call(v, tf->eax, arg, 0, raise, &raised);
	if (raised)
		return -1;
	tf->eax = (uint32_t)r;
	return 0;
}
