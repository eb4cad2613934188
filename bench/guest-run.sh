#!/bin/sh
# The benchmark run inside the guest (rv.run=/bench/guest-run.sh), natively
# and under the VMM; bench/run.py collects the "bench" lines.
/bench/rvbench tsc | sed 's/^tsc /bench boot-to-init /; s/$/ 1/'
/bench/rvbench
/bench/rvbench time /bench/macro.sh | sed 's/^bench time /bench macro-workload /'
