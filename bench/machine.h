// What machine a measurement ran on, for every benchmark and results file.
#pragma once
#include <nlohmann/json.hpp>

#include "engine/profile.h"  // seconds_now()

namespace ht {

nlohmann::json machine_info(int threads);
std::string now_utc();  // "2026-11-27T08:01:02Z"

// "AMD EPYC (family 26 model 2, AVX-512), OpenBLAS SkylakeX": the text reports' machine line.
std::string machine_label(const nlohmann::json& machine);

}  // namespace ht
