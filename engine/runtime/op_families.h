// The op tables of each kernel family, gathered by kernel_registry.cc. One function per file
// under onednn/ and cpu/.
#ifndef OCTET_ENGINE_RUNTIME_OP_FAMILIES_H_
#define OCTET_ENGINE_RUNTIME_OP_FAMILIES_H_

#include <vector>

#include "engine/runtime/op_definition.h"

namespace octet {

std::vector<OpDefinition> ConvOps();
std::vector<OpDefinition> Int8ConvOps();
std::vector<OpDefinition> MatMulOps();
std::vector<OpDefinition> EltwiseOps();
std::vector<OpDefinition> BinaryOps();
std::vector<OpDefinition> ArithmeticOps();
std::vector<OpDefinition> ShapeOps();
std::vector<OpDefinition> PoolingOps();
std::vector<OpDefinition> SoftmaxOps();
std::vector<OpDefinition> DataMovementOps();
std::vector<OpDefinition> NormalizationOps();
std::vector<OpDefinition> ReduceOps();
std::vector<OpDefinition> ConvTransposeOps();
std::vector<OpDefinition> ResizeOps();
std::vector<OpDefinition> QuantizeOps();
std::vector<OpDefinition> Int8ConcatOps();
std::vector<OpDefinition> LayoutOps();

}  // namespace octet

#endif  // OCTET_ENGINE_RUNTIME_OP_FAMILIES_H_
