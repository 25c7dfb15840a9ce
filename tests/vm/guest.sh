# Sourced by the host scripts that boot one guest outside the test harness (demo.sh, bench.sh, scale.sh).
cache=${BPFGATE_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfgate/kernels}
# boot_guest SUITE STAGEDIR IMAGE NAME MEM_MB TIMEOUT_S APPEND: boots SUITE's kernel with the staged initramfs on a
# throwaway copy of IMAGE, the serial console in STAGEDIR/NAME.log; the guest's "@@ " observations, without the
# prefix, in STAGEDIR/NAME.log.obs. A guest that fails to boot shows as an observation file without `done`.
# GUEST_CLOCK=icount makes the guest's clock count executed instructions (1 ns each: `-icount shift=0,sleep=off`),
# so that timings repeat from run to run instead of following the host's load; `wall` (the default) is plain TCG.
boot_guest() {
    local suite=$1 vm=$2 image=$3 name=$4 mem=$5 limit=$6 append=$7 clock=()
    case ${GUEST_CLOCK:-wall} in
    icount) clock=(-icount shift=0,sleep=off) ;;
    wall) ;;
    *) echo "GUEST_CLOCK=${GUEST_CLOCK}: expected icount or wall" >&2; return 1 ;;
    esac
    cp "$image" "$vm/disk-$name.img"
    timeout "$limit" qemu-system-x86_64 -accel tcg "${clock[@]}" -m "$mem" -smp 1 -nographic -no-reboot -nodefaults \
        -serial stdio -kernel "$cache/$suite/vmlinuz" -initrd "$vm/initramfs.cpio" \
        -append "console=ttyS0 panic=-1 loglevel=1 $append" \
        -drive "file=$vm/disk-$name.img,format=raw,if=none,id=d0" -device "nvme,drive=d0,serial=$name" \
        </dev/null >"$vm/$name.log" 2>&1 || true
    rm -f "$vm/disk-$name.img"
    tr -d '\r' <"$vm/$name.log" | grep -o '@@ .*' | sed 's/^@@ //' >"$vm/$name.log.obs"
}
