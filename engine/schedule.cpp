#include "engine/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ht {

using nlohmann::json;

LrSchedule::~LrSchedule() = default;

static std::string num(double v) {
  json j = v;
  return j.dump();
}

static void check_lr(const char* what, const char* key, double v) {
  if (!std::isfinite(v) || v < 0)
    throw std::invalid_argument(std::string(what) + " schedule: '" + key + "' must be a finite number >= 0, got " + num(v));
}

Constant::Constant(double lr) : lr_(lr) { check_lr("constant", "lr", lr); }

json Constant::describe() const { return {{"type", "constant"}, {"lr", lr_}}; }

PiecewiseConstant::PiecewiseConstant(std::vector<i64> boundaries, std::vector<double> values)
    : boundaries_(std::move(boundaries)), values_(std::move(values)) {
  if (values_.size() != boundaries_.size() + 1)
    throw std::invalid_argument("piecewise schedule: 'values' needs one more entry than 'boundaries' (got " +
                                std::to_string(values_.size()) + " values for " + std::to_string(boundaries_.size()) +
                                " boundaries)");
  for (std::size_t i = 1; i < boundaries_.size(); ++i)
    if (boundaries_[i] <= boundaries_[i - 1])
      throw std::invalid_argument("piecewise schedule: 'boundaries' must be strictly increasing, but boundaries[" +
                                  std::to_string(i) + "] = " + std::to_string(boundaries_[i]) + " follows " +
                                  std::to_string(boundaries_[i - 1]));
  for (double v : values_) check_lr("piecewise", "values", v);
}

double PiecewiseConstant::at(i64 step) const {
  auto it = std::upper_bound(boundaries_.begin(), boundaries_.end(), step);  // first boundary > step
  return values_[std::size_t(it - boundaries_.begin())];
}

json PiecewiseConstant::describe() const {
  return {{"type", "piecewise"}, {"boundaries", boundaries_}, {"values", values_}};
}

ExponentialDecay::ExponentialDecay(double lr0, double rate, i64 every, double min_lr, bool staircase)
    : lr0_(lr0), rate_(rate), every_(every), min_lr_(min_lr), staircase_(staircase) {
  check_lr("exponential", "lr", lr0);
  check_lr("exponential", "min", min_lr);
  if (!std::isfinite(rate) || rate <= 0)
    throw std::invalid_argument("exponential schedule: 'rate' must be a finite number > 0, got " + num(rate));
  if (every < 1) throw std::invalid_argument("exponential schedule: 'every' must be >= 1, got " + std::to_string(every));
}

double ExponentialDecay::at(i64 step) const {
  double e = staircase_ ? double(step / every_) : double(step) / double(every_);
  return std::max(min_lr_, lr0_ * std::pow(rate_, e));
}

json ExponentialDecay::describe() const {
  return {{"type", "exponential"}, {"lr", lr0_},     {"rate", rate_},
          {"every", every_},       {"min", min_lr_}, {"staircase", staircase_}};
}

// Reads j[key] as T; a missing key (when required) or a value of the wrong type names the key.
template <class T> static T get(const json& j, const std::string& type, const char* key, const T* fallback = nullptr) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (fallback) return *fallback;
    throw std::invalid_argument("schedule '" + type + "': missing key '" + key + "' in " + j.dump());
  }
  bool ok;
  if constexpr (std::is_same_v<T, bool>) ok = it->is_boolean();
  else if constexpr (std::is_integral_v<T>) ok = it->is_number_integer();
  else if constexpr (std::is_floating_point_v<T>) ok = it->is_number();
  else ok = true;
  if (!ok) throw std::invalid_argument("schedule '" + type + "': key '" + key + "' has the wrong type: " + it->dump());
  try {
    return it->template get<T>();
  } catch (const json::exception& e) {
    throw std::invalid_argument("schedule '" + type + "': key '" + key + "' is invalid (" + it->dump() + "): " + e.what());
  }
}

template <class T> static std::vector<T> get_array(const json& j, const std::string& type, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) throw std::invalid_argument("schedule '" + type + "': missing key '" + key + "' in " + j.dump());
  if (!it->is_array()) throw std::invalid_argument("schedule '" + type + "': key '" + key + "' must be an array, got " + it->dump());
  std::vector<T> out;
  for (const json& e : *it) {
    bool ok = std::is_integral_v<T> ? e.is_number_integer() : e.is_number();
    if (!ok) throw std::invalid_argument("schedule '" + type + "': key '" + key + "' holds a non-number " + e.dump());
    out.push_back(e.get<T>());
  }
  return out;
}

std::unique_ptr<LrSchedule> make_schedule(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("schedule config must be a JSON object, got " + j.dump());
  auto it = j.find("type");
  if (it == j.end()) throw std::invalid_argument("schedule config has no key 'type': " + j.dump());
  if (!it->is_string()) throw std::invalid_argument("schedule key 'type' must be a string, got " + it->dump());
  std::string type = it->get<std::string>();
  auto allow = [&](std::initializer_list<const char*> keys) {
    for (auto& [k, v] : j.items())
      if (std::none_of(keys.begin(), keys.end(), [&](const char* a) { return k == a; }))
        throw std::invalid_argument("schedule '" + type + "': unknown key '" + k + "'");
  };
  if (type == "constant") {
    allow({"type", "lr"});
    return std::make_unique<Constant>(get<double>(j, type, "lr"));
  }
  if (type == "piecewise") {
    allow({"type", "boundaries", "values"});
    return std::make_unique<PiecewiseConstant>(get_array<i64>(j, type, "boundaries"), get_array<double>(j, type, "values"));
  }
  if (type == "exponential") {
    allow({"type", "lr", "rate", "every", "min", "staircase"});
    const i64 one = 1;
    const double zero = 0;
    const bool no = false;
    return std::make_unique<ExponentialDecay>(get<double>(j, type, "lr"), get<double>(j, type, "rate"),
                                              get<i64>(j, type, "every", &one), get<double>(j, type, "min", &zero),
                                              get<bool>(j, type, "staircase", &no));
  }
  throw std::invalid_argument("schedule key 'type': unknown schedule type '" + type +
                              "' (expected constant, piecewise or exponential)");
}

}  // namespace ht
