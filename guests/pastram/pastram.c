/*
 * pastram: one read through a guest PTE whose frame lies past the guest's
 * RAM (0x7f000000; the guest has 64 MiB).  It prints what it read and
 * stops; there is nothing to PASS or FAIL.
 *
 * Natively, QEMU answers the read from unassigned memory.  Under ringvisor
 * the VMM never maps what is not guest RAM into a shadow table, so it stops
 * the guest with a report instead: the lead's e2e case checks that report,
 * which is why this is not part of the paging guest.
 */
#include "guests/lib/guest.h"
#include "guests/lib/paging.h"

#define PAST_RAM_VA 0x40000000u
#define PAST_RAM_PA 0x7f000000u

int main(uint32_t magic, struct multiboot_info *mbi)
{
	(void)magic;
	(void)mbi;
	pf_install(NULL, 0);
	pte_t *pd = identity_pd(false);
	map_page(pd, PAST_RAM_VA, PAST_RAM_PA, PTE_W);
	enable_paging(pd);
	printf("reading a page mapped past guest RAM\n");
	printf("read 0x%x\n", *(volatile uint32_t *)PAST_RAM_VA);
	report_summary();
}
