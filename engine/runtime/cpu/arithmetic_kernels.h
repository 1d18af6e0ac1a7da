// Octet's element-wise arithmetic in plain C++: numpy-broadcasting binary ops for every element
// type, variadic Sum/Mean/Max/Min, Pow, and the int8 Add of operands of different shapes. The
// binary ops' oneDNN implementations are in onednn/binary_kernel.cc, tried first.
#ifndef OCTET_ENGINE_RUNTIME_CPU_ARITHMETIC_KERNELS_H_
#define OCTET_ENGINE_RUNTIME_CPU_ARITHMETIC_KERNELS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/runtime/op_definition.h"

namespace octet::cpu {

enum class BinaryOp { kAdd, kSub, kMul, kDiv, kMax, kMin };

inline bool Commutes(BinaryOp op) { return op != BinaryOp::kSub && op != BinaryOp::kDiv; }

// INVALID_ARGUMENT tagged kElementType unless every input of Sum, Mean, Max or Min is float32,
// float64, int32 or int64 (1 to 64 inputs).
absl::Status CheckVariadic(const CheckContext& context);

// y = op(a, b) for inputs 0 and 1 of one element type, with numpy broadcasting.
absl::StatusOr<BuiltKernel> BuildBroadcastBinary(const KernelBuildContext& context, BinaryOp op);

// op (kAdd for Sum and Mean, kMax, kMin) over every input, broadcast to one shape; divided by the
// input count with `mean`.
absl::StatusOr<BuiltKernel> BuildVariadic(const KernelBuildContext& context, BinaryOp op,
                                          bool mean);

// INVALID_ARGUMENT naming the node unless an ai.octet.Int8Add's scales and zero points are scalar
// constants, its operands u8/s8 (plain, or of one shape in one layout) and its activation ""
// or Relu.
absl::Status CheckInt8AddOperands(const KernelBuildContext& context);

// Int8Add of operands of different shapes: each element dequantized, added and requantized with
// exactly the float simulation's arithmetic.
absl::StatusOr<BuiltKernel> BuildInt8BroadcastAdd(const KernelBuildContext& context);

// Blocked inputs are taken when both are float32 of the same rank-4 shape (no broadcasting).
bool SameShapeAndLayout(const TensorDesc& a, const TensorDesc& b);

}  // namespace octet::cpu

#endif  // OCTET_ENGINE_RUNTIME_CPU_ARITHMETIC_KERNELS_H_
