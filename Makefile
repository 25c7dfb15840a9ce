# bpfgate build, test and install entry points. See README.md.
#   make                      static bpfgate (BPFGATE_CERTS=cert.pem[:more] bakes in the trust anchors)
#   make test                 unit tests + VM tests on trixie's 6.12, sid's and trixie-backports' kernels (installs what it needs)
#   make demo                 boots a VM with the gate and shows trusted vs untrusted loaders
#   make install DESTDIR= PREFIX=
TARGET    ?= x86_64-unknown-linux-gnu
PREFIX    ?= /usr
DESTDIR   ?=
BUILD     ?= build
# Static glibc, non-PIE: `file` reports "statically linked"; build scripts stay dynamic thanks to --target.
STATIC_RUSTFLAGS := -C target-feature=+crt-static -C relocation-model=static
BIN       := $(or $(CARGO_TARGET_DIR),target)/$(TARGET)/release/bpfgate
# Test and demo builds bake throwaway test certificates (PEM + DER, as for a key rotation): they live in their own target dir, never in $(BIN).
TEST_TARGET_DIR := $(BUILD)/target-test
TEST_BIN  := $(TEST_TARGET_DIR)/$(TARGET)/release/bpfgate
KEYS      := $(BUILD)/keys
export BPFGATE_KERNEL_CACHE ?= $(HOME)/.cache/bpfgate/kernels

FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_TARGETS := certfile signature status cli cmdline policy events elf

BENCH_ROUNDS ?= 5
BENCH_ITERS ?= 2000
BENCH_RUNS ?= 2
# Distinct signed binaries (and threads) of the scale benchmark.
SCALE_N ?= 10000

.PHONY: all deps kernels keys test-bin stage distro test unit-test vm-test readme-install demo bench bench-short fuzz fuzz-smoke install clean

all:
	RUSTFLAGS="$(STATIC_RUSTFLAGS)" cargo build --release --target $(TARGET)
	@ls -l $(BIN)

deps:
	@tests/install-deps.sh --if-missing

kernels: deps
	tests/fetch-kernels.sh

keys:
	tests/make-test-keys.sh $(KEYS)

test-bin: deps keys
	BPFGATE_CERTS=$(abspath $(KEYS))/signer.pem:$(abspath $(KEYS))/second.der RUSTFLAGS="$(STATIC_RUSTFLAGS)" \
		CARGO_TARGET_DIR=$(TEST_TARGET_DIR) cargo build --release --target $(TARGET) --features bench

stage: kernels test-bin
	tests/vm/prepare.sh $(TEST_BIN) $(BUILD)/vm

unit-test: deps
	cargo test --workspace --lib

# The distro boot tests' roots: debootstrap'ed trixie with bpfgate installed, dracut and initramfs-tools images;
# debootstrap'ed sid (systemd 258+, PrivateBPF=), booted by bpfgate's embedded init.
distro: stage
	tests/distro/build.sh $(TEST_BIN) $(BUILD)/vm/bpfprobe $(KEYS) $(BUILD)/distro
	tests/distro/prep.sh $(BUILD)/vm $(BUILD)/distro
	tests/distro/build-sid.sh $(TEST_BIN) $(BUILD)/vm/bpfprobe $(KEYS) $(BUILD)/distro
	tests/distro/prep.sh $(BUILD)/vm $(BUILD)/distro root-sid.img

vm-test: kernels stage distro
	BPFGATE_VM_DIR=$(abspath $(BUILD))/vm BPFGATE_DISTRO_DIR=$(abspath $(BUILD))/distro cargo test --test vm

test: kernels stage distro readme-install
	BPFGATE_VM_DIR=$(abspath $(BUILD))/vm BPFGATE_DISTRO_DIR=$(abspath $(BUILD))/distro cargo test --workspace

# The README's build and install lines, run as a new user would (certificate path and DESTDIR swapped for test ones).
readme-install: deps keys
	tests/readme-install.sh $(abspath $(KEYS)) $(abspath $(TEST_TARGET_DIR)) $(abspath $(BUILD))/readme-install

demo: kernels stage
	tests/vm/demo.sh $(BUILD)/vm

bench: kernels stage
	tests/vm/bench.sh $(BUILD)/vm $(BENCH_ROUNDS) $(BENCH_ITERS) $(BENCH_RUNS)
	tests/vm/scale.sh $(BUILD)/vm $(SCALE_N)

