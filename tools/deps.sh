#!/usr/bin/env bash
# Install the Debian 12 packages ringvisor needs to build, run and test.
# Idempotent, and quick when everything is there: it asks dpkg first and only
# runs apt-get for what is missing.  As a non-root user it prints the command.
set -euo pipefail

packages=(
	gcc-multilib		# -m32 for the VMM and the guests, 32-bit libgcc
	make
	python3			# the launcher and the test runners
	qemu-system-x86		# the "hardware"
	grub-pc-bin grub-common xorriso mtools	# the bootable ISO
	libcmocka-dev		# host unit tests
	gdb			# ./ringvisor run --gdb
	gnuplot-nox		# make bench: the chart of ratios
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
	echo "ringvisor: missing packages; please run:" >&2
	echo "  sudo apt-get update && sudo $cmd" >&2
	exit 1
fi
echo "ringvisor: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A partial failure of `apt-get update` (one mirror index out of sync, seen
# here) must not stop us: the install below says whether what we need is there.
apt-get update -q >/dev/null 2>&1 ||
	echo "ringvisor: warning: apt-get update reported errors; installing anyway" >&2
$cmd >/dev/null
