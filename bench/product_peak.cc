// What one core's vector units can sum per second, for the three ways an AVX2 CPU without VNNI
// multiplies in Octet's runtime, with operands in registers (no loads, no loop overhead worth
// counting): the ceilings its kernels are measured against.
//   octet_product_peak [SECONDS]      (default 1 per instruction mix)
// Prints one JSON line per mix: GMAC/s for one core (the best of 3 timings).
//  - "vpmaddwd": 16-bit products summed in pairs into int32 (VPMADDWD) and added to an
//    accumulator (VPADDD): 16 multiply-adds per pair of instructions, exact for any 8-bit operands
//    (Octet's exact int8 product and depthwise kernel).
//  - "vpmaddubsw": u8 x s8 products summed in pairs into int16 (VPMADDUBSW, saturating), the pairs
//    summed into int32 by VPMADDWD by ones, then VPADDD: 32 per three instructions, exact within
//    7-bit weights (oneDNN 2.6's AVX2 int8 kernels).
//  - "fma": float fused multiply-adds (VFMADD231PS): 8 per instruction (float convolutions,
//    before Winograd's savings).
// Eight independent accumulators per mix, more than any of the latencies needs.
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr int64_t kIterations = 1 << 20;  // per timed call; 8 (or 4) multiplying instructions each

__attribute__((target("avx2,fma"), noinline)) void Vpmaddwd(int64_t iterations, __m256i* sink) {
  __m256i c0 = _mm256_set1_epi32(1), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  const __m256i x = _mm256_set1_epi16(3), w = _mm256_set1_epi16(5);
  __m256i t0, t1, t2, t3;
  for (int64_t i = 0; i < iterations; ++i) {
    asm volatile(
        "vpmaddwd %[w], %[x], %[t0]\n\tvpaddd %[t0], %[c0], %[c0]\n\t"
        "vpmaddwd %[w], %[x], %[t1]\n\tvpaddd %[t1], %[c1], %[c1]\n\t"
        "vpmaddwd %[w], %[x], %[t2]\n\tvpaddd %[t2], %[c2], %[c2]\n\t"
        "vpmaddwd %[w], %[x], %[t3]\n\tvpaddd %[t3], %[c3], %[c3]\n\t"
        "vpmaddwd %[w], %[x], %[t0]\n\tvpaddd %[t0], %[c4], %[c4]\n\t"
        "vpmaddwd %[w], %[x], %[t1]\n\tvpaddd %[t1], %[c5], %[c5]\n\t"
        "vpmaddwd %[w], %[x], %[t2]\n\tvpaddd %[t2], %[c6], %[c6]\n\t"
        "vpmaddwd %[w], %[x], %[t3]\n\tvpaddd %[t3], %[c7], %[c7]\n\t"
        : [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3), [c4] "+x"(c4), [c5] "+x"(c5),
          [c6] "+x"(c6), [c7] "+x"(c7), [t0] "=&x"(t0), [t1] "=&x"(t1), [t2] "=&x"(t2),
          [t3] "=&x"(t3)
        : [w] "x"(w), [x] "x"(x));
  }
  *sink = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                           _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)));
}

