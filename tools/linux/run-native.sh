#!/usr/bin/env bash
# Boot the guest Linux natively (no VMM) on qemu-system-i386 and return its
# status the way the ringvisor launcher does (QEMU's 2*(0x10+N)+1 -> N).
#
#   tools/linux/run-native.sh [-t SECONDS] [KERNEL-ARGS...]
#
# e.g. tools/linux/run-native.sh rv.run=/bin/rv-smoke
#      echo 'uname -a; exit' | tools/linux/run-native.sh
# Uses build/linux/{bzImage,initramfs.cpio.gz} (LINUX_DIR overrides).  With
# no rv.run the console shell reads stdin; exit it with `exit`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${LINUX_DIR:-$root/build/linux}
timeout=60
if [[ ${1:-} == -t ]]; then timeout=$2; shift 2; fi
rc=0
timeout --foreground "$timeout" qemu-system-i386 -cpu max -m 64 \
	-nographic -no-reboot -monitor none -serial stdio \
	-kernel "$dir/bzImage" -initrd "$dir/initramfs.cpio.gz" \
	-append "console=ttyS0 $*" \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 || rc=$?
if [[ $rc -ge 33 && $((rc % 2)) -eq 1 ]]; then
	status=$(( (rc - 33) / 2 ))
	echo "run-native: the guest ended with status $status (QEMU $rc)" >&2
	exit "$status"
fi
echo "run-native: QEMU ended with $rc without a guest status" >&2
exit $(( rc == 124 ? 124 : 125 ))
