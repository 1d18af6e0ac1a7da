// What the CPU offers Octet's own kernels, capped the way oneDNN caps itself, so that one switch
// decides what runs where for both: the environment variable ONEDNN_MAX_CPU_ISA (or
// DNNL_MAX_CPU_ISA) with oneDNN's names (SSE41, AVX, AVX2, AVX2_VNNI, AVX512_CORE,
// AVX512_CORE_VNNI, AVX512_CORE_BF16, AVX512_CORE_AMX, ALL), read once per process as oneDNN
// reads it. A VNNI CPU capped at AVX2 runs exactly what an AVX2 CPU without VNNI runs.
#ifndef OCTET_ENGINE_RUNTIME_CPU_CPU_FEATURES_H_
#define OCTET_ENGINE_RUNTIME_CPU_CPU_FEATURES_H_

#include <cstdint>
#include <string>

namespace octet::cpu {

struct CpuFeatures {
  bool avx2 = false;    // AVX2 with FMA
  bool avx512 = false;  // AVX-512 F, BW, VL, DQ (oneDNN's avx512_core)
  // u8 x s8 dot products summed exactly in int32: AVX-512 VNNI or AVX-VNNI.
  bool vnni = false;
  // The cap's value as given ("AVX2"), "" without one.
  std::string cap;
  // "AVX-512 VNNI", "AVX-VNNI", "AVX-512", "AVX2" or "no AVX2", with ", capped at AVX2" when a
  // cap hides more.
  std::string Describe() const;
};

// The features of this process's CPU under the cap.
const CpuFeatures& Cpu();

// For tests: the features of a CPU whose oneDNN-style ISA bits (dnnl_cpu_isa_t) are `hardware`,
// under the cap `cap` ("" for none). INVALID names leave the CPU uncapped, as oneDNN does.
CpuFeatures CpuFeaturesOf(uint32_t hardware, const std::string& cap);

}  // namespace octet::cpu

#endif  // OCTET_ENGINE_RUNTIME_CPU_CPU_FEATURES_H_
