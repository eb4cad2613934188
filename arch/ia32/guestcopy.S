/*
 * Copying to and from guest memory straight through the shadow page table
 * the CPU runs on, as the guest itself would access it: the VMM's fast
 * paths (core/vmem.c, the system-call exits in core/guest.c).  The VMM runs
 * in the guest's address space, so a guest linear address is one for the
 * VMM too; but the shadow may not map it (or map it read-only: CR0.WP makes
 * ring 0 honour that), and then the copy faults here in ring 0.  trap()
 * recognizes a #PF at guest_copy_insn and resumes at guest_copy_failed, so
 * the caller learns "not mapped so now" and takes the slow way, instead of
 * the VMM panicking.  Only addresses below the VMM's are ever passed in
 * (arch/ia32/guest.c checks), so this reaches guest memory only.
 *
 * int guest_copy(void *dst, const void *src, uint32_t len): 0 or -1.
 */
	.text
	.globl guest_copy, guest_copy_insn, guest_copy_insn4, guest_copy_failed
guest_copy:
	pushl %esi
	pushl %edi
	movl 12(%esp), %edi
	movl 16(%esp), %esi
	movl 20(%esp), %ecx
	testb $3, %cl		/* whole words (frames, gates, descriptors): */
	jnz guest_copy_insn
	shrl $2, %ecx		/* a quarter of the steps */
guest_copy_insn4:
	rep movsl
	xorl %eax, %eax
	popl %edi
	popl %esi
	ret
guest_copy_insn:
	rep movsb
	xorl %eax, %eax
	popl %edi
	popl %esi
	ret
guest_copy_failed:
	movl $-1, %eax
	popl %edi
	popl %esi
	ret
