#!/bin/sh
# The macro workload: build a tree of small files with pipelines, archive it
# with busybox tar and gzip, read the archive back, and sort the lot.
set -e
d=/tmp/macro
rm -rf $d /tmp/macro.tgz
mkdir -p $d
i=0
while [ $i -lt 20 ]; do
	mkdir $d/dir$i
	j=0
	while [ $j -lt 10 ]; do
		seq 1 100 | sed "s/^/$i.$j /" > $d/dir$i/file$j
		j=$((j + 1))
	done
	i=$((i + 1))
done
tar -cf - -C /tmp macro | gzip -c > /tmp/macro.tgz
gunzip -c /tmp/macro.tgz | tar -tf - | wc -l >/dev/null
cat $d/dir*/file* | sort -r | uniq | wc -l >/dev/null
rm -rf $d /tmp/macro.tgz
