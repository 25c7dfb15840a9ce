# Prep boot of the distro image (tests/distro/build.sh): enables fs-verity and stores the signatures listed in
# /var/lib/bpfgate-test/enroll.list, with bpfgate enroll. Only a kernel can enable fs-verity, hence this guest.
obs() { echo "@@ $*"; }
ok=0; bad=0
while read -r sig file; do
    if bpfgate --log stderr enroll --sig "/mnt$sig" "/mnt$file" >/dev/null 2>/tmp/err; then ok=$((ok + 1)); else
        bad=$((bad + 1)); obs "enroll_failed $file $(cat /tmp/err)"; fi
done </mnt/var/lib/bpfgate-test/enroll.list
obs "distro_enrolled ok=$ok bad=$bad"
