# sysrec's build. `make demo` and `make test` install what they need from
# Debian (as root) and work on a fresh machine.
GO ?= go
BIN := bin/sysrec

.PHONY: all build demo test fuzz lint generate check-generated update-groups deps bench clean image test-kernels

all: build

# sysrec links libseccomp through cgo (see the README), so the build
# installs its headers first.
build:
	scripts/install-deps.sh build
	$(GO) build -o $(BIN) ./cmd/sysrec

# A container image of sysrec for its Kubernetes node agent (a DaemonSet),
# built without Docker: a static sysrec (libseccomp.a linked in) in a
# one-layer, reproducible image, written as a docker-archive that
# `ctr -n k8s.io images import bin/sysrec-image.tar` and CRI-O's
# `skopeo copy docker-archive:bin/sysrec-image.tar containers-storage:...`
# read (cmd/mkimage).
IMAGE ?= localhost/sysrec:dev
image:
	scripts/install-deps.sh build
	CGO_ENABLED=1 $(GO) build -trimpath -tags osusergo,netgo -ldflags '-s -w -linkmode external -extldflags "-static"' -o bin/sysrec-static ./cmd/sysrec
	$(GO) run ./cmd/mkimage -o bin/sysrec-image.tar -tag $(IMAGE) -file bin/sysrec-static:/usr/bin/sysrec:0755 -entrypoint /usr/bin/sysrec

deps:
	scripts/install-deps.sh all

# Rebuild the eBPF objects (clang-14, bpf2go), the syscall tables, the
# Kubernetes API's deep copies and CRD (controller-gen), then deploy/sysrec.yaml
# from them (in that order: deploy embeds the CRD).
generate:
	scripts/install-deps.sh generate
	$(GO) generate ./bpf ./bench ./syscalls ./api/v1alpha1 ./deploy

# Refreshes the syscall groups' source, syscalls/systemd-syscall-filter.txt,
# from the installed systemd's `systemd-analyze syscall-filter`, and the
# table made from it. It fails when the new systemd has a group that
# scripts/gengroups does not map yet.
update-groups:
	scripts/install-deps.sh groups
	$(GO) run ./scripts/gengroups -save syscalls/systemd-syscall-filter.txt -o syscalls/zgroups.go

check-generated:
	scripts/install-deps.sh generate
	scripts/check-generated.sh

lint:
	scripts/install-deps.sh test
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	GOARCH=arm64 $(GO) build ./...

# Every test, the eBPF and container ones included (they need root). A
# containerd and a CRI-O of the tests' own run meanwhile (the first start
# builds CRI-O, which takes minutes), and a two-node Kubernetes cluster
# with sysrec's agent deployed (scripts/cluster.sh; the first start builds
# Kubernetes and etcd, about 20 minutes). CI sets SYSREC_REQUIRE_BPF=1 so
# that a skipped test fails the run.
test: lint check-generated
	containerd=$$(scripts/containerd.sh start) && crio=$$(scripts/crio.sh start) && \
	cluster=$$(scripts/cluster.sh start) && kubeconfig=$$(echo "$$cluster" | sed -n 's/^KUBECONFIG=//p') && \
	SYSREC_CONTAINERD_ENDPOINT=$$containerd SYSREC_CRIO_ENDPOINT=$$crio SYSREC_KUBECONFIG=$$kubeconfig \
	SYSREC_KUBE_BIN=$$(scripts/kube-build.sh) $(GO) test -count=1 ./...; \
	status=$$?; scripts/cluster.sh stop; scripts/crio.sh stop; scripts/containerd.sh stop; exit $$status
	$(MAKE) fuzz FUZZTIME=15s

# Boots Debian 12's 6.1 kernels, x86_64 and arm64, under qemu (TCG: no
# KVM needed), one at a time, and runs the recorder's and the CLI's tests,
# sysrec record and sysrec run inside each (scripts/test-kernels.sh, docs/kernels.md). Needs
# root; downloads are cached in /var/lib/sysrec-test/kernels.
# KERNELS=x86_64-6.1 runs one of them.
KERNELS ?=
test-kernels:
	GO=$(GO) scripts/test-kernels.sh $(KERNELS)

# Runs every fuzz target for FUZZTIME (FUZZTIME=10m for a longer run) and
# fails when one finds a failing input or makes fewer than MINEXECS
# executions (scripts/fuzz.sh).
FUZZTIME ?= 60s
MINEXECS ?= 10000
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) MINEXECS=$(MINEXECS) scripts/fuzz.sh

# Measures sysrec against no tracer, an empty sys_enter program, strace,
# bpftrace and perf trace; prints the table and writes docs/benchmarks.md.
# BENCH_FLAGS passes options to the harness (go run ./bench -h lists them).
bench: build
	scripts/install-deps.sh bench
	$(GO) run ./bench -sysrec $(BIN) $(BENCH_FLAGS)

# Records the demo workload, runs it under its profile, then under the
# profile without one of its syscalls, which sysrec names (demo/demo.sh).
demo: build
	$(GO) build -o bin/demo ./demo
	demo/demo.sh $(BIN) bin/demo

clean:
	rm -rf bin demo-profile.json demo-profile-without-mkdirat.json
