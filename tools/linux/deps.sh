#!/usr/bin/env bash
# Install what building the guest Linux kernel and its Busybox initramfs
# needs (Debian 12).  Idempotent and quick when everything is present: it asks
# dpkg first and only runs apt-get for what is missing.  It also enables the
# i386 architecture, because build-initramfs.sh downloads busybox-static:i386
# (downloaded only, never installed).  As a non-root user it prints the
# commands to run and exits 1.
set -euo pipefail

packages=(
	linux-source-6.1	# /usr/src/linux-source-6.1.tar.xz
	make gcc bc bison flex	# the kernel build
	libelf-dev libssl-dev	# objtool / scripts (sign-file, extract-cert)
	cpio xz-utils gzip	# unpack the source, pack the initramfs
	dpkg-dev		# dpkg-deb is in dpkg; kept for dpkg-architecture
	qemu-system-x86		# native boot check
)

# One dpkg-query for all of them (it is the slow part when nothing is missing).
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null |
	sed -n 's/ install ok installed$//p' || true)
missing=()
for p in "${packages[@]}"; do
	grep -qx "$p" <<<"$installed" || missing+=("$p")
done

need_i386=0
dpkg --print-foreign-architectures | grep -qx i386 || need_i386=1
# The architecture may be enabled but its package lists not yet fetched
# (a glob, not apt-cache, which takes a second to load).
if [[ $need_i386 -eq 0 ]] &&
   ! compgen -G '/var/lib/apt/lists/*_main_binary-i386_Packages*' >/dev/null; then
	need_i386=2
fi

[[ ${#missing[@]} -eq 0 && $need_i386 -eq 0 ]] && exit 0

cmds=()
[[ $need_i386 -eq 1 ]] && cmds+=("dpkg --add-architecture i386")
cmds+=("apt-get update")
[[ ${#missing[@]} -gt 0 ]] &&
	cmds+=("apt-get install -y --no-install-recommends ${missing[*]}")

if [[ $(id -u) -ne 0 ]]; then
	echo "ringvisor: missing Linux build dependencies; please run:" >&2
	for c in "${cmds[@]}"; do echo "  sudo $c" >&2; done
	exit 1
fi
[[ ${#missing[@]} -gt 0 ]] && echo "ringvisor: installing ${missing[*]}"
[[ $need_i386 -eq 1 ]] && echo "ringvisor: enabling the i386 architecture"
export DEBIAN_FRONTEND=noninteractive
[[ $need_i386 -eq 1 ]] && dpkg --add-architecture i386
# A partial failure of `apt-get update` (one mirror index out of sync) must
# not stop us when what we need is still reachable: warn and go on; the
# install and the check below fail loudly if something really is missing.
if ! apt-get update -q >/tmp/rv-apt-update.$$ 2>&1; then
	echo "ringvisor: warning: apt-get update reported errors:" >&2
	grep '^[EW]:' /tmp/rv-apt-update.$$ | head -3 >&2 || true
fi
rm -f /tmp/rv-apt-update.$$
[[ ${#missing[@]} -gt 0 ]] &&
	apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
if ! apt-cache show busybox-static:i386 >/dev/null 2>&1; then
	echo "ringvisor: busybox-static:i386 is not available from apt" >&2
	exit 1
fi
exit 0
