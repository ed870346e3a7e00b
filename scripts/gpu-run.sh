#!/usr/bin/env bash
# Runs golem's GPU checks from the folder `make gpu-bundle` builds (.gpu/),
# on a machine with a GPU driver but no Go, no root and no network:
#
#   bash .gpu/run.sh
#
# Every step is bounded (timeout -k) and the whole run ends within
# GOLEM_GPU_BUDGET seconds (default 480). Tests run with CI semantics: a
# missing device or file fails. Results go to $OUT (or ./gpu-results):
#   summary.txt      one line per step: status, seconds, last line of its log
#   log.txt          every step's output, in order
#   results.tar.gz   every step's log and result file (JSON, plots)
# Here, without a GPU, GOLEM_CUDA_LIBRARY=bin/libgolem-cuda-emu.so and Mesa's
# lavapipe run the same script end to end.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$PWD/gpu-results}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/logs" "$work/files"
export CI=true GOLEM_SHARED=$here/shared PATH=$here:$PATH
# The Vulkan loader travels in lib/: GPU machines often have the NVIDIA ICD
# but not libvulkan.so.1, and installing it would need root.
export LD_LIBRARY_PATH=$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
budget=${GOLEM_GPU_BUDGET:-480}
start=$SECONDS
failed=0
summary=()

# step NAME LIMIT COMMAND...: runs COMMAND for at most LIMIT seconds (less
# when the budget is nearly spent), output in logs/NAME.log.
step() {
	local name=$1 limit=$2
	shift 2
	local left=$((budget - (SECONDS - start) - 15))
	if ((left < 10)); then
		summary+=("$(printf '%-16s %-7s %4ss  %s' "$name" SKIPPED 0 "no time left in the ${budget}s budget")")
		failed=1
		return
	fi
	((limit > left)) && limit=$left
	local t0=$SECONDS
	timeout -k 10 "$limit" "$@" >"$work/logs/$name.log" 2>&1
	local rc=$?
	local status=ok
	if ((rc == 124 || rc == 137)); then
		status=TIMEOUT
		failed=1
	elif ((rc != 0)); then
		status="FAIL($rc)"
		failed=1
	fi
	summary+=("$(printf '%-16s %-7s %4ss  %s' "$name" "$status" "$((SECONDS - t0))" "$(tail -n 1 "$work/logs/$name.log" | cut -c1-100)")")
	{
		echo "===== $name (exit $rc, $((SECONDS - t0)) s): $*"
		cat "$work/logs/$name.log"
	} >>"$out/log.txt"
}

# gotest NAME: runs the test binary NAME.test (backend_cuda.test) in its
# package's folder under src/ (backend/cuda, with its testdata and the
# kernel sources at the same relative places as in the repository), as go
# test would.
gotest() {
	local name=$1 limit=$2
	step "test-$name" "$limit" bash -c 'cd "$1" && exec "$2" -test.v -test.timeout "$3s"' _ \
		"$here/src/${name//_//}" "$here/$name.test" "$((limit - 5))"
}

: >"$out/log.txt"
step devices 30 golem devices
golem devices --format json >"$work/files/devices.json" 2>&1
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >"$work/files/nvidia-smi.csv" 2>&1 || true

# The available CUDA and Vulkan devices (columns: DEVICE RANK TYPE STATUS ...).
gpus=$(golem devices | awk '$1 ~ /^(cuda|vulkan):/ && $4 == "available" {print $1}' | paste -sd, -)
echo "devices checked: ${gpus:-none}" | tee -a "$out/log.txt"

# Correctness first: each device against the float64 CPU reference.
step parity-ops 90 golem parity ops --device "${gpus:-cuda:0}" --format table

# Vulkan and CUDA side by side on one model, early so that the budget always
# leaves time for it: prefill (pp512) and decode (tg128) tokens per second
# per device in one table (production runs: no per-op timing), then one
# profiled repetition whose per-op device times of the last prefill and
# decode step go to the log.
# GOLEM_GPU_QUICK=1 (a software device: lavapipe, the CUDA emulator) takes
# the tiny model and short tests instead.
shape=llama-3.2-1b pp=512 tg=128
if [ -n "${GOLEM_GPU_QUICK:-}" ]; then
	shape=tiny pp=64 tg=16
