// The packed weight-stationary kernel against cblas_sgemm (through ht::gemm) on odd shapes:
// rows that are not a multiple of the 8-row tile, columns that leave a partial 16-column panel
// and a partial 3-panel group, W and W^T, beta 0 and 1, row strides wider than the matrices.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "engine/blas.h"
#include "engine/packed_gemm.h"
#include "tests/check.h"
#include "tests/faults.h"

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

TEST_CASE("the OpenBLAS environment: AVX-512 kernels where it loaded AVX2 ones on an AVX-512 CPU, a short spin, the user's settings kept") {
  auto core = [](const char* env_core, const char* env_keep, const char* loaded, bool avx512) {
    const char* c = plan_blas_environment(env_core, "28", env_keep, loaded, avx512).coretype;
    return std::string(c ? c : "-");
  };
  CHECK(core(nullptr, nullptr, "Haswell", true) == "SkylakeX");
  CHECK(core(nullptr, nullptr, "Zen", true) == "SkylakeX");  // 0.3.21 on a Zen 4
  CHECK(core(nullptr, "", "Zen", true) == "SkylakeX");
  CHECK(core(nullptr, nullptr, "Haswell", false) == "-");    // no AVX-512
  CHECK(core(nullptr, nullptr, "SkylakeX", true) == "-");    // already wide
  CHECK(core(nullptr, nullptr, "Cooperlake", true) == "-");
  CHECK(core("Haswell", nullptr, "Haswell", true) == "-");   // the user's choice
  CHECK(core("SkylakeX", nullptr, "Haswell", true) == "-");  // our re-exec, if it did not take
  CHECK(core(nullptr, "keep", "Haswell", true) == "-");
  CHECK(core(nullptr, nullptr, nullptr, true) == "-");
  // The spin: set when unset, unless the user keeps OpenBLAS's own environment.
  BlasEnvironment unset = plan_blas_environment("Haswell", nullptr, nullptr, "Haswell", true);
  REQUIRE(unset.thread_timeout != nullptr);
  CHECK(std::string(unset.thread_timeout) == "20");
  CHECK(unset.any());
  CHECK(plan_blas_environment("Haswell", "28", nullptr, "Haswell", true).thread_timeout == nullptr);
  CHECK_FALSE(plan_blas_environment("Haswell", "28", nullptr, "Haswell", true).any());  // nothing to do: no re-exec
  CHECK_FALSE(plan_blas_environment(nullptr, nullptr, "keep", "Zen", true).any());
}

TEST_CASE("hypertrain --version names the OpenBLAS kernels and spin it runs with: ours where the user set none") {
  const std::string bin = test::hypertrain_binary();
  auto version = [&](const std::string& env, bool whole = false) {
    std::string out;
    std::FILE* p = ::popen((env + " " + bin + " --version").c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[512];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    CHECK(::pclose(p) == 0);
    const auto at = out.find("OpenBLAS kernels: ");
    REQUIRE(at != std::string::npos);
    const std::string rest = out.substr(at + 18);
    if (whole) return rest;
    return rest.substr(0, rest.find_first_of(" \n"));
  };
  CHECK(version("env OPENBLAS_CORETYPE=Haswell") == "Haswell");
  // The re-execution itself, on any CPU: the spin setting reaches the new process.
  CHECK(version("env -u OPENBLAS_THREAD_TIMEOUT -u HYPERTRAIN_BLAS_ENV", true).find("(OPENBLAS_THREAD_TIMEOUT=20)") != std::string::npos);
  CHECK(version("env -u OPENBLAS_THREAD_TIMEOUT HYPERTRAIN_BLAS_ENV=keep", true).find("(OPENBLAS_THREAD_TIMEOUT=unset)") != std::string::npos);
  CHECK(version("env -u HYPERTRAIN_BLAS_ENV OPENBLAS_THREAD_TIMEOUT=26", true).find("(OPENBLAS_THREAD_TIMEOUT=26)") != std::string::npos);
  const std::string chosen = version("env -u OPENBLAS_CORETYPE -u HYPERTRAIN_BLAS_ENV");
  const bool avx512 = cpu_has_avx512_kernels();
  MESSAGE("OpenBLAS kernels with OPENBLAS_CORETYPE unset: " << chosen << " (CPU AVX-512: " << avx512 << ")");
  if (avx512) CHECK((chosen != "Haswell" && chosen != "Zen"));
}
