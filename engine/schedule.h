// Learning-rate schedules: lr as a function of the number of completed steps, built from the
// run config. describe() returns a config that make_schedule() turns back into the same schedule.
//
//   {"type":"constant","lr":0.001}
//   {"type":"piecewise","boundaries":[20000,40000],"values":[0.1,0.01,0.001]}
//   {"type":"exponential","lr":0.005,"rate":0.999,"every":1,"min":0.0001,"staircase":false}
#pragma once
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tensor.h"

namespace ht {

class LrSchedule {
 public:
  virtual ~LrSchedule();
  virtual double at(i64 step) const = 0;
  virtual nlohmann::json describe() const = 0;
};

class Constant : public LrSchedule {
 public:
  explicit Constant(double lr);
  double at(i64) const override { return lr_; }
  nlohmann::json describe() const override;

 private:
  double lr_;
};

// values[i] while step < boundaries[i]; values.back() from boundaries.back() on.
// values.size() == boundaries.size() + 1, boundaries strictly increasing.
class PiecewiseConstant : public LrSchedule {
 public:
  PiecewiseConstant(std::vector<i64> boundaries, std::vector<double> values);
  double at(i64 step) const override;
  nlohmann::json describe() const override;

 private:
  std::vector<i64> boundaries_;
  std::vector<double> values_;
};

// max(min_lr, lr0 * rate^(step / every)); with staircase the exponent is floor(step / every).
class ExponentialDecay : public LrSchedule {
 public:
  ExponentialDecay(double lr0, double rate, i64 every = 1, double min_lr = 0, bool staircase = false);
  double at(i64 step) const override;
  nlohmann::json describe() const override;

 private:
  double lr0_, rate_;
  i64 every_;
  double min_lr_;
  bool staircase_;
};

// Throws std::invalid_argument naming the key for an unknown type, a missing key or a bad value.
std::unique_ptr<LrSchedule> make_schedule(const nlohmann::json& j);

}  // namespace ht