fi
if [ -n "$gpus" ]; then
	step gen-model 60 golem gen-model --shape "$shape" --type q8_0 -o "$work/model-q8_0.gguf"
	step bench-model 90 golem bench model -m "$work/model-q8_0.gguf" --device "$gpus" -p "$pp" -n "$tg" -r 3 -o "$work/files/model.json"
	step profile-model 60 golem bench model -m "$work/model-q8_0.gguf" --device "$gpus" -p "$pp" -n "$tg" -r 1 --profile
fi
for d in ${gpus//,/ }; do
	step "parity-model-${d//:/}" 45 golem parity model -m "$here/shared/models/stories260K.gguf" --device "$d" --device cpu --layers
	step "parity-q8-${d//:/}" 45 golem parity model -m "$here/shared/models/tiny-q8_0.gguf" --device "$d" --device cpu
	step "run-${d//:/}" 30 golem run -m "$here/shared/models/stories260K.gguf" -p "Once upon a time" -n 196 -c 256 --temp 0 --device "$d"
done
for t in "$here"/*.test; do
	[ -f "$t" ] || continue
	gotest "$(basename "$t" .test)" 120
done

# The CUDA fast path's targets (docs/perf.md, "CUDA: targets and floors"),
# measured before anything else that takes time, beside PyTorch on the
# same GPU: decode tokens/s of the Llama-3.2-1B shape in F16, Q8_0 and
# Q4_0 (bytes per token ÷ copy bandwidth), prefill and decode attention
# against SDPA, and the bf16 GEMM against cuBLAS (torch-reference.py).
cuda=$(golem devices | awk '$1 ~ /^cuda:/ && $4 == "available" {print $1; exit}')
if [ -n "$cuda" ] && [ -z "${GOLEM_GPU_QUICK:-}" ]; then
	step target-attn 60 golem bench attention --device "$cuda" --reps 5 \
		--shapes "prefill:b1,h32,kv32,d128,s4096,causal;decode:b1,h32,kv8,d128,kv32768" -o "$work/files/target-attention.json"
	step target-matmul 45 golem bench matmul --device "$cuda" --types bf16,f16,q8_0,q4_0 --reps 5 -o "$work/files/target-matmul.json"
	step target-decode 150 golem bench model --shape llama-3.2-1b --type f16,q8_0,q4_0 --kv-type f16 --device "$cuda" -p 512 -n 64 -r 2 \
		-o "$work/files/target-decode.json"
fi
if python3 -c 'import torch; assert torch.cuda.is_available()' >/dev/null 2>&1; then
	step torch-reference 60 python3 "$here/torch-reference.py" "$work/files/torch.json"
else
	echo "torch-reference: skipped (no python3 with CUDA torch)" | tee -a "$out/log.txt"
fi

# Then speed, on the GPUs only (the CPU is not benchmarked on GPU-sized
# shapes here; its float64 reference checks run on reduced shapes).
# GOLEM_GPU_QUICK=1 (for a software device: lavapipe, the CUDA emulator)
# takes the quick attention and matmul shapes and the tiny model instead.
attn=(--shapes default) mm=()
if [ -n "${GOLEM_GPU_QUICK:-}" ]; then
	attn=(--shapes "prefill:b1,h8,kv2,d64,s128,causal;decode:b1,h8,kv2,d64,kv512")
	mm=(--size 256 --types f16,q8_0)
fi
if [ -n "$gpus" ]; then
	step bench-attention 90 golem bench attention --device "$gpus" "${attn[@]}" --reps 5 -o "$work/files/attention.json" --plot "$work/files/roofline.png"
	step bench-matmul 60 golem bench matmul --device "$gpus" "${mm[@]}" --reps 5 -o "$work/files/matmul.json"
fi

cp "$work"/logs/*.log "$work/files/" 2>/dev/null
tar -C "$work/files" -czf "$out/results.tar.gz" .
{
	echo "golem GPU check: $(golem version | head -n 1), $((SECONDS - start)) s of a ${budget} s budget"
	printf '%s\n' "${summary[@]}"
} | tee "$out/summary.txt"
exit $failed
