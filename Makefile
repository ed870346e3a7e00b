# golem's build. `make run` builds golem and lists this machine's devices;
# `make test` is what CI runs (.ci/run). GNU make; recipes use bash.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

# Go from /usr/local/go when it is not already on PATH.
export PATH := $(PATH):/usr/local/go/bin
GO ?= go

VERSION ?= $(shell git describe --tags --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# Debian packages the build and the tests use: the C compiler for cgo, clang-19
# and glslc for the GPU kernels, the Vulkan headers, loader and Mesa drivers
# (lavapipe, a CPU Vulkan device, so the Vulkan backend runs without a GPU).
DEPS ?= gcc clang-19 glslc libvulkan-dev mesa-vulkan-drivers
SUDO ?= $(if $(filter 0,$(shell id -u)),,sudo)

TEST_TIMEOUT ?= 10m
# Packages also tested under the race detector (with -short): those with
# goroutines or shared state, as long as make test stays under ~12 minutes on
# 2 cores. Measured when added: 5-7 s each. Missing directories are skipped.
RACE_DIRS := . graph backend backend/cpu backend/quant parity runtime
RACE_PKGS := $(foreach d,$(RACE_DIRS),$(if $(wildcard $(d)/*.go),./$(d)))
# Packages whose !cgo stubs are tested with CGO_ENABLED=0.
NOCGO_PKGS := ./backend/cuda ./backend/vulkan
FUZZTIME ?= 20s

.PHONY: deps build vet test run kernels kernels-check fuzz clean gpu-bundle

## deps: install the missing Debian packages (apt-get update only when needed)
deps:
	@if ! command -v dpkg >/dev/null; then echo "deps: no dpkg (not Debian): install $(DEPS) yourself"; exit 0; fi; \
	missing=""; \
	for p in $(DEPS); do \
		case "$$(dpkg -s "$$p" 2>/dev/null)" in \
			*"Status: install ok installed"*) ;; \
			*) missing="$$missing $$p" ;; \
		esac; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

## build: bin/golem with version and commit
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/golem ./cmd/golem

## vet: gofmt must have nothing to change; go vet
vet:
	@files=$$(find . -path './.*' -prune -o -path ./bin -prune -o -name '*.go' -type f -print); \
	unformatted=$$(gofmt -l $$files); \
	if [ -n "$$unformatted" ]; then echo "gofmt: these files need formatting (gofmt -w):"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

## test: everything CI checks
test: deps vet kernels-check
	$(GO) test -timeout $(TEST_TIMEOUT) ./...
	$(if $(RACE_PKGS),$(GO) test -race -short -timeout $(TEST_TIMEOUT) $(RACE_PKGS))
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) vet ./...
	CGO_ENABLED=0 $(GO) test -timeout $(TEST_TIMEOUT) $(NOCGO_PKGS)

## run: build golem, list the devices, check every available device against
## the CPU reference (short op suite) and benchmark attention on each, ending
## with the attention table and the roofline plot (under 3 minutes on 2 cores)
RUN_OUT ?= bin/run
run: deps build
	@mkdir -p $(RUN_OUT)
	bin/golem devices
	bin/golem parity ops --short
	@if [ -f ../shared/models/stories260K.gguf ]; then \
		echo 'bin/golem run -m ../shared/models/stories260K.gguf -p "Once upon a time" -n 60 --temp 0'; \
		bin/golem run -m ../shared/models/stories260K.gguf -p "Once upon a time" -n 60 --temp 0; \
	else echo "run: ../shared/models/stories260K.gguf not found: generation skipped"; fi
	bin/golem bench attention --quick -o $(RUN_OUT)/attention.json --plot $(RUN_OUT)/roofline.png
	@echo "attention results: $(RUN_OUT)/attention.json; roofline plot: $(RUN_OUT)/roofline.png"

## kernels: regenerate the committed GPU kernels (kernels/vulkan/*.comp -> .spv)
GLSLC ?= glslc
GLSLC_FLAGS := --target-env=vulkan1.2 -O -Ikernels/vulkan/include
VK_SRC := $(wildcard kernels/vulkan/*.comp)
kernels:
	@command -v $(GLSLC) >/dev/null || { echo "kernels: $(GLSLC) not found (Debian package glslc; make deps)"; exit 1; }
	@for f in $(VK_SRC); do \
		$(GLSLC) $(GLSLC_FLAGS) -o "$${f%.comp}.spv" "$$f"; \
	done
	@for s in kernels/vulkan/*.spv; do \
		[ -e "$${s%.spv}.comp" ] || { echo "kernels: removing stale $$s"; rm -f "$$s"; }; \
	done
	@echo "kernels: $(words $(VK_SRC)) Vulkan kernels compiled"

## kernels-check: fail when a committed kernel differs from its source's compilation
kernels-check:
	@command -v $(GLSLC) >/dev/null || { echo "kernels-check: $(GLSLC) not found (Debian package glslc; make deps)"; exit 1; }
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; stale=""; \
	for f in $(VK_SRC); do \
		b=$$(basename "$${f%.comp}"); \
		$(GLSLC) $(GLSLC_FLAGS) -o "$$tmp/$$b.spv" "$$f"; \
		cmp -s "$$tmp/$$b.spv" "kernels/vulkan/$$b.spv" || stale="$$stale kernels/vulkan/$$b.spv"; \
	done; \
	for s in kernels/vulkan/*.spv; do \
		[ -e "$${s%.spv}.comp" ] || stale="$$stale $$s(no source)"; \
	done; \
	if [ -n "$$stale" ]; then echo "kernels-check: stale or missing (run make kernels):$$stale"; exit 1; fi; \
	echo "kernels-check: $(words $(VK_SRC)) Vulkan kernels up to date"

## fuzz: run every Fuzz target of the module for FUZZTIME each
fuzz:
	@$(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do \
		for f in $$(cat "$$dir"/*_test.go 2>/dev/null | sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p'); do \
			echo "fuzz: $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) "$$pkg"; \
		done; \
	done

## clean: remove build outputs
clean:
	rm -rf bin .gpu gpu-results

## gpu-bundle: .gpu/, a self-contained folder for a GPU machine without Go:
## golem, the GPU packages' test binaries, the Vulkan loader .deb, the
## stories260K model and run.sh (bash .gpu/run.sh; see ../shared/docs/GPU.md)
GPU_TEST_PKGS := ./backend/vulkan ./backend/cuda ./parity ./bench
gpu-bundle: deps
	rm -rf .gpu && mkdir -p .gpu/shared/models
	$(GO) build -ldflags '$(LDFLAGS)' -o .gpu/golem ./cmd/golem
	for p in $(GPU_TEST_PKGS); do $(GO) test -c -o .gpu/$$(echo $${p#./} | tr / _).test $$p; done
	cp ../shared/models/stories260K.gguf .gpu/shared/models/
	cd .gpu && apt-get download libvulkan1 >/dev/null
	cp scripts/gpu-run.sh .gpu/run.sh
	@du -sh .gpu
