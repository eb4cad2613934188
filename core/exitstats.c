#include "core/exitstats.h"

#include "core/console.h"
#include "core/deliver.h"

struct exitstats_reason exitstats_since_boot[XR_COUNT];
static struct exitstats_reason at_mark[XR_COUNT];

/* Pages working sets mapped again; of those dropped since, the used ones. */
struct working_set_stats {
	uint64_t mapped, dropped, used;
};
static struct working_set_stats ws_since_boot, ws_at_mark;
static uint64_t ahead_since_boot, ahead_at_mark;
static enum exit_reason current;
static uint64_t began;

static const char *const names[XR_COUNT] = {
	[XR_INTERRUPT] = "interrupt",
	[XR_PF_FILL] = "#PF shadow fill",
	[XR_PF_GUEST] = "#PF to the guest",
	[XR_PF_PROTECTED] = "#PF descriptor-table write",
	[XR_DB_STEP] = "#DB end of VMM step",
	[XR_GP_CLI] = "cli",
	[XR_GP_STI] = "sti",
	[XR_GP_HLT] = "hlt",
	[XR_GP_IRET] = "iret",
	[XR_GP_INT] = "int n",
	[XR_GP_SYSENTER] = "sysenter",
	[XR_GP_SYSEXIT] = "sysexit",
	[XR_GP_FAR] = "far jmp/call/ret",
	[XR_GP_SEGMENT] = "segment load",
	[XR_GP_IO] = "port I/O",
	[XR_GP_CR] = "control/debug registers",
	[XR_GP_TABLES] = "descriptor tables",
	[XR_GP_INVLPG] = "invlpg",
	[XR_GP_MSR] = "rdmsr/wrmsr/rdtsc",
	[XR_GP_OTHER] = "other emulated",
	[XR_GP_GUEST] = "#GP to the guest",
	[XR_EXCEPTION] = "other exception",
};

const char *exit_reason_name(enum exit_reason reason)
{
	return reason < XR_COUNT ? names[reason] : "?";
}

void exitstats_begin(uint8_t vector, uint64_t now)
{
	switch (vector) {
	case VEC_PF: current = XR_PF_FILL; break;
	case VEC_GP: current = XR_GP_GUEST; break;
	case VEC_DB: current = XR_EXCEPTION; break;
	default: current = vector >= 32 ? XR_INTERRUPT : XR_EXCEPTION; break;
	}
	began = now;
}

void exitstats_refine(enum exit_reason reason)
{
	current = reason;
}

void exitstats_end(uint64_t now, uint64_t idle)
{
	exitstats_since_boot[current].count++;
	exitstats_since_boot[current].ticks += now - began - idle;
}

void exitstats_print(const char *label)
{
	uint64_t count = 0, ticks = 0;
	for (unsigned r = 0; r < XR_COUNT; r++) {
		count += exitstats_since_boot[r].count - at_mark[r].count;
		ticks += exitstats_since_boot[r].ticks - at_mark[r].ticks;
	}
	if (label)
		kprintf("profile %s: %llu exits, %llu ticks in the VMM\n", label,
			(unsigned long long)count, (unsigned long long)ticks);
	else
		kprintf("exits: %llu, %llu ticks in the VMM\n",
			(unsigned long long)count, (unsigned long long)ticks);
	for (unsigned r = 0; r < XR_COUNT; r++) {
		uint64_t n = exitstats_since_boot[r].count - at_mark[r].count;
		uint64_t t = exitstats_since_boot[r].ticks - at_mark[r].ticks;
		if (n)
			kprintf("  %-28s %10llu  %12llu ticks  %6llu/exit\n",
				names[r], (unsigned long long)n,
				(unsigned long long)t, (unsigned long long)(t / n));
	}
	uint64_t mapped = ws_since_boot.mapped - ws_at_mark.mapped;
	uint64_t dropped = ws_since_boot.dropped - ws_at_mark.dropped;
	uint64_t used = ws_since_boot.used - ws_at_mark.used;
	if (mapped)
		kprintf("  working sets: %llu pages mapped again at CR3 loads; "
			"%llu of %llu dropped since were used\n", (unsigned long long)mapped,
			(unsigned long long)used, (unsigned long long)dropped);
	if (ahead_since_boot != ahead_at_mark)
		kprintf("  mapped ahead: %llu pages, as user page faults' handlers "
			"returned\n", (unsigned long long)(ahead_since_boot - ahead_at_mark));
	if (label) {
		ahead_at_mark = ahead_since_boot;
		for (unsigned r = 0; r < XR_COUNT; r++)
			at_mark[r] = exitstats_since_boot[r];
		ws_at_mark = ws_since_boot;
	}
}

void exitstats_working_set_mapped(unsigned pages)
{
	ws_since_boot.mapped += pages;
}

void exitstats_mapped_ahead(void)
{
	ahead_since_boot++;
}

void exitstats_working_set_used(unsigned dropped, unsigned used)
{
	ws_since_boot.dropped += dropped;
	ws_since_boot.used += used;
}

void exitstats_add(enum exit_reason reason, uint64_t ticks)
{
	exitstats_since_boot[reason].count++;
	exitstats_since_boot[reason].ticks += ticks;
}
