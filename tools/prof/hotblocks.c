/*
 * A QEMU TCG plugin that counts the instructions the whole machine runs,
 * per translated block: the VMM's, the guest kernel's and its processes'
 * alike.  tools/prof/report.py turns its output into a profile by symbol.
 *
 *   qemu-system-i386 -plugin build/tools/hotblocks.so,out=FILE[,mark=ADDR] ...
 *
 * Every execution of the block at ADDR (the VMM's exitstats_print, which
 * runs at each profile mark a benchmark makes) writes the counts so far to
 * FILE and starts them again from zero, so each benchmark's window can be
 * told apart.  The counts are per block, so an exception in the middle of
 * one counts the whole block: close enough for a profile.
 *
 * Debian's QEMU ships the plugin interface but not its header; the few
 * calls used here are declared below as QEMU 7.2 defines them (plugin API
 * version 1).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };

void qemu_plugin_register_vcpu_tb_trans_cb(
	qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
					      enum qemu_plugin_op op,
					      void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
					  void (*cb)(unsigned int, void *),
					  enum qemu_plugin_cb_flags flags,
					  void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
				    void (*cb)(qemu_plugin_id_t, void *),
				    void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One translated block: where, how many instructions, how often run. */
struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t count;
};

/* Blocks live in chunks that never move: QEMU holds pointers to counts. */
#define CHUNK 65536
static struct block **chunks;
static size_t nblocks, nchunks;
static FILE *out;
static uint64_t mark_vaddr = UINT64_MAX;
static unsigned marks;

static struct block *new_block(void)
{
	if (nblocks == nchunks * CHUNK) {
		chunks = realloc(chunks, (nchunks + 1) * sizeof(*chunks));
		chunks[nchunks] = calloc(CHUNK, sizeof(struct block));
		if (!chunks || !chunks[nchunks]) {
			fprintf(stderr, "hotblocks: out of memory\n");
			exit(1);
		}
		nchunks++;
	}
	struct block *b = &chunks[nblocks / CHUNK][nblocks % CHUNK];
	nblocks++;
	return b;
}

/* Write the counts since the last mark, then start again from zero. */
static void write_counts(const char *why)
{
	fprintf(out, "%s %u\n", why, marks++);
	for (size_t i = 0; i < nblocks; i++) {
		struct block *b = &chunks[i / CHUNK][i % CHUNK];
		if (b->count) {
			fprintf(out, "%" PRIx64 " %" PRIu64 " %" PRIu64 "\n",
				b->vaddr, b->insns, b->count);
			b->count = 0;
		}
	}
	fflush(out);
}

static void on_mark(unsigned int vcpu, void *unused)
{
	(void)vcpu;
	(void)unused;
	write_counts("mark");
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	(void)id;
	struct block *b = new_block();
	b->vaddr = qemu_plugin_tb_vaddr(tb);
	b->insns = qemu_plugin_tb_n_insns(tb);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &b->count, 1);
	if (b->vaddr == mark_vaddr)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_mark,
						     QEMU_PLUGIN_CB_NO_REGS, NULL);
}

static void on_machine_exit(qemu_plugin_id_t id, void *unused)
{
	(void)id;
	(void)unused;
	write_counts("end");
	fclose(out);
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
			int argc, char **argv)
{
	(void)info;
	const char *path = NULL;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "out=", 4) == 0)
			path = argv[i] + 4;
		else if (strncmp(argv[i], "mark=", 5) == 0)
			mark_vaddr = strtoull(argv[i] + 5, NULL, 16);
		else {
			fprintf(stderr, "hotblocks: unknown argument %s\n", argv[i]);
			return -1;
		}
	}
	if (!path || !(out = fopen(path, "w"))) {
		fprintf(stderr, "hotblocks: out=FILE is needed (and writable)\n");
		return -1;
	}
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_machine_exit, NULL);
	return 0;
}
