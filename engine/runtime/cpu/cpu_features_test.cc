#include "engine/runtime/cpu/cpu_features.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace octet::cpu {
namespace {

// oneDNN 2.6's ISA bits of three CPUs: AVX2 only, AVX-512 with AVX-512 VNNI and AVX-VNNI, and
// an AVX2 CPU with AVX-VNNI (Alder Lake's efficiency cores).
constexpr uint32_t kAvx2Cpu = 0x7, kXeon = 0x67 | 0x407, kAvxVnniCpu = 0x407;

TEST(CpuFeaturesTest, ReadsTheInstructionSetsAVnniCpuHas) {
  const CpuFeatures xeon = CpuFeaturesOf(kXeon, "");
  EXPECT_TRUE(xeon.avx2 && xeon.avx512 && xeon.vnni);
  EXPECT_EQ(xeon.Describe(), "AVX-512 VNNI");
  const CpuFeatures avx2 = CpuFeaturesOf(kAvx2Cpu, "");
  EXPECT_TRUE(avx2.avx2);
  EXPECT_FALSE(avx2.avx512 || avx2.vnni);
  EXPECT_EQ(avx2.Describe(), "AVX2");
  EXPECT_EQ(CpuFeaturesOf(kAvxVnniCpu, "").Describe(), "AVX-VNNI");
  EXPECT_EQ(CpuFeaturesOf(0x1, "").Describe(), "no AVX2");
}

TEST(CpuFeaturesTest, ACapHidesWhatOneDnnsCapHides) {
  // Capped at AVX2, a VNNI CPU is an AVX2 CPU without VNNI, for Octet's kernels as for oneDNN's.
  const CpuFeatures capped = CpuFeaturesOf(kXeon, "AVX2");
  EXPECT_TRUE(capped.avx2);
  EXPECT_FALSE(capped.avx512 || capped.vnni);
  EXPECT_EQ(capped.Describe(), "AVX2, capped at AVX2");
  // oneDNN's avx512_core does not include avx2_vnni: no VNNI at all.
  EXPECT_FALSE(CpuFeaturesOf(kXeon, "avx512_core").vnni);
  EXPECT_TRUE(CpuFeaturesOf(kXeon, "AVX2_VNNI").vnni);
  EXPECT_FALSE(CpuFeaturesOf(kXeon, "AVX2_VNNI").avx512);
  // A cap above what the CPU has, or an unknown name, hides nothing and is not reported.
  EXPECT_EQ(CpuFeaturesOf(kAvx2Cpu, "AVX512_CORE_VNNI").cap, "");
  EXPECT_EQ(CpuFeaturesOf(kXeon, "PENTIUM").Describe(), "AVX-512 VNNI");
}

TEST(CpuFeaturesTest, ThisProcessSeesItsCapIfAny) {
  const CpuFeatures& cpu = Cpu();
  const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");
  if (cap != nullptr && std::string(cap) == "AVX2") {
    EXPECT_FALSE(cpu.vnni || cpu.avx512);
  }
  EXPECT_FALSE(cpu.Describe().empty());
}

}  // namespace
}  // namespace octet::cpu
