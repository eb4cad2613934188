# The guest Linux: kernel and Busybox initramfs.  Included by the top-level
# Makefile, which defines B, V, Q and say.
#
#   make linux-kernel      $(B)/linux/vmlinux, bzImage, System.map, kernel.config
#   make linux-initramfs   $(B)/linux/initramfs.cpio.gz
#   make linux             both
#
# The scripts do their own dependency tracking: the kernel is cached by the
# hash of linux/config, linux/ringvisor.patch, the linux-source-6.1 version
# and tools/linux/build-kernel.sh (a hit takes well under a second), and the
# outputs are rewritten only when their bytes change.  So these targets are
# phony and cheap to run every time.  LINUX_EXTRA_FILES="SRC:DEST ..." adds
# files to the initramfs (e.g. a static i386 test program).

LINUX_DIR := $(B)/linux
LINUX_VMLINUX := $(LINUX_DIR)/vmlinux
LINUX_BZIMAGE := $(LINUX_DIR)/bzImage
LINUX_INITRAMFS := $(LINUX_DIR)/initramfs.cpio.gz
LINUX_EXTRA_FILES ?=

.PHONY: linux linux-kernel linux-initramfs linux-deps
linux: linux-kernel linux-initramfs

linux-deps:
	$(Q)tools/linux/deps.sh

linux-kernel: linux-deps
	$(Q)V=$(V) tools/linux/build-kernel.sh $(LINUX_DIR)

linux-initramfs: linux-deps
	$(Q)EXTRA_FILES="$(LINUX_EXTRA_FILES)" tools/linux/build-initramfs.sh $(LINUX_INITRAMFS)
