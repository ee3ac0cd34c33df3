#!/bin/bash
# One cluster node, run by test/cluster/cluster.ts as
#   ip netns exec <netns> unshare --mount --uts --propagation private bash node.sh N DIR
# in its own network, mount and UTS namespaces: private tmpfs over everything Corosync and
# Pacemaker keep (so two nodes share nothing but the link between them), its own hostname,
# its own config file at DIR/ha.d (a bind mount of DIR/nN/ha.d) and its own kernel table
# stand-in bound over /usr/sbin/ipvsadm. Then corosync and pacemakerd, in the foreground.
set -euo pipefail
N=$1
DIR=$2
for d in /run /var/lib/pacemaker /var/lib/corosync /var/log /etc/corosync /dev/shm /var/lib/ldirectord; do
  mkdir -p "$d"
  mount -t tmpfs -o mode=0755 tmpfs "$d"
done
chmod 1777 /dev/shm
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores \
  /var/log/pacemaker /run/crm
chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker /run/crm
chmod 750 /var/lib/pacemaker/cib
hostname "node$N"
cp "$DIR/corosync.conf" /etc/corosync/corosync.conf
install -o hacluster -g haclient -m 0600 "$DIR/cib.xml" /var/lib/pacemaker/cib/cib.xml
mount --bind "$DIR/n$N/ha.d" "$DIR/ha.d"
mount --bind "$DIR/n$N/ipvsadm" /usr/sbin/ipvsadm
corosync -f >"$DIR/n$N/corosync.out" 2>&1 &
sleep 0.5
exec pacemakerd >"$DIR/n$N/pacemakerd.out" 2>&1
