#!/bin/busybox sh
# /init of the VM-test initramfs: mounts the API filesystems and the test disk, runs the scenarios, powers off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
echo
echo "@@ booted kernel=$(uname -r)"
for i in 1 2 3 4 5 6 7 8 9 10; do [ -b /dev/nvme0n1 ] && break; sleep 0.5; done
if mount -t ext4 /dev/nvme0n1 /mnt; then
    case " $(cat /proc/cmdline) " in
        *" bpfgate_demo "*) sh /demo.sh ;;
        *" bpfgate_nolsm "*) sh /nolsm.sh ;;
        *" bpfgate_bench "*) sh /bench.sh ;;
        *" bpfgate_policy "*) sh /policy.sh ;;
        *" bpfgate_signed "*) sh /signed.sh ;;
        *" bpfgate_rollout "*) sh /rollout.sh ;;
        *" bpfgate_scale "*) sh /scale.sh ;;
        *" bpfgate_distro_prep "*) sh /distro-prep.sh ;;
        *) sh /scenarios.sh ;;
    esac
else
    echo "@@ fatal cannot_mount_test_disk"
fi
echo "@@ done"
sync
# A scenario may leave a chain of programs for PID 1 itself to exec (tests/guest/rollout.sh): they power off.
[ -f /tmp/pid1-chain ] && exec $(cat /tmp/pid1-chain)
poweroff -f
