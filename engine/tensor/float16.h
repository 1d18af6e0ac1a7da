// IEEE 754 binary16 ("half", ONNX FLOAT16) to and from float32. Every half is a float exactly;
// FloatToHalf rounds to nearest, ties to even, as ONNX's Cast and F16C's VCVTPS2PH do, overflowing
// to infinity and keeping NaN a NaN.
#ifndef OCTET_ENGINE_TENSOR_FLOAT16_H_
#define OCTET_ENGINE_TENSOR_FLOAT16_H_

#include <cstdint>

#include "engine/tensor/tensor.h"

namespace octet {

float HalfToFloat(uint16_t half);
uint16_t FloatToHalf(float value);

// A float16 tensor's values as a float32 tensor of the same shape.
Tensor HalfTensorToFloat(const Tensor& half);

}  // namespace octet

#endif  // OCTET_ENGINE_TENSOR_FLOAT16_H_