# CI: checks that the benchmark completes on every kernel; its numbers mean nothing at this size.
bench-short: kernels stage
	tests/vm/bench.sh $(BUILD)/vm 2 50 1
	tests/vm/scale.sh $(BUILD)/vm 200

fuzz: deps
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	for t in $(FUZZ_TARGETS); do \
		RUSTC_BOOTSTRAP=1 cargo fuzz run -O $$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

# CI's smoke run: every target for FUZZ_SMOKE_SECONDS, on a copy of its corpus (the checkout's corpora stay as they are).
fuzz-smoke: deps
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	for t in $(FUZZ_TARGETS); do \
		rm -rf $(BUILD)/fuzz-corpus/$$t && mkdir -p $(BUILD)/fuzz-corpus && cp -r fuzz/corpus/$$t $(BUILD)/fuzz-corpus/$$t && \
		RUSTC_BOOTSTRAP=1 cargo fuzz run -O $$t $(BUILD)/fuzz-corpus/$$t -- -max_total_time=$(FUZZ_SMOKE_SECONDS) || exit 1; \
	done

# Where distros look: dracut modules, initramfs-tools hooks and scripts, systemd units, docs.
DRACUTDIR ?= $(PREFIX)/lib/dracut/modules.d
ITDIR     ?= $(PREFIX)/share/initramfs-tools
UNITDIR   ?= $(PREFIX)/lib/systemd/system
DOCDIR    ?= $(PREFIX)/share/doc/bpfgate
# INSTALL_BIN: the binary to install (default: the one `make` builds; tests install their test build).
INSTALL_BIN ?= $(BIN)

# install takes the binary `make` built as it is: it never rebuilds one that exists (a rebuild without the
# BPFGATE_CERTS of the first build would drop its trust anchors), builds one only when there is none, and refuses a
# binary with no baked certificate (it cannot load the gate, and with `required = 1` the next boot stops) unless
# ALLOW_NO_CERTS=1.
install:
	@[ -e $(INSTALL_BIN) ] || [ "$(INSTALL_BIN)" != "$(BIN)" ] || $(MAKE) all
	@n=$$($(INSTALL_BIN) --version | sed -n 's/.*(\([0-9]*\) baked certificate.*/\1/p'); \
	if [ "$${n:-0}" = 0 ] && [ "$(ALLOW_NO_CERTS)" != 1 ]; then \
		echo "make install: $(INSTALL_BIN) has no baked certificate, so it cannot load the gate." >&2; \
		echo "  Build it with the loaders' certificates: BPFGATE_CERTS=/path/cert.pem make" >&2; \
		echo "  (or install it anyway, e.g. for a test image: make install ALLOW_NO_CERTS=1)" >&2; \
		exit 1; \
	fi; \
	echo "installing $(INSTALL_BIN): $$n baked certificate(s)"
	install -D -m 0755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/sbin/bpfgate
	install -D -m 0755 initramfs/mkinitramfs-bpfgate.sh $(DESTDIR)$(PREFIX)/sbin/mkinitramfs-bpfgate
	install -D -m 0755 dracut/50bpfgate/module-setup.sh $(DESTDIR)$(DRACUTDIR)/50bpfgate/module-setup.sh
	install -D -m 0755 dracut/50bpfgate/bpfgate-pre-mount.sh $(DESTDIR)$(DRACUTDIR)/50bpfgate/bpfgate-pre-mount.sh
	install -D -m 0644 dracut/50bpfgate/bpfgate-initrd.service $(DESTDIR)$(DRACUTDIR)/50bpfgate/bpfgate-initrd.service
	install -D -m 0755 initramfs/initramfs-tools/hooks/bpfgate $(DESTDIR)$(ITDIR)/hooks/bpfgate
	install -D -m 0755 initramfs/initramfs-tools/scripts/init-premount/bpfgate $(DESTDIR)$(ITDIR)/scripts/init-premount/bpfgate
	install -D -m 0644 units/bpfgate.service $(DESTDIR)$(UNITDIR)/bpfgate.service
	install -D -m 0644 units/dpkg-bpfgate.cfg $(DESTDIR)/etc/dpkg/dpkg.cfg.d/bpfgate
	install -D -m 0755 scripts/sign-store.sh $(DESTDIR)$(PREFIX)/share/bpfgate/sign-store.sh
	install -d $(DESTDIR)$(PREFIX)/lib/bpfgate/signatures/sha256 $(DESTDIR)$(PREFIX)/lib/bpfgate/watch.d
	install -d $(DESTDIR)$(DOCDIR)
	install -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/

clean:
	cargo clean
	rm -rf $(BUILD)
