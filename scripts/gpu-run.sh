#!/usr/bin/env bash
# Runs golem's GPU checks on a machine with a GPU driver but no Go, from the
# folder `make gpu-bundle` builds (.gpu/). Usage: bash .gpu/run.sh
# Every log goes to $OUT (or ./gpu-results); a summary table is printed last.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-$PWD/gpu-results}
mkdir -p "$out"
export GOLEM_SHARED=$here/shared PATH=$here:$PATH
cd "$here"

# The Vulkan loader: the NVIDIA ICD is often installed without it.
if ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
	for deb in "$here"/libvulkan1_*.deb; do [ -f "$deb" ] && dpkg -x "$deb" / ; done
	ldconfig
fi

summary=()
step() { # step NAME TIMEOUT_S COMMAND...
	local name=$1 limit=$2; shift 2
	local t0=$SECONDS
	timeout "$limit" "$@" >"$out/$name.log" 2>&1
	local rc=$?
	summary+=("$(printf '%-22s rc=%-3s %4ss  %s' "$name" "$rc" "$((SECONDS - t0))" "$(tail -n 1 "$out/$name.log" | cut -c1-90)")")
}

step devices 60 golem devices
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >"$out/nvidia-smi.log" 2>&1 || true
# A test binary runs in its package's folder of the repository copy (the
# bundle lies in the repository root), as go test would run it.
repo=$(dirname "$here")
for t in "$here"/*.test; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .test)
	pkgdir=$repo/${name//_//}
	step "$name" 300 bash -c 'cd "$1" && shift && exec "$@"' _ "$pkgdir" "$t" -test.v -test.timeout 280s
done
step parity-ops 120 golem parity ops --short
step parity-model 120 golem parity model -m shared/models/stories260K.gguf --device auto --device cpu --layers
step bench-attn 240 golem bench attention --format md -o "$out/attention.json" --plot "$out/roofline.png"

printf '\n%s\n' "golem GPU check summary (logs in $out):"
printf '%s\n' "${summary[@]}" | tee "$out/summary.txt"
