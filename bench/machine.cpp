#include "bench/machine.h"

#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <thread>

namespace ht {

// "model name" alone does not tell the CPUs this project meets apart (a Zen 3 and a Zen 4 EPYC both
// read "AMD EPYC" in a VM), so the family, model and vector ISA go beside it.
nlohmann::json machine_info(int threads) {
  std::string name = "unknown", family, model, flags;
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    auto value = [&] { const auto c = line.find(':'); return c == std::string::npos ? std::string() : line.substr(std::min(line.size(), c + 2)); };
    if (line.empty()) break;  // the first processor's block is enough
    if (line.rfind("model name", 0) == 0) name = value();
    else if (line.rfind("cpu family", 0) == 0) family = value();
    else if (line.rfind("model", 0) == 0 && line.rfind("model name", 0) != 0) model = value();
    else if (line.rfind("flags", 0) == 0) flags = ' ' + value() + ' ';
  }
  auto has = [&](const std::string& flag) { return flags.find(' ' + flag + ' ') != std::string::npos; };
  const std::string isa = has("avx512f") ? "AVX-512" : has("avx2") && has("fma") ? "AVX2+FMA" : has("avx") ? "AVX" : "SSE";
  std::string cpu = name;
  if (!family.empty()) cpu += " (family " + family + " model " + model + ", " + isa + ")";
  const char* timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT");
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return {{"cpu", cpu},
          {"cpu_name", name},
          {"cpu_family", family},
          {"cpu_model", model},
          {"isa", isa},
          {"cores", std::thread::hardware_concurrency()},
          {"threads", threads},
          {"blas", openblas_get_config()},
          {"blas_core", openblas_get_corename()},
          {"blas_thread_timeout", timeout ? timeout : "unset"},
          {"host", host},
          {"date", now_utc()}};
}

std::string machine_label(const nlohmann::json& machine) {
  return machine.value("cpu", std::string("unknown")) + ", OpenBLAS " + machine.value("blas_core", std::string("?"));
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

}  // namespace ht
