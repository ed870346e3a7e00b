// Package gpu is the GPU program layer: what golem's GPU backends (Vulkan,
// CUDA) share between a graph and their kernels, written once and generic
// over the few types in which the backends differ. It imports no cgo and
// no device API; docs/architecture.md ("GPU program layer") describes the
// contract.
//
// A backend built on the layer does this:
//
//   - It describes its device with a type D (Vulkan: *deviceInfo) and keeps
//     a Registry[D] of every op it implements: one or more Variants per
//     op, each with an optional availability check (a device feature), an
//     optional support check (a node the kernel cannot take) and a launch
//     function. Registry.Validate and Registry.Supports implement
//     backend.Backend.Supports; Registry.Variants and Registry.Find
//     implement backend.VariantCompiler.
//   - Compile calls Prepare[B] (B: the backend's buffer type), the compile
//     prologue: every node validated, the graph topological, outputs and
//     storage checked, the intermediates planned in one arena
//     (graph.PlanMemory), leaves and outputs marked for the caller to bind.
//     A Compiler[D] then runs each compute node's variant, whose launch
//     function describes launches (Compiler.Launch): a kernel name, its
//     arguments (tensors, windows of tensors, program regions), its 32-bit
//     parameter words (values, or an argument's offset in units that only
//     binding resolves), kernel constants, the workgroup size and the
//     grid. The backend's finish function checks each launch against the
//     device and makes its kernel object (a pipeline, a CUfunction). The
//     result is a LaunchList: launches in execution order, status slots,
//     scratch sizes and constant data. Program.SetLaunches lays out the
//     program's regions.
//   - Bind checks the node (Program.CheckBindable), the buffer (the
//     backend: its type, its owner, not freed), then the range and the
//     alignment (Program.Bind).
//   - Run checks every binding (Program.CheckBound), resolves each
//     argument with Program.Place (which memory, which bytes, where its
//     index 0 is) into what the API binds (a descriptor, a pointer),
//     resolves offset words (Word.Resolve), runs the launches, turns the
//     status region into an error naming the node (LaunchList.CheckStatus)
//     and stores per-node times (Program.SetTimings, LaunchList.NodeEnds).
//
// The backend keeps its kernel objects, how arguments resolve into API
// bindings, memory, and recording and running; nothing here is safe for
// concurrent use, the backend serialises (Vulkan holds its backend mutex).
package gpu
