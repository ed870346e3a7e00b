// emu.h: the internals of golem's emulated CUDA driver (bin/libgolem-cuda-emu.so).
//
// kernel.cc runs one launch: every block in turn, the block's threads as
// cooperative fibers on the calling OS thread (a fiber runs until it reaches
// a barrier or a warp operation, or exits; then the next one runs), with the
// checks docs/cuda.md lists. driver.cc is the CUDA driver API on top.
#ifndef GOLEM_CUDA_EMU_H
#define GOLEM_CUDA_EMU_H

#include <stddef.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "golem.cuh"

namespace golem_emu {

// CUresult values the emulator returns (the driver API's numbers).
enum : int {
	kSuccess = 0,
	kInvalidValue = 1,
	kOutOfMemory = 2,
	kNotInitialized = 3,
	kNoDevice = 100,
	kInvalidDevice = 101,
	kInvalidImage = 200,
	kInvalidContext = 201,
	kNoBinaryForGPU = 209,
	kInvalidPTX = 218,
	kUnsupportedPTXVersion = 222,
	kInvalidHandle = 400,
	kNotFound = 500,
	kIllegalAddress = 700,
	kLaunchOutOfResources = 701,
	kIllegalInstruction = 715,
	kLaunchFailed = 719,
	kNotSupported = 801,
	kCaptureUnsupported = 900,
	kCaptureInvalidated = 901,
	kUnknown = 999,
};

// The NaN pattern fresh device and shared memory are filled with: a NaN as
// f32 (0x7ff77ff7), as each f16 and bf16 half (0x7ff7), an unlikely int.
constexpr uint32_t kPoison = 0x7ff77ff7u;
void poison(void* p, size_t n);

// Failure is the outcome of a failed launch: a CUresult and the message.
struct Failure {
	int code = kSuccess;
	std::string message;
};

// LaunchConfig is one kernel launch.
struct LaunchConfig {
	const KernelInfo* kernel;
	golem_uint3 grid, block;
	unsigned dynamic_shared;     // bytes (cuLaunchKernel's sharedMemBytes)
	unsigned max_dynamic_shared; // the function's limit (cuFuncSetAttribute)
	void* const* params;         // one pointer per parameter
	uint64_t number;             // launch number in the context, from 1
};

// run_launch runs every block of a launch; on failure it returns false and
// fills *f. Launches on different OS threads may run at the same time.
bool run_launch(const LaunchConfig& cfg, Failure* f);

// install_fault_handler installs the SIGSEGV/SIGBUS/SIGFPE handler (once).
void install_fault_handler();

// describe_address says where p lies relative to the device allocations
// ("12 bytes past the end of allocation #3 (4000 bytes at 0x...)").
std::string describe_address(uintptr_t p);

// format is snprintf into a std::string.
std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// find_kernel returns the registered kernel called name, or null.
const KernelInfo* find_kernel(const char* name);

}  // namespace golem_emu

#endif
