/*
 * The IA-32 instruction decoder, table-driven.
 *
 * An instruction is (SDM Vol. 2 §2.1, Figure 2-1):
 *
 *	prefixes  opcode  [ModRM  [SIB]  [disp]]  [immediate]
 *
 * The opcode selects everything after it.  Each opcode map has a table of
 * 256 shapes, written from the SDM's opcode maps (Vol. 2 Appendix A, Tables
 * ), saying whether a ModRM byte follows, what immediate follows,
 * whether the operands are bytes, whether LOCK may precede it, and whether
 * the encoding exists at all.  A few opcodes ("groups", Table A-6) depend
 * on ModRM.reg or on the mandatory prefix as well; group_shape() refines
 * their table entries.
 *
 * What "exists" means here: an encoding is valid if the SDM (or, for a few
 * AMD-only instructions, the AMD APM) defines it in 32-bit protected mode.
 * Whether this particular (virtual) CPU has the feature is the emulator's
 * question, as is what an instruction does when it raises #UD by design:
 * UD0, UD1 and UD2 decode as valid instructions (0F FF, 0F B9, 0F 0B).
 * Choices where the manuals disagree or are silent:
 *   - D6 (SALC) is invalid: Intel's opcode map leaves it blank, although
 *     processors execute it.
 *   - 0F 24 and 0F 26 (mov to/from test registers, 386/486 only), 0F A6/A7
 *     (the withdrawn XBTS/IBTS), 0F 04, 0F 0A, 0F 0C, 0F 25, 0F 27, 0F 36,
 *     0F 39, 0F 3B-3F, 0F 7A/7B are invalid.
 *   - 0F 0E (FEMMS) and 0F 0F (3DNow!) are invalid: 3DNow! is gone.
 *   - 0F 05/07 (SYSCALL/SYSRET) are valid: AMD defines them in legacy mode.
 *   - C4/C5/62 with ModRM.mod = 3 are VEX/EVEX prefixes in 32-bit mode
 *     (LES/LDS/BOUND take only memory operands); VEX and EVEX instructions
 *     are invalid here.  So is 8F with reg != 0 (AMD XOP).
 *   - Group 2 /6 (SAL alias of SHL, C0/C1/D0-D3) and F6/F7 /1 (TEST
 *     alias) are valid: processors execute them, and objdump accepts them.
 *   - The x87 escapes D8-DF are always valid: every ModRM form has a
 *     well-defined length, and the reserved ones behave as aliases or
 *     no-ops on real processors rather than raising #UD.
 *   - Hint NOPs 0F 18-1F (prefetch, NOP Ev, endbr32, MPX) are valid with
 *     any ModRM.
 *   - SSE opcodes are checked against the mandatory-prefix columns of the
 *     0F, 0F 38 and 0F 3A maps (e.g. F3 0F 54 is invalid), and for the
 *     register-only and memory-only forms, but no finer.
 */
#include "core/decode.h"

#include "lib/string.h"

/* The shape of an opcode: bits of a table entry. */
#define M	(1u << 0)	/* a ModRM byte follows the opcode */
#define BYTE	(1u << 1)	/* byte operands: opsize is 1 */
#define LK	(1u << 2)	/* LOCK allowed (with a memory operand) */
#define UD	(1u << 3)	/* not a valid encoding */
#define MEM	(1u << 4)	/* ModRM must name memory (mod != 3) */
#define REG	(1u << 5)	/* ModRM must name a register (mod == 3) */
#define CREG	(1u << 6)	/* mod is ignored and read as 3 (0F 20-23) */
#define GRP	(1u << 7)	/* refined by group_shape() */

/* The immediate that follows ModRM/SIB/disp (or the opcode). */
#define IMM_SHIFT 8
#define IMM_MASK (0xfu << IMM_SHIFT)
#define IB	(1u << IMM_SHIFT)	/* 1 byte */
#define IW	(2u << IMM_SHIFT)	/* 2 bytes (ret iw) */
#define IZ	(3u << IMM_SHIFT)	/* 2 or 4 bytes by operand size */
#define AP	(4u << IMM_SHIFT)	/* far pointer: offset (2 or 4), selector */
#define MOFFS	(5u << IMM_SHIFT)	/* memory offset, 2 or 4 by address size */
#define IWIB	(6u << IMM_SHIFT)	/* enter: iw, then ib */
#define IBIB	(7u << IMM_SHIFT)	/* extrq/insertq: ib, then ib */

/*
 * For SSE opcodes, the mandatory prefixes that select a defined instruction
 * (the columns of Tables ): none, 66, F3, F2.  An entry without
 * any of these bits takes every prefix (general-purpose instructions, where
 * F2/F3/66 are REP and operand size, and SSE opcodes defined in all four
 * columns).
 */
#define NP	(1u << 12)
#define P66	(1u << 13)
#define PF3	(1u << 14)
#define PF2	(1u << 15)
#define PFX_MASK (NP | P66 | PF3 | PF2)

