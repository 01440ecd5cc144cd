#include "cli/task.h"

#include <limits>

namespace ht {

double Metric::worst() const {
  return higher_is_better ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

EvalSums& EvalSums::operator+=(const EvalSums& o) {
  loss += o.loss;
  items += o.items;
  metric += o.metric;
  metric_items += o.metric_items;
  return *this;
}

void EvalSums::to_array(double* out) const {
  out[0] = loss, out[1] = items, out[2] = metric, out[3] = metric_items;
}

EvalSums EvalSums::from_array(const double* in) { return {in[0], in[1], in[2], in[3]}; }

EvalResult EvalResult::from(const EvalSums& s) {
  EvalResult r;
  r.loss = s.items > 0 ? s.loss / s.items : 0;
  r.metric = s.metric_items > 0 ? s.metric / s.metric_items : 0;
  r.count = i64(s.items);
  return r;
}

}  // namespace ht
