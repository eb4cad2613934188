#!/usr/bin/env bash
# Build a bootable (BIOS) GRUB ISO of the VMM, the way it would boot on a real
# machine: GRUB loads build/ringvisor.elf by Multiboot, with the given VMM
# command line, and each module after it (the first is the guest kernel).
#
#   tools/mkiso.sh OUTPUT.iso "VMM ARGS" MODULE [MODULE ARGS]...
#
# Each MODULE may carry arguments after a space ("path args").
#
# GRUB 2 hands over only the words after the file name, where QEMU's -kernel
# and -initrd start each string with the file name itself.  The VMM (and any
# guest) reads the first word as the image's name, so the path is repeated
# here to give both boot paths the same strings.
set -euo pipefail

if [[ $# -lt 3 ]]; then
	echo "usage: $0 OUTPUT.iso \"VMM ARGS\" MODULE..." >&2
	exit 2
fi
out=$1; vmm_args=$2; shift 2
elf=${RINGVISOR_ELF:-build/ringvisor.elf}
[[ -f "$elf" ]] || { echo "mkiso: $elf not found (run make)" >&2; exit 2; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/boot/grub"
cp "$elf" "$dir/boot/ringvisor.elf"
{
	echo "set timeout=0"
	echo "set default=0"
	echo "menuentry ringvisor {"
	echo "  multiboot /boot/ringvisor.elf /boot/ringvisor.elf $vmm_args"
	for m in "$@"; do
		path=${m%% *}
		args=""; [[ "$m" == *" "* ]] && args=${m#* }
		[[ -f "$path" ]] || { echo "mkiso: module $path not found" >&2; exit 2; }
		name=$(basename "$path")
		cp "$path" "$dir/boot/$name"
		echo "  module /boot/$name /boot/$name $args"
	done
	echo "  boot"
	echo "}"
} > "$dir/boot/grub/grub.cfg"

# grub-mkrescue talks a lot even when all is well; keep it for failures
# (outside the tree it archives, which must not change while it works).
log=$(mktemp)
trap 'rm -rf "$dir" "$log"' EXIT
if ! grub-mkrescue -o "$out" "$dir" >"$log" 2>&1; then
	cat "$log" >&2
	exit 1
fi
