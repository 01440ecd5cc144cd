// The packed weight-stationary kernel against cblas_sgemm (through ht::gemm) on odd shapes:
// rows that are not a multiple of the 8-row tile, columns that leave a partial 16-column panel
// and a partial 3-panel group, W and W^T, beta 0 and 1, row strides wider than the matrices.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "engine/blas.h"
#include "engine/packed_gemm.h"
#include "tests/check.h"

using namespace ht;

TEST_CASE("packed_gemm agrees with cblas_sgemm on odd shapes, W and W^T, beta 0 and 1") {
  const std::string native = packed_gemm_native() ? "yes" : "no (BLAS fallback)";
  MESSAGE("vector kernel (AVX-512 or AVX2) compiled in: " << native);
  struct Shape3 { i64 M, K, N; };
  const Shape3 shapes[] = {{1, 1, 1}, {1, 7, 5}, {3, 5, 17}, {8, 16, 48}, {9, 13, 49}, {32, 100, 400}, {17, 33, 95}, {64, 3, 130}, {5, 257, 33}, {7, 40, 64}, {2, 9, 24}, {13, 40, 70}};
  Rng rng(3);
  for (const auto& s : shapes)
    for (bool trans : {false, true})
      for (float beta : {0.0f, 1.0f}) {
        const i64 lda = s.K + 3, ldc = s.N + 5, ldw = (trans ? s.K : s.N) + 2;
        std::vector<float> A(static_cast<std::size_t>(s.M * lda)), W(static_cast<std::size_t>((trans ? s.N : s.K) * ldw)),
            C(static_cast<std::size_t>(s.M * ldc)), E;
        for (auto& v : A) v = float(rng.uniform(-1, 1));
        for (auto& v : W) v = float(rng.uniform(-1, 1));
        for (auto& v : C) v = float(rng.uniform(-1, 1));
        E = C;
        PackedMatrix p;
        p.pack(W.data(), s.K, s.N, ldw, trans);
        packed_gemm(s.M, A.data(), lda, p, beta, C.data(), ldc);
        gemm(false, trans, s.M, s.N, s.K, 1.0f, A.data(), lda, W.data(), ldw, beta, E.data(), ldc);
        Tensor a = Tensor::wrap(C.data(), {i64(C.size())}, DType::F32), e = Tensor::wrap(E.data(), {i64(E.size())}, DType::F32);
        CHECK_MESSAGE(test::check_close("packed_gemm", a, e, 1e-5, 1e-5),
                      "M " << s.M << " K " << s.K << " N " << s.N << (trans ? " W^T" : " W") << " beta " << beta);
        // the padding between rows of C (ldc > N) is left alone
        for (i64 r = 0; r < s.M; ++r)
          for (i64 c = s.N; c < ldc; ++c) CHECK(C[std::size_t(r * ldc + c)] == E[std::size_t(r * ldc + c)]);
      }
}

TEST_CASE("a PackedMatrix is repacked in place for a new weight and refuses an empty one") {
  PackedMatrix p;
  std::vector<float> w1(6, 1.0f), w2(6, 2.0f), a(2, 1.0f), c(3, 0.0f);
  p.pack(w1.data(), 2, 3, 3, false);
  packed_gemm(1, a.data(), 2, p, 0.0f, c.data(), 3);
  CHECK(c[0] == 2.0f);
  p.pack(w2.data(), 2, 3, 3, false);
  packed_gemm(1, a.data(), 2, p, 0.0f, c.data(), 3);
  CHECK(c[2] == 4.0f);
  CHECK_THROWS(p.pack(w1.data(), 0, 3, 3, false));
  CHECK_THROWS_WITH(packed_gemm(1, a.data(), 2, p, 0.5f, c.data(), 3), doctest::Contains("beta must be 0 or 1"));
}

TEST_CASE("OpenBLAS's AVX-512 kernels are chosen where it loaded its AVX2 ones on an AVX-512 CPU, and only there") {
  CHECK(should_select_avx512_blas(nullptr, nullptr, "Haswell", true));
  CHECK(should_select_avx512_blas(nullptr, nullptr, "Zen", true));  // 0.3.21 on a Zen 4
  CHECK(should_select_avx512_blas(nullptr, "", "Zen", true));
  CHECK_FALSE(should_select_avx512_blas(nullptr, nullptr, "Haswell", false));    // no AVX-512
  CHECK_FALSE(should_select_avx512_blas(nullptr, nullptr, "SkylakeX", true));    // already wide
  CHECK_FALSE(should_select_avx512_blas(nullptr, nullptr, "Cooperlake", true));
  CHECK_FALSE(should_select_avx512_blas("Haswell", nullptr, "Haswell", true));   // the user's choice
  CHECK_FALSE(should_select_avx512_blas("SkylakeX", nullptr, "Haswell", true));  // our re-exec, if it failed
  CHECK_FALSE(should_select_avx512_blas(nullptr, "keep", "Haswell", true));
  CHECK_FALSE(should_select_avx512_blas(nullptr, nullptr, nullptr, true));
}

TEST_CASE("hypertrain --version names the OpenBLAS kernels, AVX-512 ones on an AVX-512 CPU unless the user chose") {
  const std::string bin = (std::filesystem::canonical("/proc/self/exe").parent_path() / "hypertrain").string();
  auto version = [&](const std::string& env) {
    std::string out;
    std::FILE* p = ::popen((env + " " + bin + " --version").c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[512];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    CHECK(::pclose(p) == 0);
    const auto at = out.find("OpenBLAS kernels: ");
    REQUIRE(at != std::string::npos);
    return out.substr(at + 18, out.find('\n', at) - at - 18);
  };
  CHECK(version("env OPENBLAS_CORETYPE=Haswell") == "Haswell");
  const std::string chosen = version("env -u OPENBLAS_CORETYPE -u HYPERTRAIN_BLAS_CORE");
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
  MESSAGE("OpenBLAS kernels with OPENBLAS_CORETYPE unset: " << chosen << " (CPU AVX-512: " << avx512 << ")");
  if (avx512) CHECK((chosen != "Haswell" && chosen != "Zen"));
}
