#include "train/task.h"

#include <limits>
#include <stdexcept>
#include <string>

namespace ht {

double Metric::worst() const {
  return higher_is_better ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
}

EvalSums& EvalSums::operator+=(const EvalSums& o) {
  loss += o.loss;
  items += o.items;
  metric += o.metric;
  metric_items += o.metric_items;
  if (extra.empty()) extra = o.extra;
  else if (!o.extra.empty()) {
    if (extra.size() != o.extra.size())
      throw std::logic_error("EvalSums: adding " + std::to_string(o.extra.size()) + " extra sums to " + std::to_string(extra.size()));
    for (std::size_t i = 0; i < extra.size(); ++i) extra[i] += o.extra[i];
  }
  return *this;
}

void EvalSums::to_array(double* out) const {
  out[0] = loss, out[1] = items, out[2] = metric, out[3] = metric_items;
  for (std::size_t i = 0; i < extra.size(); ++i) out[kFields + i] = extra[i];
}

EvalSums EvalSums::from_array(const double* in, std::size_t extra) {
  EvalSums s{in[0], in[1], in[2], in[3], {}};
  s.extra.assign(in + kFields, in + kFields + extra);
  return s;
}

EvalResult EvalResult::from(const EvalSums& s) {
  EvalResult r;
  r.loss = s.items > 0 ? s.loss / s.items : 0;
  r.metric = s.metric_items > 0 ? s.metric / s.metric_items : 0;
  r.count = i64(s.items);
  return r;
}

}  // namespace ht
