#!/usr/bin/env bash
# Build the ringvisor guest kernel: Debian's linux-source-6.1, patched with
# linux/ringvisor.patch, configured as `tinyconfig` + linux/config, and copy
# vmlinux and bzImage (plus System.map and the .config) to OUTDIR
# (default build/linux/).
#
#   tools/linux/build-kernel.sh [OUTDIR]
#
# The build is cached outside the checkout, in
#   ${RINGVISOR_CACHE:-$HOME/.cache/ringvisor}/linux/
#     keys/<key>/   vmlinux bzImage System.map config build.log  (newest 2 kept)
#     work/src      the unpacked source, re-unpacked for every new key
#     work/obj      the O= build directory, reused between keys
# key = sha256 of linux/config, linux/ringvisor.patch, the linux-source-6.1
# package version and this script.  A key already in the cache costs a copy.
# A new key re-unpacks a pristine source tree, applies its patch and rebuilds
# incrementally in work/obj (make sees the patched files as new; the files
# the previous key patched are touched too, so reverting a change rebuilds
# them).  work/obj is wiped when the source version or this script changes.
#
# Quiet: one line per stage; V=1 shows the whole build.  The full log is
# keys/<key>/build.log; on failure its tail is printed and the exit status
# is non-zero.
set -euo pipefail
trap 'echo "build-kernel: failed (line $LINENO)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
script="$here/$(basename "${BASH_SOURCE[0]}")"
config="$root/linux/config"
patchfile="$root/linux/ringvisor.patch"
out=${1:-$root/build/linux}
tarball=/usr/src/linux-source-6.1.tar.xz
V=${V:-0}

say() { printf '  %-7s %s\n' "$1" "$2"; }
die() { echo "build-kernel: $*" >&2; exit 1; }

version=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) ||
	die "linux-source-6.1 is not installed (run tools/linux/deps.sh)"
[[ -f $tarball ]] || die "$tarball is missing (run tools/linux/deps.sh)"

key=$( { sha256sum "$config" "$patchfile" "$script" | cut -d' ' -f1
	 echo "linux-source-6.1 $version"; } | sha256sum | cut -c1-16)

cache=${RINGVISOR_CACHE:-${HOME:-/tmp}/.cache/ringvisor}/linux
keydir=$cache/keys/$key
mkdir -p "$cache/keys" "$out"

# Copy a file only if it differs, so make does not see a needlessly new one.
install_out() {
	local f
	for f in vmlinux bzImage System.map config; do
		local dst=$out/$f
		[[ $f == config ]] && dst=$out/kernel.config
		cmp -s "$keydir/$f" "$dst" || cp "$keydir/$f" "$dst"
	done
}

# One build at a time per cache (the fast path takes the lock too, so it
# never sees a half-written key directory).
exec 9>"$cache/.lock"
flock 9

if [[ -f $keydir/vmlinux && -f $keydir/bzImage ]]; then
	touch "$keydir"		# most recently used, for the pruning below
	install_out
	say LINUX "$out/{vmlinux,bzImage} (cached, key $key)"
	exit 0
fi

work=$cache/work
src=$work/src
obj=$work/obj
log=$cache/build.log.$key
: >"$log"

run() {		# run a command with its output in the log (and on stdout if V=1)
	if [[ $V == 1 ]]; then
		"$@" 2>&1 | tee -a "$log"
		return "${PIPESTATUS[0]}"
	fi
	"$@" >>"$log" 2>&1
}
fail() {
	echo "build-kernel: $1 failed; last lines of $log:" >&2
	tail -n 40 "$log" >&2
	exit 1
}

# The variables that make the image reproducible (uname -v shows them).
stamp_date=$(zcat /usr/share/doc/linux-source-6.1/changelog.Debian.gz 2>/dev/null |
	sed -n 's/^ -- .*>  //p' | head -n1 || true)
export KBUILD_BUILD_TIMESTAMP="${stamp_date:-Thu, 01 Jan 1970 00:00:00 +0000}"
export KBUILD_BUILD_USER=ringvisor KBUILD_BUILD_HOST=ringvisor KBUILD_BUILD_VERSION=1
mk=(make -C "$src" O="$obj" ARCH=i386)
[[ $V == 1 ]] || mk+=(-s)

# The build directory may be reused only for the same source and script.
objstamp="linux-source-6.1 $version; $(sha256sum "$script" | cut -d' ' -f1)"
if [[ ! -f $work/obj.stamp || $(cat "$work/obj.stamp") != "$objstamp" ]]; then
	rm -rf "$obj" "$work/obj.stamp"
fi

say UNPACK "linux-source-6.1 $version (key $key)"
rm -rf "$src" "$src.tmp"
mkdir -p "$src.tmp"
run tar -xJf "$tarball" -C "$src.tmp" --strip-components=1 || fail unpack
mv "$src.tmp" "$src"

say PATCH "linux/ringvisor.patch"
run patch -p1 -d "$src" --no-backup-if-mismatch -i "$patchfile" || fail patch
# Files the previous build patched are back to their tarball dates: make
# them newer than their objects so that they are recompiled.
patched() { sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "$1"; }
{ patched "$patchfile"
  if [[ -f $work/last.patch ]]; then patched "$work/last.patch"; fi; } | sort -u |
while read -r f; do if [[ -e $src/$f ]]; then touch "$src/$f"; fi; done
cp "$patchfile" "$work/last.patch"

say CONFIG "tinyconfig + linux/config"
mkdir -p "$obj"
echo "$objstamp" >"$work/obj.stamp"
run "${mk[@]}" tinyconfig || fail tinyconfig
cat "$config" >>"$obj/.config"
run "${mk[@]}" olddefconfig || fail olddefconfig
# Every option the fragment asks for must have survived olddefconfig.
bad=0
while read -r line; do
	if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
		grep -qxF "$line" "$obj/.config" || {
			got=$(grep -E "^(# )?${BASH_REMATCH[1]}[= ]" "$obj/.config" || echo "absent")
			echo "build-kernel: linux/config wants $line, got: $got" >&2
			bad=1; }
	elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
		! grep -q "^${BASH_REMATCH[1]}=" "$obj/.config" || {
			echo "build-kernel: linux/config wants ${BASH_REMATCH[1]} off," \
				"got: $(grep "^${BASH_REMATCH[1]}=" "$obj/.config")" >&2
			bad=1; }
	fi
done <"$config"
[[ $bad == 0 ]] || die "olddefconfig dropped or changed options (see above)"

jobs=$(nproc)
say MAKE "vmlinux bzImage (-j$jobs; about 5 min from scratch)"
start=$SECONDS
run "${mk[@]}" -j"$jobs" vmlinux bzImage || fail make
say MAKE "done in $((SECONDS - start)) s"

rm -rf "$keydir.tmp"
mkdir -p "$keydir.tmp"
cp "$obj/vmlinux" "$obj/arch/x86/boot/bzImage" "$obj/System.map" "$keydir.tmp/"
cp "$obj/.config" "$keydir.tmp/config"
mv "$log" "$keydir.tmp/build.log"
mv "$keydir.tmp" "$keydir"

# Keep the newest two keys.
ls -1dt "$cache/keys"/*/ 2>/dev/null | tail -n +3 | while read -r d; do rm -rf "$d"; done
rm -f "$cache"/build.log.* 2>/dev/null || true

install_out
say LINUX "$out/{vmlinux,bzImage} (key $key)"
