// kernel_unit.cc: one kernel file compiled as host code for the emulator.
// make cuda-emu compiles this file once per kernels/cuda/**/*.cu with
// -DGOLEM_EMU_KERNEL_SOURCE='"path/to/file.cu"'. The kernel file's text is
// put in an unnamed namespace, so helpers of the same name in two kernel
// files do not collide; its GOLEM_KERNEL registrations run at load time.
#include "golem.cuh"

namespace {
#include GOLEM_EMU_KERNEL_SOURCE
}  // namespace