/* Shorthands for the table rows. */
#define Eb	(M | BYTE)		/* ALU op with a byte r/m operand */
#define EbL	(M | BYTE | LK)		/* ... that may be the LOCKed destination */
#define EvL	(M | LK)
#define ALIb	(BYTE | IB)		/* op al, imm8 */
#define SSE	(M | NP | P66)		/* MMX op, or SSE op with a 66 form */
#define SSE66	(M | P66)		/* SSE op defined only with 66 */

/* Prefixes have their own code and never reach the table: entries are 0. */
#define PFX	0

/* The one-byte opcode map: SDM Vol. 2 Table A-2. */
static const uint32_t map_one_byte[256] = {
	/* 00 add, 08 or; 06/07 push/pop es, 0e push cs, 0f escape */
	Eb | LK, EvL, Eb, M, ALIb, IZ, 0, 0,
	Eb | LK, EvL, Eb, M, ALIb, IZ, 0, 0,
	/* 10 adc, 18 sbb; push/pop ss, push/pop ds */
	Eb | LK, EvL, Eb, M, ALIb, IZ, 0, 0,
	Eb | LK, EvL, Eb, M, ALIb, IZ, 0, 0,
	/* 20 and, 26 es:, 27 daa; 28 sub, 2e cs:, 2f das */
	Eb | LK, EvL, Eb, M, ALIb, IZ, PFX, 0,
	Eb | LK, EvL, Eb, M, ALIb, IZ, PFX, 0,
	/* 30 xor, 36 ss:, 37 aaa; 38 cmp (never LOCKed), 3e ds:, 3f aas */
	Eb | LK, EvL, Eb, M, ALIb, IZ, PFX, 0,
	Eb, M, Eb, M, ALIb, IZ, PFX, 0,
	/* 40 inc r, 48 dec r */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 50 push r, 58 pop r */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	/* 60 pusha, popa, bound Gv,Ma, arpl Ew,Gw, fs:, gs:, opsize, addrsize;
	 * 68 push Iz, imul Gv,Ev,Iz, push Ib, imul Gv,Ev,Ib, ins, outs */
	0, 0, M | MEM, M, PFX, PFX, PFX, PFX,
	IZ, M | IZ, IB, M | IB, BYTE, 0, BYTE, 0,
	/* 70 jcc rel8 */
	IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB,
	/* 80 group 1 Eb,Ib; Ev,Iz; Eb,Ib (82: an alias of 80); Ev,Ib;
	 * test Eb,Gb; test Ev,Gv; xchg Eb,Gb; xchg Ev,Gv;
	 * 88 mov Eb,Gb; Ev,Gv; Gb,Eb; Gv,Ev; mov Ev,Sreg; lea Gv,M;
	 * mov Sreg,Ew; group 1A (pop Ev) */
	Eb | IB | GRP, M | IZ | GRP, Eb | IB | GRP, M | IB | GRP, Eb, M, EbL, EvL,
	Eb, M, Eb, M, M | GRP, M | MEM, M | GRP, M | GRP,
	/* 90 nop/pause, xchg r,eax; 98 cbw, cwd, call far Ap, fwait, pushf,
	 * popf, sahf, lahf */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, AP, 0, 0, 0, 0, 0,
	/* a0 mov al,Ob; eax,Ov; Ob,al; Ov,eax; movs, cmps;
	 * a8 test al,Ib; eax,Iz; stos, lods, scas */
	BYTE | MOFFS, MOFFS, BYTE | MOFFS, MOFFS, BYTE, 0, BYTE, 0,
	ALIb, IZ, BYTE, 0, BYTE, 0, BYTE, 0,
	/* b0 mov r8,Ib; b8 mov r,Iz */
	ALIb, ALIb, ALIb, ALIb, ALIb, ALIb, ALIb, ALIb,
	IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ,
	/* c0 group 2 Eb,Ib; Ev,Ib; ret Iw; ret; les Gz,Mp; lds Gz,Mp;
	 * group 11 (mov Eb,Ib; mov Ev,Iz);
	 * c8 enter Iw,Ib; leave; retf Iw; retf; int3; int Ib; into; iret */
	Eb | IB, M | IB, IW, 0, M | MEM, M | MEM, Eb | IB | GRP, M | IZ | GRP,
	IWIB, 0, IW, 0, 0, IB, 0, 0,
	/* d0 group 2 Eb,1; Ev,1; Eb,cl; Ev,cl; aam Ib; aad Ib; (salc); xlat;
	 * d8 x87 escapes */
	Eb, M, Eb, M, IB, IB, UD, BYTE,
	M, M, M, M, M, M, M, M,
	/* e0 loopne, loope, loop, jecxz (rel8); in al,Ib; in eax,Ib;
	 * out Ib,al; out Ib,eax;
	 * e8 call Jz; jmp Jz; jmp far Ap; jmp rel8; in al,dx; in eax,dx;
	 * out dx,al; out dx,eax */
	IB, IB, IB, IB, ALIb, IB, ALIb, IB,
	IZ, IZ, AP, IB, BYTE, 0, BYTE, 0,
	/* f0 lock, int1, repne, rep, hlt, cmc, group 3 Eb; group 3 Ev;
	 * f8 clc, stc, cli, sti, cld, std, group 4 (inc/dec Eb), group 5 */
	PFX, 0, PFX, PFX, 0, 0, Eb | GRP, M | GRP,
	0, 0, 0, 0, 0, 0, Eb | GRP, M | GRP,
};

