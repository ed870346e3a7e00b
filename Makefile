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

# Debian packages the build and the tests use: the C compiler for cgo, g++ for
# the CUDA emulator, clang-19 and glslc for the GPU kernels, the Vulkan
# headers, loader and Mesa drivers (lavapipe, a CPU Vulkan device, so the
# Vulkan backend runs without a GPU) and the Khronos validation layers (the
# Vulkan tests run under them), and Chromium (the server's chat page is tested
# in it, headless).
DEPS ?= gcc g++ clang-19 glslc libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers chromium
SUDO ?= $(if $(filter 0,$(shell id -u)),,sudo)

TEST_TIMEOUT ?= 10m
# Packages also tested under the race detector (with -short): those with
# goroutines or shared state, as long as make test stays under ~12 minutes on
# 2 cores. Measured when added: 5-7 s each. Missing directories are skipped.
RACE_DIRS := . graph backend backend/cpu backend/quant parity runtime server
RACE_PKGS := $(foreach d,$(RACE_DIRS),$(if $(wildcard $(d)/*.go),./$(d)))
# Packages whose !cgo stubs are tested with CGO_ENABLED=0.
NOCGO_PKGS := ./backend/cuda ./backend/vulkan
FUZZTIME ?= 20s

.PHONY: deps build vet test run kernels kernels-check cuda-emu fuzz clean gpu-bundle gpu-bundle-check

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

## test: everything CI checks. The CUDA tests run on the emulator; the Vulkan
## package (op suite, kernels, stories260K parity) runs on lavapipe under
## VK_LAYER_KHRONOS_validation with synchronization validation: any
## validation message fails it.
test: deps vet kernels-check cuda-emu
	$(GO) test -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v '/backend/vulkan$$')
	GOLEM_VULKAN_VALIDATION=1 $(GO) test -timeout $(TEST_TIMEOUT) ./backend/vulkan
	$(if $(RACE_PKGS),$(GO) test -race -short -timeout $(TEST_TIMEOUT) $(RACE_PKGS))
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) vet ./...
	CGO_ENABLED=0 $(GO) test -timeout $(TEST_TIMEOUT) $(NOCGO_PKGS)
	$(MAKE) --no-print-directory gpu-bundle-check

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
	bin/golem bench attention --quick --force -o $(RUN_OUT)/attention.json --plot $(RUN_OUT)/roofline.png
	@echo "attention results: $(RUN_OUT)/attention.json; roofline plot: $(RUN_OUT)/roofline.png"

## kernels: regenerate the committed GPU kernels (kernels/vulkan/*.comp -> .spv,
## kernels/cuda/*.cu and backend/cuda/testdata/*.cu -> .ptx). *_coopmat Vulkan
## kernels are written with GL_NV_cooperative_matrix (what this glslc knows)
## and rewritten to SPV_KHR_cooperative_matrix by nv2khr.
GLSLC ?= glslc
GLSLC_FLAGS := --target-env=vulkan1.2 -O -Ikernels/vulkan/include
VK_SRC := $(wildcard kernels/vulkan/*.comp)
NV2KHR := $(GO) run ./internal/spirv/nv2khr
# CUDA C to PTX with clang-19 and no CUDA toolkit (docs/cuda.md). A file
# named *_sm90a.cu uses Hopper-only instructions and is compiled for sm_90a.
CLANG ?= clang-19
CU_FLAGS := -x cuda --cuda-device-only -nocudainc -nocudalib -O3 -S \
	-Xclang -target-feature -Xclang +ptx80 -Ikernels/cuda/include
CU_SRC := $(wildcard kernels/cuda/*.cu backend/cuda/testdata/*.cu)
CU_ARCH = --cuda-gpu-arch=$(if $(filter %_sm90a.cu,$(1)),sm_90a,sm_80)
kernels:
	@command -v $(GLSLC) >/dev/null || { echo "kernels: $(GLSLC) not found (Debian package glslc; make deps)"; exit 1; }
	@command -v $(CLANG) >/dev/null || { echo "kernels: $(CLANG) not found (Debian package clang-19; make deps)"; exit 1; }
	@for f in $(VK_SRC); do \
		$(GLSLC) $(GLSLC_FLAGS) -o "$${f%.comp}.spv" "$$f"; \
		case "$$f" in *_coopmat.comp) $(NV2KHR) "$${f%.comp}.spv" "$${f%.comp}.spv" ;; esac; \
	done
	@for s in kernels/vulkan/*.spv; do \
		[ -e "$${s%.spv}.comp" ] || { echo "kernels: removing stale $$s"; rm -f "$$s"; }; \
	done
	@$(foreach f,$(CU_SRC),$(CLANG) $(CU_FLAGS) $(call CU_ARCH,$(f)) -o $(f:.cu=.ptx) $(f) &&) true
	@for s in kernels/cuda/*.ptx backend/cuda/testdata/*.ptx; do \
		[ ! -e "$$s" ] || [ -e "$${s%.ptx}.cu" ] || { echo "kernels: removing stale $$s"; rm -f "$$s"; }; \
	done
	@echo "kernels: $(words $(VK_SRC)) Vulkan and $(words $(CU_SRC)) CUDA kernel files compiled"

## kernels-check: fail when a committed kernel differs from its source's compilation
kernels-check:
	@command -v $(GLSLC) >/dev/null || { echo "kernels-check: $(GLSLC) not found (Debian package glslc; make deps)"; exit 1; }
	@command -v $(CLANG) >/dev/null || { echo "kernels-check: $(CLANG) not found (Debian package clang-19; make deps)"; exit 1; }
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; stale=""; \
	for f in $(VK_SRC); do \
		b=$$(basename "$${f%.comp}"); \
		$(GLSLC) $(GLSLC_FLAGS) -o "$$tmp/$$b.spv" "$$f"; \
		case "$$f" in *_coopmat.comp) $(NV2KHR) "$$tmp/$$b.spv" "$$tmp/$$b.spv" ;; esac; \
		cmp -s "$$tmp/$$b.spv" "kernels/vulkan/$$b.spv" || stale="$$stale kernels/vulkan/$$b.spv"; \
	done; \
	for s in kernels/vulkan/*.spv; do \
		[ -e "$${s%.spv}.comp" ] || stale="$$stale $$s(no source)"; \
	done; \
	$(foreach f,$(CU_SRC),$(CLANG) $(CU_FLAGS) $(call CU_ARCH,$(f)) -o "$$tmp/cu.ptx" $(f); \
		cmp -s "$$tmp/cu.ptx" $(f:.cu=.ptx) || stale="$$stale $(f:.cu=.ptx)";) \
	for s in kernels/cuda/*.ptx backend/cuda/testdata/*.ptx; do \
		[ ! -e "$$s" ] || [ -e "$${s%.ptx}.cu" ] || stale="$$stale $$s(no source)"; \
	done; \
	if [ -n "$$stale" ]; then echo "kernels-check: stale or missing (run make kernels):$$stale"; exit 1; fi; \
	echo "kernels-check: $(words $(VK_SRC)) Vulkan and $(words $(CU_SRC)) CUDA kernel files up to date"

## cuda-emu: bin/libgolem-cuda-emu.so, the emulated CUDA driver: the same
## kernels/cuda sources as host C++20 behind the driver API subset golem
## calls (GOLEM_CUDA_LIBRARY=bin/libgolem-cuda-emu.so; docs/cuda.md)
CXX := g++
EMU_CXXFLAGS := -std=c++20 -O2 -g -fPIC -pthread -fvisibility=hidden -fstack-clash-protection -Wall -Wextra -Wno-unknown-pragmas \
	-DGOLEM_CUDA_EMU -Ikernels/cuda/include
EMU_OBJ := bin/cuda-emu
EMU_SRC := $(wildcard backend/cuda/emu/*.cc)
EMU_HDR := kernels/cuda/include/golem.cuh $(wildcard kernels/cuda/include/*.cuh) backend/cuda/emu/emu.h
EMU_KERNEL_OBJS := $(patsubst %.cu,$(EMU_OBJ)/k/%.o,$(filter-out %_sm90a.cu,$(CU_SRC)))
EMU_DRIVER_OBJS := $(patsubst backend/cuda/emu/%.cc,$(EMU_OBJ)/%.o,$(filter-out %/kernel_unit.cc,$(EMU_SRC)))
cuda-emu: bin/libgolem-cuda-emu.so
bin/libgolem-cuda-emu.so: $(EMU_DRIVER_OBJS) $(EMU_KERNEL_OBJS) backend/cuda/emu/exports.map
	$(CXX) -shared -pthread -Wl,-z,nodelete -Wl,--version-script=backend/cuda/emu/exports.map -o $@ $(EMU_DRIVER_OBJS) $(EMU_KERNEL_OBJS)
$(EMU_OBJ)/%.o: backend/cuda/emu/%.cc $(EMU_HDR)
	@mkdir -p $(@D)
	$(CXX) $(EMU_CXXFLAGS) -c -o $@ $<
$(EMU_OBJ)/k/%.o: %.cu backend/cuda/emu/kernel_unit.cc $(EMU_HDR)
	@mkdir -p $(@D)
	$(CXX) $(EMU_CXXFLAGS) -DGOLEM_EMU_KERNEL_SOURCE='"$(abspath $<)"' -c -o $@ backend/cuda/emu/kernel_unit.cc

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

## gpu-bundle-check: build the GPU bundle and run it here end to end, on the
## CUDA emulator and lavapipe (quick shapes), as a GPU machine would run it
gpu-bundle-check: gpu-bundle
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	if OUT=$$out GOLEM_CUDA_LIBRARY=$(CURDIR)/.gpu/libgolem-cuda-emu.so GOLEM_GPU_QUICK=1 bash .gpu/run.sh >$$out/run.out 2>&1; then \
		tail -n 25 $$out/run.out; \
	else \
		cat $$out/run.out; cat $$out/log.txt; echo "gpu-bundle-check: the bundle failed"; exit 1; \
	fi; \
	for f in summary.txt log.txt results.tar.gz; do [ -s "$$out/$$f" ] || { echo "gpu-bundle-check: $$f missing"; exit 1; }; done

## gpu-bundle: .gpu/, a self-contained folder for a GPU machine without Go,
## root or network (see ../shared/docs/GPU.md): golem, the GPU packages' test
## binaries (each run in src/<its package>, beside its testdata, with the
## kernel sources in src/kernels), the CUDA emulator (for the tests of the
## emulator itself), the Vulkan loader in lib/, stories260K and a
## generated q8_0 model, run.sh (bash .gpu/run.sh) and torch-reference.py
GPU_TEST_PKGS := ./backend/cuda ./backend/vulkan
gpu-bundle: deps cuda-emu
	rm -rf .gpu && mkdir -p .gpu/shared/models .gpu/lib .gpu/src
	cp bin/libgolem-cuda-emu.so .gpu/
	$(GO) build -ldflags '$(LDFLAGS) -s -w' -o .gpu/golem ./cmd/golem
	for p in $(GPU_TEST_PKGS); do \
		n=$$(echo $${p#./} | tr / _); \
		$(GO) test -c -ldflags '-s -w' -o .gpu/$$n.test $$p; \
		mkdir -p .gpu/src/$${p#./}; \
		if [ -d $$p/testdata ]; then cp -r $$p/testdata .gpu/src/$${p#./}/; fi; \
	done
	cp -r kernels .gpu/src/
	cp ../shared/models/stories260K.gguf .gpu/shared/models/
	.gpu/golem gen-model --shape tiny --type q8_0 --vocab ../shared/models/stories260K.gguf --seed 5 -o .gpu/shared/models/tiny-q8_0.gguf
	cp -L "$$(ldconfig -p | awk '/libvulkan.so.1 /{print $$NF; exit}')" .gpu/lib/libvulkan.so.1
	cp scripts/gpu-run.sh .gpu/run.sh
	cp scripts/torch-reference.py .gpu/
	@du -sh .gpu
