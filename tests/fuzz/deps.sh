#!/usr/bin/env bash
# Install what the fuzzers need (Debian 12): clang, and the compiler-rt
# runtime that holds libFuzzer and the sanitizers (libclang_rt.fuzzer*.a,
# libclang_rt.asan*.a, ...).  clang-14 only *recommends* libclang-rt-14-dev,
# so with --no-install-recommends it must be named.  Idempotent: asks dpkg
# first and runs apt-get only for what is missing.  As a non-root user it
# prints the command instead.
set -euo pipefail

packages=(
	clang			# clang-14: -fsanitize=fuzzer,address,undefined
	libclang-rt-14-dev	# libFuzzer and the sanitizer runtimes for clang-14
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
	echo "ringvisor fuzz: missing packages; please run:" >&2
	echo "  sudo apt-get update && sudo $cmd" >&2
	exit 1
fi
echo "ringvisor fuzz: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
$cmd >/dev/null