/* The two-byte opcode map (0F xx): SDM Vol. 2 Table A-3. */
static const uint32_t map_0f[256] = {
	/* 00 group 6 (sldt str lldt ltr verr verw), group 7 (sgdt sidt lgdt
	 * lidt smsw lmsw invlpg, and the register forms), lar, lsl, -,
	 * syscall, clts, sysret;
	 * 08 invd, wbinvd, -, ud2, -, prefetch group (AMD), femms, 3DNow! */
	M | GRP, M | GRP, M, M, UD, 0, 0, 0,
	0, 0, UD, 0, UD, M | MEM, UD, UD,
	/* 10 movups/movss/movupd/movsd (load, store), movlps/movhlps/movlpd/
	 * movsldup/movddup, movlps/movlpd store, unpcklps/pd, unpckhps/pd,
	 * movhps/movlhps/movhpd/movshdup, movhps/movhpd store;
	 * 18 prefetch hints (group 16) and hint NOPs (endbr32 at F3 0F 1E) */
	M, M, M | GRP, SSE | MEM, SSE, SSE, M | NP | P66 | PF3 | GRP, SSE | MEM,
	M, M, M, M, M, M, M, M,
	/* 20 mov r,CRn; mov r,DRn; mov CRn,r; mov DRn,r; 24-27 mov to/from
	 * test registers (486 and earlier);
	 * 28 movaps/pd (load, store), cvtpi2ps/cvtsi2ss/cvtpi2pd/cvtsi2sd,
	 * movntps/pd (and AMD's movntss/sd), cvtt*2*, cvt*2*, ucomiss/sd, comiss/sd */
	M | CREG | GRP, M | CREG, M | CREG | GRP, M | CREG, UD, UD, UD, UD,
	SSE, SSE, M, M | MEM, M, M, SSE, SSE,
	/* 30 wrmsr, rdtsc, rdmsr, rdpmc, sysenter, sysexit, -, getsec;
	 * 38 and 3a: three-byte escapes (never looked up here) */
	0, 0, 0, 0, 0, 0, UD, 0,
	UD, UD, UD, UD, UD, UD, UD, UD,
	/* 40 cmovcc Gv,Ev */
	M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
	/* 50 movmskps/pd, sqrt, rsqrt, rcp, and, andn, or, xor;
	 * 58 add, mul, cvtps2pd..., cvtdq2ps/cvtps2dq/cvttps2dq, sub, min,
	 * div, max */
	SSE | REG, M, M | NP | PF3, M | NP | PF3, SSE, SSE, SSE, SSE,
	M, M, M, M | NP | P66 | PF3, M, M, M, M,
	/* 60 punpckl*, packsswb, pcmpgt*, packuswb;
	 * 68 punpckh*, packssdw, punpcklqdq, punpckhqdq, movd, movq/movdqa/
	 * movdqu */
	SSE, SSE, SSE, SSE, SSE, SSE, SSE, SSE,
	SSE, SSE, SSE, SSE, SSE66, SSE66, SSE, SSE | PF3,
	/* 70 pshufw/pshufd/pshufhw/pshuflw Ib, groups 12-14 (shift by Ib),
	 * pcmpeq*, emms;
	 * 78 vmread (extrq), vmwrite (insertq), -, -, haddpd/ps, hsubpd/ps,
	 * movd/movq, movq/movdqa/movdqu store */
	M | IB, SSE | REG | IB | GRP, SSE | REG | IB | GRP, SSE | REG | IB | GRP,
	SSE, SSE, SSE, 0,
	M | GRP, M | GRP, UD, UD, M | P66 | PF2, M | P66 | PF2, SSE | PF3,
	SSE | PF3,
	/* 80 jcc rel16/32 */
	IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ, IZ,
	/* 90 setcc Eb */
	Eb, Eb, Eb, Eb, Eb, Eb, Eb, Eb, Eb, Eb, Eb, Eb, Eb, Eb, Eb, Eb,
	/* a0 push fs, pop fs, cpuid, bt Ev,Gv, shld Ib, shld cl, -, -;
	 * a8 push gs, pop gs, rsm, bts, shrd Ib, shrd cl, group 15
	 * (fxsave ... clflush, the fences), imul Gv,Ev */
	0, 0, 0, M, M | IB, M, UD, UD,
	0, 0, 0, EvL, M | IB, M, M | GRP, M,
	/* b0 cmpxchg Eb,Gb; Ev,Gv; lss; btr; lfs; lgs; movzx Gv,Eb; Gv,Ew;
	 * b8 popcnt (F3; jmpe without it is Itanium-only), ud1 Gv,Ev,
	 * group 8 (bt* Ev,Ib), btc, bsf/tzcnt, bsr/lzcnt, movsx Gv,Eb; Gv,Ew */
	EbL, EvL, M | MEM, EvL, M | MEM, M | MEM, M, M,
	M | PF3, M, M | IB | GRP, EvL, M, M, M, M,
	/* c0 xadd Eb,Gb; Ev,Gv; cmpps/ss/pd/sd Ib; movnti; pinsrw Ib;
	 * pextrw Ib; shufps/pd Ib; group 9 (cmpxchg8b, vmx, rdrand ...);
	 * c8 bswap r */
	EbL, EvL, M | IB, M | NP | MEM, SSE | IB, SSE | REG | IB, SSE | IB,
	M | GRP,
	0, 0, 0, 0, 0, 0, 0, 0,
	/* d0 addsubpd/ps, psrlw, psrld, psrlq, paddq, pmullw, movq/movq2dq/
	 * movdq2q, pmovmskb; d8 psubusb ... pandn */
	M | P66 | PF2, SSE, SSE, SSE, SSE, SSE, M | P66 | PF3 | PF2 | GRP,
	SSE | REG,
	SSE, SSE, SSE, SSE, SSE, SSE, SSE, SSE,
	/* e0 pavgb ... pmulhw, cvttpd2dq/cvtdq2pd/cvtpd2dq, movntq/movntdq;
	 * e8 psubsb ... pxor */
	SSE, SSE, SSE, SSE, SSE, SSE, M | P66 | PF3 | PF2, SSE | MEM,
	SSE, SSE, SSE, SSE, SSE, SSE, SSE, SSE,
	/* f0 lddqu (F2), psllw ... maskmovq/maskmovdqu;
	 * f8 psubb ... paddd, ud0 Gv,Ev */
	M | PF2 | MEM, SSE, SSE, SSE, SSE, SSE, SSE, SSE | REG,
	SSE, SSE, SSE, SSE, SSE, SSE, SSE, M,
};

