#include "train/config_check.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "train/tasks.h"
#include "train/trainer.h"

namespace ht {

const Json& ConfigCheck::at(const std::string& key) const {
  const Json* node = &cfg_;
  std::stringstream ss(key);
  for (std::string part; std::getline(ss, part, '.');) {
    if (!node->is_object() || !node->contains(part))
      throw std::invalid_argument(origin_ + ": config key '" + key + "' is missing");
    node = &(*node)[part];
  }
  return *node;
}

void ConfigCheck::fail(const std::string& key, const std::string& why) const {
  std::string value;  // the value given, unless it is a whole block
  try {
    if (!at(key).is_object()) value = " (= " + at(key).dump() + ")";
  } catch (const std::invalid_argument&) {
  }
  throw std::invalid_argument(origin_ + ": config key '" + key + "'" + value + " " + why);
}

i64 ConfigCheck::integer(const std::string& key, i64 lo, i64 hi) const {
  const Json& v = at(key);
  std::string range = "[";  // built in steps: GCC 12 warns falsely (-Wrestrict) on "[" + std::to_string(...)
  range += std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!v.is_number_integer()) {
    if (v.is_number_float())
      fail(key, "must be an integer in " + range + "; a float is not read as an integer (write it without a fraction or exponent)");
    fail(key, "must be an integer in " + range);
  }
  if (v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(hi)) fail(key, "must be an integer in " + range);
  const i64 x = v.get<i64>();
  if (x < lo || x > hi) fail(key, "must be an integer in " + range);
  return x;
}

static std::string num(double v) { return (std::ostringstream() << v).str(); }

double ConfigCheck::number(const std::string& key, double lo, double hi) const {
  const Json& v = at(key);
  const std::string range = std::isinf(hi) ? ">= " + num(lo) : "in [" + num(lo) + ", " + num(hi) + "]";
  if (!v.is_number()) fail(key, "must be a number " + range);
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) fail(key, "must be a finite number " + range);
  return x;
}

double ConfigCheck::probability(const std::string& key) const {
  const double p = number(key, 0, 1);
  if (p >= 1) fail(key, "must be a probability in [0, 1) (1 would drop everything)");
  return p;
}

bool ConfigCheck::boolean(const std::string& key) const {
  const Json& v = at(key);
  if (!v.is_boolean()) fail(key, "must be true or false");
  return v.get<bool>();
}

std::string ConfigCheck::text(const std::string& key) const {
  const Json& v = at(key);
  if (!v.is_string()) fail(key, "must be a string");
  return v.get<std::string>();
}

std::string ConfigCheck::one_of(const std::string& key, const std::vector<std::string>& allowed) const {
  const std::string s = text(key);
  std::string list;
  for (const auto& a : allowed) {
    if (s == a) return s;
    list += (list.empty() ? "" : ", ") + a;
  }
  fail(key, "must be one of " + list);
}

void validate_config(const Json& cfg, const std::string& origin) {
  ConfigCheck c(cfg, origin);
  const TaskKind& kind = find_task_kind(c.text("task"));
  check_trainer_config(c);
  kind.check(c);
}

}  // namespace ht