__attribute__((target("avx2,fma"), noinline)) void Vpmaddubsw(int64_t iterations, __m256i* sink) {
  __m256i c0 = _mm256_set1_epi32(1), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  const __m256i x = _mm256_set1_epi8(3), w = _mm256_set1_epi8(5), ones = _mm256_set1_epi16(1);
  __m256i t0, t1, t2, t3;
  for (int64_t i = 0; i < iterations; ++i) {
    asm volatile(
        "vpmaddubsw %[w], %[x], %[t0]\n\t"
        "vpmaddwd %[o], %[t0], %[t0]\n\t"
        "vpaddd %[t0], %[c0], %[c0]\n\t"
        "vpmaddubsw %[w], %[x], %[t1]\n\t"
        "vpmaddwd %[o], %[t1], %[t1]\n\t"
        "vpaddd %[t1], %[c1], %[c1]\n\t"
        "vpmaddubsw %[w], %[x], %[t2]\n\t"
        "vpmaddwd %[o], %[t2], %[t2]\n\t"
        "vpaddd %[t2], %[c2], %[c2]\n\t"
        "vpmaddubsw %[w], %[x], %[t3]\n\t"
        "vpmaddwd %[o], %[t3], %[t3]\n\t"
        "vpaddd %[t3], %[c3], %[c3]\n\t"
        "vpmaddubsw %[w], %[x], %[t0]\n\t"
        "vpmaddwd %[o], %[t0], %[t0]\n\t"
        "vpaddd %[t0], %[c4], %[c4]\n\t"
        "vpmaddubsw %[w], %[x], %[t1]\n\t"
        "vpmaddwd %[o], %[t1], %[t1]\n\t"
        "vpaddd %[t1], %[c5], %[c5]\n\t"
        "vpmaddubsw %[w], %[x], %[t2]\n\t"
        "vpmaddwd %[o], %[t2], %[t2]\n\t"
        "vpaddd %[t2], %[c6], %[c6]\n\t"
        "vpmaddubsw %[w], %[x], %[t3]\n\t"
        "vpmaddwd %[o], %[t3], %[t3]\n\t"
        "vpaddd %[t3], %[c7], %[c7]\n\t"
        : [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3), [c4] "+x"(c4), [c5] "+x"(c5),
          [c6] "+x"(c6), [c7] "+x"(c7), [t0] "=&x"(t0), [t1] "=&x"(t1), [t2] "=&x"(t2),
          [t3] "=&x"(t3)
        : [w] "x"(w), [x] "x"(x), [o] "x"(ones));
  }
  *sink = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(c0, c1), _mm256_add_epi32(c2, c3)),
                           _mm256_add_epi32(_mm256_add_epi32(c4, c5), _mm256_add_epi32(c6, c7)));
}

__attribute__((target("avx2,fma"), noinline)) void Fma(int64_t iterations, __m256* sink) {
  __m256 c0 = _mm256_set1_ps(1.0f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  const __m256 x = _mm256_set1_ps(0.999f), w = _mm256_set1_ps(1.0001f);
  for (int64_t i = 0; i < iterations; ++i) {
    asm volatile(
        "vfmadd231ps %[w], %[x], %[c0]\n\tvfmadd231ps %[w], %[x], %[c1]\n\t"
        "vfmadd231ps %[w], %[x], %[c2]\n\tvfmadd231ps %[w], %[x], %[c3]\n\t"
        "vfmadd231ps %[w], %[x], %[c4]\n\tvfmadd231ps %[w], %[x], %[c5]\n\t"
        "vfmadd231ps %[w], %[x], %[c6]\n\tvfmadd231ps %[w], %[x], %[c7]\n\t"
        : [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3), [c4] "+x"(c4), [c5] "+x"(c5),
          [c6] "+x"(c6), [c7] "+x"(c7)
        : [w] "x"(w), [x] "x"(x));
  }
  *sink = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                        _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
}

// Calls `run` for about `seconds`, three times; the best rate in GMAC/s.
template <typename Run>
double Best(double seconds, double macs_per_iteration, Run run) {
  double best = 0;
  for (int timing = 0; timing < 3; ++timing) {
    int64_t iterations = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    while (elapsed < seconds) {
      run(kIterations);
      iterations += kIterations;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    best = std::max(best, static_cast<double>(iterations) * macs_per_iteration / elapsed / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  if (argc > 2 || !(seconds > 0)) {
    std::fprintf(stderr, "usage: octet_product_peak [SECONDS]\n");
    return 2;
  }
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    std::fprintf(stderr, "octet_product_peak: this CPU has no AVX2 and FMA\n");
    return 1;
  }
  __m256i integer_sink;
  __m256 float_sink;
  // Multiply-adds per iteration: 8 instructions of 16 (VPMADDWD: 8 lanes x 2), of 32
  // (VPMADDUBSW: 16 pairs of bytes), of 8 (FMA).
  const double wd = Best(seconds, 8 * 16, [&](int64_t n) { Vpmaddwd(n, &integer_sink); });
  const double ubsw = Best(seconds, 8 * 32, [&](int64_t n) { Vpmaddubsw(n, &integer_sink); });
  const double fma = Best(seconds, 8 * 8, [&](int64_t n) { Fma(n, &float_sink); });
  std::printf("{\"mix\": \"vpmaddwd\", \"gmacs_per_s_per_core\": %.1f}\n", wd);
  std::printf("{\"mix\": \"vpmaddubsw\", \"gmacs_per_s_per_core\": %.1f}\n", ubsw);
  std::printf("{\"mix\": \"fma\", \"gmacs_per_s_per_core\": %.1f}\n", fma);
  return 0;
}