/*
 * The three-byte map 0F 38 xx: SDM Vol. 2 Table A-4.  Every instruction
 * here has a ModRM byte and no immediate; opcodes not listed are either
 * VEX-only or undefined.
 */
static const uint32_t map_0f38[256] = {
	/* 00 pshufb phaddw phaddd phaddsw pmaddubsw phsubw phsubd phsubsw
	 * 08 psignb psignw psignd pmulhrsw */
	[0x00 ... 0x0b] = SSE,
	[0x0c ... 0x0f] = UD,
	/* 10 pblendvb, 14 blendvps, 15 blendvpd, 17 ptest */
	[0x10] = SSE66, [0x11 ... 0x13] = UD, [0x14] = SSE66, [0x15] = SSE66,
	[0x16] = UD, [0x17] = SSE66,
	/* 1c pabsb pabsw pabsd */
	[0x18 ... 0x1b] = UD, [0x1c ... 0x1e] = SSE, [0x1f] = UD,
	/* 20 pmovsx*, 28 pmuldq pcmpeqq movntdqa packusdw */
	[0x20 ... 0x25] = SSE66, [0x26 ... 0x27] = UD,
	[0x28] = SSE66, [0x29] = SSE66, [0x2a] = SSE66 | MEM, [0x2b] = SSE66,
	[0x2c ... 0x2f] = UD,
	/* 30 pmovzx*, 37 pcmpgtq, 38 pmin*, pmax*, 40 pmulld, 41 phminposuw */
	[0x30 ... 0x35] = SSE66, [0x36] = UD, [0x37 ... 0x41] = SSE66,
	[0x42 ... 0x7f] = UD,
	/* 80 invept, invvpid, invpcid */
	[0x80 ... 0x82] = SSE66 | MEM, [0x83 ... 0xc7] = UD,
	/* c8 sha1nexte sha1msg1 sha1msg2 sha256rnds2 sha256msg1 sha256msg2,
	 * cf gf2p8mulb */
	[0xc8 ... 0xcd] = M | NP, [0xce] = UD, [0xcf] = SSE66,
	/* d8 (F3) Key Locker aes*wide*kl; db aesimc; dc-df aesenc aesenclast
	 * aesdec aesdeclast, or with F3 Key Locker aes{enc,dec}{128,256}kl */
	[0xd0 ... 0xd7] = UD, [0xd8] = M | PF3 | MEM | GRP,
	[0xd9 ... 0xda] = UD, [0xdb] = SSE66, [0xdc ... 0xdf] = M | GRP,
	[0xe0 ... 0xef] = UD,
	/* f0 movbe Gv,Mv / crc32 Gd,Eb; f1 movbe Mv,Gv / crc32 Gd,Ev;
	 * f5 wruss; f6 wrss / adcx / adox; f8 movdir64b / enqcmd(s);
	 * f9 movdiri; fa, fb (F3) encodekey128/256; fc aadd aand aor axor */
	[0xf0] = M | GRP, [0xf1] = M | GRP, [0xf2 ... 0xf4] = UD,
	[0xf5] = SSE66 | MEM, [0xf6] = M | GRP, [0xf7] = UD,
	[0xf8] = M | P66 | PF3 | PF2 | MEM, [0xf9] = M | NP | MEM,
	[0xfa ... 0xfb] = M | PF3 | REG, [0xfc] = M | MEM, [0xfd ... 0xff] = UD,
};

