#!/bin/sh
# The Linux guest's smoke test (issue 5), run by /init with
# rv.run=/tests/smoke.sh, natively and under the VMM: tests/e2e compares the
# two outputs section by section.  Each section starts with "== name" and
# ends with its exit status, "-- status N".  The script's own status is the
# number of sections that failed.
failed=0
section() {
	name=$1; shift
	echo "== $name"
	sh -c "$*" 2>&1
	status=$?
	echo "-- status $status"
	[ $status -eq 0 ] || failed=$((failed + 1))
}

section uname 'uname -a'
section cpuinfo 'cat /proc/cpuinfo'
section ls 'ls -l /'
section ps 'ps'
section pipeline 'seq 1 1000 | sort -r | head'
section fork200 'i=0; while [ $i -lt 200 ]; do /bin/true & i=$((i + 1)); done; wait; echo forked $i'
# The kernel log's tail, less the clocksource watchdog's verdicts and the
# asynchronous initramfs unpacking: where those come depends on speed (under
# the VMM, where the guest runs slower, the watchdog can see timer ticks lost
# and distrust the TSC; see the README's known differences).
section dmesg "dmesg | grep -v -e clocksource -e 'tsc:' -e TSC -e sched_clock -e 'Freeing initrd' -e 'Unpacking initramfs' -e 'Serial: 8250' | tail"
section tmpfs 'seq 1 5000 > /tmp/a && sort -rn /tmp/a > /tmp/b && wc -l /tmp/a /tmp/b && tail -1 /tmp/b && cat /tmp/b | md5sum && rm /tmp/a /tmp/b && ls /tmp | wc -l'
section protcheck '/tests/protcheck'
echo "smoke: $failed sections failed"
exit $failed
