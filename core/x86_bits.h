/*
 * Architectural bits of the guest's registers, as the VMM core reads and
 * writes them on the virtual CPU (SDM Vol. 1 §3.4.3 EFLAGS, Vol. 3A §2.5
 * control registers).  The IA-32 layer has its own for the real CPU
 * (arch/ia32/x86.h): the two may one day be different CPUs.
 */
#ifndef CORE_X86_BITS_H
#define CORE_X86_BITS_H

#define EFLAGS_CF   0x00000001u
#define EFLAGS_TF   0x00000100u
#define EFLAGS_IF   0x00000200u
#define EFLAGS_DF   0x00000400u
#define EFLAGS_OF   0x00000800u
#define EFLAGS_IOPL 0x00003000u
#define EFLAGS_NT   0x00004000u
#define EFLAGS_RF   0x00010000u
#define EFLAGS_VM   0x00020000u
/* Bits the guest may set through iret/popf at any level (SDM Vol. 1
 * §3.4.3): the status flags, TF, IF (virtual), DF, NT, AC, ID. */
#define EFLAGS_GUEST 0x00244fd5u

#define CR0_PE 0x00000001u
#define CR0_TS 0x00000008u
#define CR0_ET 0x00000010u
#define CR0_WP 0x00010000u
#define CR0_PG 0x80000000u

#define CR4_TSD        0x00000004u
#define CR4_DE         0x00000008u
#define CR4_PSE        0x00000010u
#define CR4_MCE        0x00000040u
#define CR4_PGE        0x00000080u
#define CR4_PCE        0x00000100u
#define CR4_OSFXSR     0x00000200u
#define CR4_OSXMMEXCPT 0x00000400u
#define CR4_UMIP       0x00000800u

#endif