/* The three-byte map 0F 3A xx: SDM Vol. 2 Table A-5.  All take ModRM, Ib. */
static const uint32_t map_0f3a[256] = {
	[0x00 ... 0x07] = UD,
	/* 08 roundps roundpd roundss roundsd blendps blendpd pblendw palignr */
	[0x08 ... 0x0e] = SSE66 | IB, [0x0f] = SSE | IB,
	[0x10 ... 0x13] = UD,
	/* 14 pextrb pextrw pextrd extractps */
	[0x14 ... 0x17] = SSE66 | IB, [0x18 ... 0x1f] = UD,
	/* 20 pinsrb insertps pinsrd */
	[0x20 ... 0x22] = SSE66 | IB, [0x23 ... 0x3f] = UD,
	/* 40 dpps dppd mpsadbw, 44 pclmulqdq */
	[0x40 ... 0x42] = SSE66 | IB, [0x43] = UD, [0x44] = SSE66 | IB,
	[0x45 ... 0x5f] = UD,
	/* 60 pcmpestrm pcmpestri pcmpistrm pcmpistri */
	[0x60 ... 0x63] = SSE66 | IB, [0x64 ... 0xcb] = UD,
	/* cc sha1rnds4, ce gf2p8affineqb, cf gf2p8affineinvqb */
	[0xcc] = M | NP | IB, [0xcd] = UD, [0xce ... 0xcf] = SSE66 | IB,
	[0xd0 ... 0xde] = UD,
	/* df aeskeygenassist, f0 (F3) hreset */
	[0xdf] = SSE66 | IB, [0xe0 ... 0xef] = UD, [0xf0] = M | PF3 | REG | IB,
	[0xf1 ... 0xff] = UD,
};

static const uint32_t *const maps[] = {
	[MAP_ONE_BYTE] = map_one_byte, [MAP_0F] = map_0f,
	[MAP_0F38] = map_0f38, [MAP_0F3A] = map_0f3a,
};

/*
 * Group 7 with a register operand (0F 01 C0-FF): each ModRM byte is a
 * separate instruction (SDM Vol. 2 Table A-6).  One bit per ModRM byte
 * C0..FF, set for the defined ones:
 *   c0 enclv, c1-c4 vmcall vmlaunch vmresume vmxoff, c5 pconfig, c6 wrmsrns,
 *   c8-cb monitor mwait clac stac, cf encls,
 *   d0 xgetbv, d1 xsetbv, d4 vmfunc, d5 xend, d6 xtest, d7 enclu,
 *   d8-df AMD SVM (vmrun vmmcall vmload vmsave stgi clgi skinit invlpga),
 *   e0-e7 smsw r, e8 serialize/setssbsy/xsusldtrk, e9 xresldtrk (F2),
 *   ea saveprevssp (F3), ee rdpkru, ef wrpkru, f0-f7 lmsw r,
 *   f9 rdtscp, fa-fd AMD monitorx mwaitx clzero rdpru.
 * Not defined here: f8 (swapgs exists only in 64-bit mode) and the rest.
 */
static const uint64_t group7_reg_forms =
	0x7full << 0 |		/* c0-c6 */
	0x0full << 8 | 1ull << 15 |	/* c8-cb, cf */
	0xf3ull << 16 |		/* d0 d1 d4 d5 d6 d7 */
	0xffull << 24 |		/* d8-df */
	0xffull << 32 |		/* e0-e7 */
	0xc7ull << 40 |		/* e8 e9 ea ee ef */
	0xffull << 48 |		/* f0-f7 */
	0x3eull << 56;		/* f9-fd */

/*
 * Group 15 (0F AE) is several groups, one per mandatory prefix:
 *   memory:    /0-/3 fxsave fxrstor ldmxcsr stmxcsr, with any prefix;
 *              none: /4-/7 xsave xrstor xsaveopt clflush; 66: /6 clwb, /7 clflushopt; F3: /4 ptwrite,
 *                    /6 clrssbsy
 *   registers: none: /5 lfence, /6 mfence, /7 sfence (any r/m: Table A-6);
 *              66: /6 tpause, /7 r/m 0 pcommit; F3: /4 ptwrite, /5 incssp,
 *              /6 umonitor; F2: /6 umwait.
 * F3 /0-/3 with a register (rd/wr fs/gs base) exist only in 64-bit mode.
 */
