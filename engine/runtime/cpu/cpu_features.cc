#include "engine/runtime/cpu/cpu_features.h"

#include <cpuid.h>

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace octet::cpu {
namespace {

// oneDNN 2.6's dnnl_cpu_isa_t: each ISA is the bits of those below it plus its own.
constexpr uint32_t kSse41 = 0x1, kAvx = 0x3, kAvx2 = 0x7, kAvx512Core = 0x27,
                   kAvx512CoreVnni = 0x67, kAvx512CoreBf16 = 0xe7, kAvx512CoreAmx = 0x3e7,
                   kAvx2Vnni = 0x407, kAll = 0xffffffff;

bool Has(uint32_t bits, uint32_t isa) { return (bits & isa) == isa; }

// The ISA bits of this CPU, from CPUID (and XGETBV: the OS must save the wider registers).
uint32_t HardwareBits() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return 0;
  __cpuid(1, eax, ebx, ecx, edx);
  const bool sse41 = (ecx >> 19) & 1, avx = (ecx >> 28) & 1, fma = (ecx >> 12) & 1;
  const bool osxsave = (ecx >> 27) & 1;
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo = 0, hi = 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  const bool ymm_state = (xcr0 & 0x6) == 0x6, zmm_state = (xcr0 & 0xe6) == 0xe6;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const unsigned subleaves = eax;
  const bool avx2 = (ebx >> 5) & 1;
  const bool avx512 = ((ebx >> 16) & 1) && ((ebx >> 17) & 1) && ((ebx >> 30) & 1) &&
                      ((ebx >> 31) & 1);  // F, DQ, BW, VL
  const bool avx512_vnni = (ecx >> 11) & 1;
  bool avx_vnni = false;
  if (subleaves >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    avx_vnni = (eax >> 4) & 1;
  }
  uint32_t bits = 0;
  if (sse41) bits |= kSse41;
  if (sse41 && avx && ymm_state) bits |= kAvx;
  if ((bits & kAvx) == kAvx && avx2 && fma) bits |= kAvx2;
  if (Has(bits, kAvx2) && avx512 && zmm_state) bits |= kAvx512Core;
  if (Has(bits, kAvx512Core) && avx512_vnni) bits |= kAvx512CoreVnni;
  if (Has(bits, kAvx2) && avx_vnni) bits |= kAvx2Vnni;
  return bits;
}

// The bits a cap allows; kAll for none or an unknown name.
uint32_t CapBits(const std::string& cap) {
  const std::string name = absl::AsciiStrToUpper(cap);
  if (name == "SSE41") return kSse41;
  if (name == "AVX") return kAvx;
  if (name == "AVX2") return kAvx2;
  if (name == "AVX2_VNNI") return kAvx2Vnni;
  if (name == "AVX512_CORE") return kAvx512Core;
  if (name == "AVX512_CORE_VNNI") return kAvx512CoreVnni;
  if (name == "AVX512_CORE_BF16") return kAvx512CoreBf16;
  if (name == "AVX512_CORE_AMX") return kAvx512CoreAmx;
  return kAll;
}

}  // namespace

CpuFeatures CpuFeaturesOf(uint32_t hardware, const std::string& cap) {
  const uint32_t bits = hardware & CapBits(cap);
  CpuFeatures features;
  features.avx2 = Has(bits, kAvx2);
  features.avx512 = Has(bits, kAvx512Core);
  features.vnni = Has(bits, kAvx512CoreVnni) || Has(bits, kAvx2Vnni);
  if (bits != hardware) features.cap = cap;
  return features;
}

std::string CpuFeatures::Describe() const {
  std::string isa = "no AVX2";
  if (avx2) isa = "AVX2";
  if (avx512) isa = "AVX-512";
  if (vnni) isa = avx512 ? "AVX-512 VNNI" : "AVX-VNNI";
  return cap.empty() ? isa : absl::StrCat(isa, ", capped at ", cap);
}

const CpuFeatures& Cpu() {
  static const CpuFeatures* const features = [] {
    const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");
    if (cap == nullptr) cap = std::getenv("DNNL_MAX_CPU_ISA");
    return new CpuFeatures(CpuFeaturesOf(HardwareBits(), cap == nullptr ? "" : cap));
  }();
  return *features;
}

}  // namespace octet::cpu
