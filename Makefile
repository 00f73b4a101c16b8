# kinetail — build, test, demo and benchmark.
GO      ?= go
BIN     := bin/kinetail
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
NPM_DIR := test/kinesis
# Fuzz targets run briefly by `make test` (a fixed number of inputs: a short
# time budget can expire before the fuzzer starts) and longer by `make fuzz`.
FUZZ_TARGETS := $(shell grep -l '^func Fuzz' $$(git ls-files '*_test.go' 2>/dev/null || find . -name '*_test.go') 2>/dev/null \
	| xargs -r grep -H -o '^func Fuzz[A-Za-z0-9_]*' | sed -E 's|^(.*)/[^/]+_test.go:func |./\1:|' | sort -u)
FUZZTIME ?= 10000x

.PHONY: all build test prereq unit e2e soak fuzz-short fuzz demo bench bench-quick bench-idle bench-transforms deps vet clean package test-package

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/agent

# The real Kinesis API server (kinesis-local) and KPL decoder, pinned in test/kinesis.
deps: $(NPM_DIR)/node_modules/.installed

$(NPM_DIR)/node_modules/.installed: $(NPM_DIR)/package-lock.json
	npm ci --prefix $(NPM_DIR) --no-audit --no-fund
	touch $@

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# One package at a time: the tailer tests watch real files with timing, and
# other packages compiling and running beside them on 2 cores make them flaky.
unit: prereq deps
	$(GO) test -race -count=1 -p 1 -timeout 15m ./...

e2e: prereq deps build
	KINETAIL_BIN=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 15m -tags e2e ./test/e2e/...

# The e2e crash loop (SIGKILL, logrotate, throttling, outages, kinetail down
# across rotations), run for many more kills than `make e2e` does, and the
# generative test of the tailer for many more sequences than `make unit`;
# the results go in BENCHMARKS.md. KINETAIL_SEED repeats a crash loop.
SOAK_CYCLES ?= 300
SOAK_SEQUENCES ?= 3000
soak: deps build
	KINETAIL_BIN=$(CURDIR)/$(BIN) KINETAIL_SOAK_CYCLES=$(SOAK_CYCLES) $(GO) test -race -count=1 -timeout 40m \
		-tags e2e -run '^TestCrashLoop$$' -v ./test/e2e/
	KINETAIL_GEN_SEQUENCES=$(SOAK_SEQUENCES) $(GO) test -count=1 -timeout 60m -run '^TestGenerative$$' -v ./tailer/

fuzz-short:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$pkg $$fn ($(FUZZTIME))"; \
		$(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; done

fuzz:
	$(MAKE) fuzz-short FUZZTIME=2m

# What the tests need besides Go modules and npm packages (which make
# installs): checked first, so a missing tool stops the run at once.
prereq:
	@missing=""; for c in $(GO) node npm logrotate gzip dpkg-deb lintian rpm rpmlint systemd-analyze; do \
		command -v $$c >/dev/null 2>&1 || [ -x /usr/sbin/$$c ] || missing="$$missing $$c"; done; \
	if [ -n "$$missing" ]; then \
		echo "make test needs:$$missing"; \
		echo "on Debian: apt-get install -y golang nodejs npm logrotate gzip dpkg-dev lintian rpm rpmlint systemd (or Go from go.dev)"; exit 1; fi
	@[ "$$(id -u)" = 0 ] || { echo "make test installs the kinetail .deb on this machine (test-package): run it as root"; exit 1; }

test: prereq vet unit e2e fuzz-short test-package

demo: deps build
	$(GO) run ./internal/cmd/demo -bin $(BIN) -config config.example.yaml

# Every workload of the end-to-end benchmark (raw lines, Apache → JSON, KPL
# aggregation, 1,000 files, 10,000 files, an outage, 90% throttling), several minutes, then
# one table; bench-quick runs them with small sizes in seconds. BENCH_FLAGS
# passes more, like -workloads raw,files or -dest 'max_in_flight: 8'.
BENCH_FLAGS ?=
bench: build
	$(GO) run ./internal/cmd/bench -bin $(BIN) $(BENCH_FLAGS)

bench-quick: build
	$(GO) run ./internal/cmd/bench -bin $(BIN) -quick $(BENCH_FLAGS)

# 10,000 files with nothing to do: start, restart with their checkpoint,
# CPU and memory over 10 minutes idle (IDLE=1m for a shorter look).
IDLE ?= 10m
bench-idle: build
	$(GO) run ./internal/cmd/bench -bin $(BIN) -idle $(IDLE) $(BENCH_FLAGS)

bench-transforms:
	$(GO) run ./internal/cmd/bench -transforms

# Packages: a .deb and an .rpm for each of PKG_ARCHS in $(DIST), made by nfpm
# (built from the Go module proxy at a pinned version) from a static binary.
# Two builds of one commit are byte for byte the same: -trimpath and an empty
# build id in the binary, file times and dates from the commit's time
# (SOURCE_DATE_EPOCH), a fixed rpm build host. PKG_VERSION comes from git
# (packaging/version.sh) and `kinetail version` prints it with the commit;
# PKG_MAINTAINER goes into both formats.
NFPM_VERSION ?= v2.48.0
NFPM         := $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
DIST         ?= dist
PKG_ARCHS    ?= amd64 arm64
PKG_FORMATS  ?= deb rpm
ifndef PKG_VERSION
PKG_VERSION  := $(shell sh packaging/version.sh)
endif
PKG_MAINTAINER ?= kinetail maintainers <maintainers@kinetail.invalid>
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct)
# Generated inputs (binaries, copyright, changelog); nfpm.yaml names this path.
PKG_BUILD    := dist/.build
PKG_COMMIT   := $(shell git rev-parse HEAD)
PKG_LDFLAGS  := -s -w -buildid= -X main.version=$(PKG_VERSION) -X main.commit=$(PKG_COMMIT)

package:
	@test -n "$(PKG_VERSION)" || { echo "no package version (not a git checkout? set PKG_VERSION)"; exit 1; }
	rm -rf $(PKG_BUILD) $(DIST)/kinetail_*.deb $(DIST)/kinetail-*.rpm
	mkdir -p $(PKG_BUILD) $(DIST)
	GO=$(GO) sh packaging/copyright.sh > $(PKG_BUILD)/copyright
	GO=$(GO) sh packaging/copyright.sh --debian > $(PKG_BUILD)/copyright.debian
	sh packaging/changelog.sh "$(PKG_VERSION)-1" "$(PKG_MAINTAINER)" > $(PKG_BUILD)/changelog.yaml
	@set -e; for arch in $(PKG_ARCHS); do \
		echo "kinetail $(PKG_VERSION) linux/$$arch"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "$(PKG_LDFLAGS)" \
			-o $(PKG_BUILD)/$$arch/kinetail ./cmd/agent; \
		for format in $(PKG_FORMATS); do \
			PKG_ARCH=$$arch PKG_VERSION="$(PKG_VERSION)" PKG_BUILD="$(PKG_BUILD)" \
			PKG_MAINTAINER="$(PKG_MAINTAINER)" \
			SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) \
				$(NFPM) package --config packaging/nfpm.yaml --packager $$format --target $(DIST)/; \
		done; \
	done

# The packages on this machine (Debian, as root): lintian, rpmlint, the rpm's
# metadata and scripts, the unit's verification and exposure score, then the
# .deb installed, upgraded, removed and purged for real (everything it did is
# undone at the end, even on failure; it refuses to run if kinetail is
# installed already). See test/package/run.sh.
test-package:
	GO=$(GO) bash test/package/run.sh

clean:
	rm -rf bin dist