static uint32_t group15_shape(const struct insn *in, uint32_t f, uint8_t simd)
{
	unsigned reg = in->reg;

	if (in->mod != 3 && reg < 4)
		return f;	/* older than the prefixed forms: prefixes ignored */
	switch (simd) {
	case 0:
		return in->mod == 3 && reg < 5 ? UD : f;
	case 0x66:
		if (reg == 6 || (reg == 7 && (in->mod != 3 || in->rm == 0)))
			return f;
		return UD;
	case 0xf3:
		if (in->mod == 3)
			return reg >= 4 && reg <= 6 ? f : UD;
		return reg == 4 || reg == 6 ? f : UD;
	default:	/* F2 */
		return in->mod == 3 && reg == 6 ? f : UD;
	}
}

/*
 * Refine the shape f of a group opcode (SDM Vol. 2 Table A-6) or of an SSE
 * opcode whose form depends on its mandatory prefix, now that ModRM is known.
 */
static uint32_t group_shape(const struct insn *in, uint32_t f, uint8_t simd)
{
	unsigned reg = in->reg, mod = in->mod;
	unsigned op = (unsigned)in->map << 8 | in->opcode;

	switch (op) {
	case 0x080: case 0x081: case 0x082: case 0x083:	/* group 1 */
		return reg != 7 ? f | LK : f;	/* cmp is not lockable */
	case 0x08c:	/* mov Ev,Sreg: es cs ss ds fs gs */
		return reg > 5 ? UD : f;
	case 0x08e:	/* mov Sreg,Ew: loading cs this way is #UD */
		return reg == SEG_CS || reg > 5 ? UD : f;
	case 0x08f:	/* group 1A: pop Ev; the rest is AMD XOP */
		return reg == 0 ? f : UD;
	case 0x0c6:	/* group 11: mov Eb,Ib; xabort Ib is C6 F8 */
	case 0x0c7:	/* mov Ev,Iz; xbegin Jz is C7 F8 */
		if (reg == 0 || (reg == 7 && mod == 3 && in->rm == 0))
			return f;
		return UD;
	case 0x0f6:	/* group 3: test /0 /1 have an immediate */
		if (reg < 2)
			return f | IB;
		return reg == 2 || reg == 3 ? f | LK : f;	/* not, neg */
	case 0x0f7:
		if (reg < 2)
			return f | IZ;
		return reg == 2 || reg == 3 ? f | LK : f;
	case 0x0fe:	/* group 4: inc, dec Eb */
		return reg < 2 ? f | LK : UD;
	case 0x0ff:	/* group 5: inc dec call callf jmp jmpf push */
		if (reg < 2)
			return f | LK;
		if (reg == 3 || reg == 5)
			return f | MEM;		/* far pointer in memory */
		return reg == 7 ? UD : f;

	case 0x100:	/* group 6: /6 is jmpe (Itanium), /7 undefined */
		return reg >= 6 ? UD : f;
	case 0x101:	/* group 7 */
		if (mod != 3)	/* /5 in memory is rstorssp, F3 only */
			return reg == 5 && simd != 0xf3 ? UD : f;
		if (!(group7_reg_forms >> (reg * 8 + in->rm) & 1))
			return UD;
		if (in->rm == 1 && reg == 5)
			return simd == 0xf2 ? f : UD;
		if (in->rm == 2 && reg == 5)
			return simd == 0xf3 ? f : UD;
		return f;
	case 0x112:	/* movlpd, movhpd: memory only */
	case 0x116:
		return simd == 0x66 ? f | MEM : f;
	case 0x120: case 0x122:	/* mov from/to CRn: CR1, CR5-7 are #UD */
		return reg == 1 || reg >= 5 ? UD : f;
	case 0x171: case 0x172:	/* groups 12, 13: /2 srl, /4 sra, /6 sll */
		return reg == 2 || reg == 4 || reg == 6 ? f : UD;
	case 0x173:	/* group 14: /3 psrldq and /7 pslldq exist only with 66 */
		if (reg == 2 || reg == 6)
			return f;
		return (reg == 3 || reg == 7) && simd == 0x66 ? f : UD;
	case 0x178:	/* vmread Ey,Gy; 66: extrq /0 ib ib; F2: insertq ib ib */
	case 0x179:	/* vmwrite Gy,Ey; 66: extrq; F2: insertq (registers) */
		if (simd == 0)
			return f;
		if (simd == 0xf3 || (op == 0x178 && simd == 0x66 && reg != 0))
			return UD;
		return op == 0x178 ? f | REG | IBIB : f | REG;
	case 0x1ae:	/* group 15 */
		return group15_shape(in, f, simd);
	case 0x1ba:	/* group 8: /4 bt, /5 bts, /6 btr, /7 btc */
		if (reg < 4)
			return UD;
		return reg > 4 ? f | LK : f;
	case 0x1c7:	/* group 9 */
		if (mod == 3) {	/* /6 rdrand, /7 rdseed or (F3) rdpid */
			if (simd == 0xf2 || reg < 6)
				return UD;
			return simd == 0xf3 && reg == 6 ? UD : f;
		}
		if (reg == 1)	/* cmpxchg8b */
			return f | LK;
		/* /3 xrstors, /4 xsavec, /5 xsaves, /6 vmptrld vmclear vmxon,
		 * /7 vmptrst */
		return reg >= 3 ? f : UD;
	case 0x1d6:	/* 66: movq Wq,Vq; F3 movq2dq and F2 movdq2q: registers */
		return simd == 0x66 ? f : f | REG;

	case 0x2f0: case 0x2f1:	/* movbe (memory only) or, with F2, crc32 */
		if (simd == 0xf2)
			return op == 0x2f0 ? f | BYTE : f;
		return simd == 0xf3 ? UD : f | MEM;
	case 0x2d8:	/* F3: /0-/3 Key Locker aes*wide*kl */
		return reg < 4 ? f : UD;
	case 0x2dc: case 0x2dd: case 0x2de: case 0x2df:
		/* 66 aesenc & co, F3 Key Locker (memory only) */
		if (simd == 0x66)
			return f;
		return simd == 0xf3 ? f | MEM : UD;
	case 0x2f6:	/* wrss (memory only), 66 adcx, F3 adox */
		if (simd == 0)
			return f | MEM;
		return simd == 0xf2 ? UD : f;
	}
	return f;
}

