#!/usr/bin/env bash
# Build the guest's Busybox initramfs (a gzip'd newc cpio archive).
#
#   tools/linux/build-initramfs.sh [OUT [SRC:DEST ...]]
#   EXTRA_FILES="SRC:DEST ..." tools/linux/build-initramfs.sh
#
# OUT defaults to build/linux/initramfs.cpio.gz.  Each SRC:DEST (arguments
# after OUT, or words of $EXTRA_FILES) copies the host file or directory SRC
# to DEST in the archive (DEST ending in / means DEST/basename(SRC)).
#
# Busybox is Debian's busybox-static:i386, fetched with `apt-get download`
# into ${RINGVISOR_CACHE:-$HOME/.cache/ringvisor}/busybox/ and unpacked with
# dpkg-deb: never installed and never run here (the host cannot run i386
# binaries).  Its applet list is read out of the binary's applet-name table,
# and every applet in linux/applets must be there.  The archive holds:
#   /init (linux/init)  /bin/busybox  /bin/<applet> -> busybox
#   /bin/rv-exit (linux/rv-exit)  /bin/rv-smoke (linux/smoke)
#   /sbin /usr/bin /usr/sbin -> bin
#   /dev /proc /sys /tmp /root  /etc/{passwd,group,profile}
# Ownership 0:0, fixed dates, sorted names, gzip -9n: the same inputs give
# the same bytes.  (/dev/console comes from the kernel's built-in initramfs.)
set -euo pipefail
trap 'echo "build-initramfs: failed (line $LINENO)" >&2' ERR

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build/linux/initramfs.cpio.gz}
[[ $# -gt 0 ]] && shift
out=$(realpath -m "$out")
extras=(${EXTRA_FILES:-} "$@")
epoch=${SOURCE_DATE_EPOCH:-0}

say() { printf '  %-7s %s\n' "$1" "$2"; }
die() { echo "build-initramfs: $*" >&2; exit 1; }

cache=${RINGVISOR_CACHE:-${HOME:-/tmp}/.cache/ringvisor}/busybox
mkdir -p "$cache" "$(dirname "$out")"
exec 9>"$cache/.lock"
flock 9

# ---- busybox-static:i386, asked of apt only when its package lists changed
lists=$(ls -t /var/lib/apt/lists/*_binary-i386_Packages* 2>/dev/null | head -n1 || true)
if [[ ! -f $cache/busybox || ! -f $cache/version ||
      ( -n $lists && $lists -nt $cache/version ) ]]; then
	ver=$(apt-cache show --no-all-versions busybox-static:i386 2>/dev/null |
		sed -n 's/^Version: //p' | head -n1 || true)
	if [[ -z $ver ]]; then
		[[ -f $cache/busybox ]] ||
			die "busybox-static:i386 is not known to apt (run tools/linux/deps.sh)"
		echo "build-initramfs: apt does not know busybox-static:i386;" \
			"using the cached $(cat "$cache/version")" >&2
	elif [[ ! -f $cache/busybox || $ver != "$(cat "$cache/version" 2>/dev/null)" ]]; then
		say APT "download busybox-static:i386 $ver"
		tmp=$(mktemp -d "$cache/dl.XXXXXX")
		sandbox=()
		[[ $(id -u) -eq 0 ]] && sandbox=(-o APT::Sandbox::User=root)
		(cd "$tmp" && apt-get download -q "${sandbox[@]}" \
			"busybox-static:i386=$ver" >download.log 2>&1) ||
			{ cat "$tmp/download.log" >&2; rm -rf "$tmp"; die "apt-get download failed"; }
		dpkg-deb -x "$tmp"/busybox-static_*_i386.deb "$tmp/x"
		[[ -f $tmp/x/bin/busybox ]] || die "no /bin/busybox in the package"
		rm -f "$cache"/*.deb
		mv "$tmp"/busybox-static_*_i386.deb "$cache/"
		mv "$tmp/x/bin/busybox" "$cache/busybox.new"
		rm -rf "$tmp"
		mv "$cache/busybox.new" "$cache/busybox"
		echo "$ver" >"$cache/version"
	else
		touch "$cache/version"	# checked against these lists
	fi
fi
bbver=$(cat "$cache/version")

# ---- the applets: the names table of the binary, read without running it
python3 - "$cache/busybox" >"$cache/applets.all" <<'EOF'
import sys
data = open(sys.argv[1], 'rb').read()
# Busybox keeps its applet names sorted, NUL-separated, starting "[", "[[".
start = data.find(b'[\0[[\0')
if start < 0:
    sys.exit('no applet table found in the busybox binary')
for name in data[start:].split(b'\0'):
    if not name or not all(33 <= c < 127 for c in name):
        break
    print(name.decode())
EOF
wanted=$(sed 's/#.*//' "$root/linux/applets" | tr -s ' \t' '\n\n' | sed '/^$/d' | sort -u)
missing=$(comm -23 <(echo "$wanted") <(sort -u "$cache/applets.all"))
[[ -z $missing ]] ||
	die "applets in linux/applets that busybox $bbver lacks:" $missing

# ---- the tree
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
cd "$tree"
mkdir -p bin dev proc sys tmp etc root usr
install -m 0755 "$cache/busybox" bin/busybox
for a in $wanted; do ln -s busybox "bin/$a"; done
install -m 0755 "$root/linux/init" init
install -m 0755 "$root/linux/rv-exit" bin/rv-exit
install -m 0755 "$root/linux/smoke" bin/rv-smoke
ln -s bin sbin
ln -s ../bin usr/bin
ln -s ../bin usr/sbin
chmod 1777 tmp
chmod 0700 root
printf 'root:x:0:0:root:/root:/bin/sh\n' >etc/passwd
printf 'root:x:0:\n' >etc/group
cat >etc/profile <<'EOF'
export PATH=/bin HOME=/root
PS1='\h:\w\$ '
EOF
chmod 0644 etc/passwd etc/group etc/profile

for spec in "${extras[@]}"; do
	[[ $spec == *:* ]] || die "extra file '$spec' is not SRC:DEST"
	src=${spec%%:*} dest=${spec#*:}
	[[ $src == /* ]] || src=$OLDPWD/$src
	[[ -e $src ]] || die "extra file '$src' does not exist"
	[[ $dest == /* ]] || dest=/$dest
	[[ $dest == */ ]] && dest=$dest$(basename "$src")
	mkdir -p ".$(dirname "$dest")"
	cp -R --no-preserve=ownership "$src" ".$dest"
	chmod -R u+rw,go+r,go-w ".$dest"
done

find . -mindepth 1 -exec touch -h -d "@$epoch" {} +
find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
	cpio -o -H newc --owner 0:0 --reproducible --quiet | gzip -9n >"$out.tmp"
cd /
if cmp -s "$out.tmp" "$out"; then rm -f "$out.tmp"; else mv "$out.tmp" "$out"; fi
say CPIO "$out (busybox $bbver, $(wc -w <<<"$wanted") applets${extras:+, ${#extras[@]} extra})"