/* The bytes being decoded and how far we have read. */
struct cursor {
	const uint8_t *bytes;
	unsigned avail, pos;
};

/*
 * Read an n-byte little-endian field.  Beyond byte 15 the instruction is
 * too long whatever follows; short of that, beyond avail we cannot tell.
 */
static enum decode_result take(struct cursor *c, unsigned n, uint32_t *val)
{
	if (c->pos + n > INSN_MAX_LEN)
		return DECODE_INVALID;
	if (c->pos + n > c->avail)
		return DECODE_TRUNCATED;
	uint32_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)c->bytes[c->pos + i] << (8 * i);
	c->pos += n;
	*val = v;
	return DECODE_OK;
}

#define TAKE(c, n, val) do {						\
		enum decode_result r_ = take((c), (n), (val));		\
		if (r_ != DECODE_OK)					\
			return r_;					\
	} while (0)

/*
 * 16-bit addressing: base and index of each r/m form (SDM Vol. 2 Table 2-1),
 * as 32-bit register numbers (see struct insn).
 */
static const int8_t base16[8] = {
	REG_EBX, REG_EBX, REG_EBP, REG_EBP, REG_ESI, REG_EDI, REG_EBP, REG_EBX,
};
static const int8_t index16[8] = {
	REG_ESI, REG_EDI, REG_ESI, REG_EDI, -1, -1, -1, -1,
};

/* The memory operand after a ModRM byte with mod != 3: SIB and disp. */
static enum decode_result decode_mem(struct cursor *c, struct insn *in)
{
	uint32_t v;
	unsigned disp_len;

	in->has_mem = 1;
	in->scale = 1;
	if (in->addrsize == 2) {
		/* SDM Vol. 2 Table 2-1: no SIB; mod 0 r/m 6 is disp16 alone. */
		in->base = base16[in->rm];
		in->index = index16[in->rm];
		disp_len = in->mod == 1 ? 1 : in->mod == 2 ? 2 : 0;
		if (in->mod == 0 && in->rm == 6) {
			in->base = -1;
			disp_len = 2;
		}
	} else {
		/* SDM Vol. 2 Tables 2-2 and 2-3. */
		in->base = in->rm;
		in->index = -1;
		disp_len = in->mod == 1 ? 1 : in->mod == 2 ? 4 : 0;
		if (in->rm == 4) {
			TAKE(c, 1, &v);
			unsigned ss = v >> 6, idx = (v >> 3) & 7, b = v & 7;
			in->scale = 1 << ss;
			in->index = idx == 4 ? -1 : (int8_t)idx;  /* no index */
			in->base = b;
			if (b == 5 && in->mod == 0) {	/* [index*scale + disp32] */
				in->base = -1;
				disp_len = 4;
			}
		} else if (in->rm == 5 && in->mod == 0) {	/* [disp32] */
			in->base = -1;
			disp_len = 4;
		}
	}
	if (disp_len) {
		TAKE(c, disp_len, &v);
		in->disp = disp_len == 1 ? (int8_t)v : (int32_t)v;
	}
	in->default_seg = in->base == REG_ESP || in->base == REG_EBP ?
			  SEG_SS : SEG_DS;
	return DECODE_OK;
}

/* The immediate of kind imm (one of IB ... IBIB). */
static enum decode_result decode_imm(struct cursor *c, struct insn *in,
				     uint32_t imm, unsigned osize)
{
	uint32_t v;
	unsigned start = c->pos;

	switch (imm) {
	case IB:
		TAKE(c, 1, &in->imm);
		break;
	case IW:
		TAKE(c, 2, &in->imm);
		break;
	case IZ:
		TAKE(c, osize, &in->imm);
		break;
	case AP:	/* ptr16:16 or ptr16:32, offset first */
		TAKE(c, osize, &in->imm);
		TAKE(c, 2, &v);
		in->imm2 = v;
		break;
	case IWIB:
		TAKE(c, 2, &in->imm);
		TAKE(c, 1, &v);
		in->imm2 = v;
		break;
	case IBIB:
		TAKE(c, 1, &in->imm);
		TAKE(c, 1, &v);
		in->imm2 = v;
		break;
	case MOFFS:	/* not an immediate: the memory operand's offset */
		TAKE(c, in->addrsize, &v);
		in->disp = (int32_t)v;
		in->has_mem = 1;
		in->base = in->index = -1;
		in->scale = 1;
		in->default_seg = SEG_DS;
		return DECODE_OK;
	}
	in->imm_len = c->pos - start;
	return DECODE_OK;
}

/* Whether the shape f allows a mandatory prefix simd (0, 66, F3, F2). */
static int prefix_allowed(uint32_t f, uint8_t simd)
{
	if (!(f & PFX_MASK))
		return 1;
	switch (simd) {
	case 0x66:
		return !!(f & P66);
	case 0xf3:
		return !!(f & PF3);
	case 0xf2:
		return !!(f & PF2);
	default:
		return !!(f & NP);
	}
}

enum decode_result decode_insn(const uint8_t *bytes, unsigned avail,
			       int default_32bit, struct insn *out)
{
	struct cursor c = { bytes, avail, 0 };
	struct insn in;
	uint32_t b;

	memset(&in, 0, sizeof(in));
	in.seg = -1;
	in.base = in.index = -1;
	in.scale = 1;
	in.default_seg = SEG_DS;

	/*
	 * Legacy prefixes, in any order and number (SDM Vol. 2 §2.1.1); only
	 * the 15-byte limit bounds them.  Of several from one group the
	 * processor uses the last, and so do we.
	 */
	int osize_toggle = 0, asize_toggle = 0;
	for (;;) {
		TAKE(&c, 1, &b);
		switch (b) {
		case 0xf0:
			in.lock = 1;
			continue;
		case 0xf2:
		case 0xf3:
			in.rep = b;
			continue;
		case 0x26:
			in.seg = SEG_ES;
			continue;
		case 0x2e:
			in.seg = SEG_CS;
			continue;
		case 0x36:
			in.seg = SEG_SS;
			continue;
		case 0x3e:
			in.seg = SEG_DS;
			continue;
		case 0x64:
			in.seg = SEG_FS;
			continue;
		case 0x65:
			in.seg = SEG_GS;
			continue;
		case 0x66:
			osize_toggle = 1;
			continue;
		case 0x67:
			asize_toggle = 1;
			continue;
		}
		break;
	}
	in.opsize_override = osize_toggle;
	unsigned osize = (!!default_32bit ^ osize_toggle) ? 4 : 2;
	in.addrsize = (!!default_32bit ^ asize_toggle) ? 4 : 2;

	/* The opcode: one byte, or 0F and one, or 0F 38/3A and one. */
	in.map = MAP_ONE_BYTE;
	if (b == 0x0f) {
		TAKE(&c, 1, &b);
		in.map = MAP_0F;
		if (b == 0x38 || b == 0x3a) {
			in.map = b == 0x38 ? MAP_0F38 : MAP_0F3A;
			TAKE(&c, 1, &b);
		}
	}
	in.opcode = b;
	uint32_t f = maps[in.map][b];
	if (f & UD)
		return DECODE_INVALID;

	uint8_t simd = insn_simd_prefix(&in);
	if (f & M) {
		TAKE(&c, 1, &b);
		in.has_modrm = 1;
		in.mod = b >> 6;
		in.reg = (b >> 3) & 7;
		in.rm = b & 7;
		if (f & CREG)
			in.mod = 3;
	}
	if (f & GRP)
		f = group_shape(&in, f, simd);

	/* Everything that makes the encoding invalid is known by now. */
	if (f & UD || !prefix_allowed(f, simd))
		return DECODE_INVALID;
	if ((f & MEM && in.mod == 3) || (f & REG && in.mod != 3))
		return DECODE_INVALID;
	/*
	 * LOCK is #UD unless the instruction is one of the read-modify-write
	 * ones listed under LOCK in SDM Vol. 2 and its destination is memory.
	 */
	if (in.lock && (!(f & LK) || !in.has_modrm || in.mod == 3))
		return DECODE_INVALID;

	if (in.has_modrm && in.mod != 3) {
		enum decode_result r = decode_mem(&c, &in);
		if (r != DECODE_OK)
			return r;
	}
	if (f & IMM_MASK) {
		enum decode_result r = decode_imm(&c, &in, f & IMM_MASK, osize);
		if (r != DECODE_OK)
			return r;
	}
	in.opsize = f & BYTE ? 1 : osize;
	in.len = c.pos;
	*out = in;
	return DECODE_OK;
}

uint32_t insn_effective_address(const struct insn *in, const uint32_t regs[8])
{
	if (!in->has_mem)
		return 0;
	uint32_t ea = (uint32_t)in->disp;
	if (in->base >= 0)
		ea += regs[in->base & 7];
	if (in->index >= 0)
		ea += regs[in->index & 7] * in->scale;
	return in->addrsize == 2 ? ea & 0xffff : ea;
}
