#include <cxxopts.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/image_task.h"
#include "cli/plot.h"
#include "cli/run_files.h"
#include "engine/checkpoint.h"

namespace ht {

// hypertrain plot kernels --run DIR [--run DIR ...] --out FILE: the paper's Figure 2, the
// second-layer kernels of each run side by side.
static int plot_kernels(const std::vector<std::string>& runs, const std::string& out) {
  std::vector<std::pair<std::string, Tensor>> panels;
  for (auto& dir : runs) {
    Json cfg = resolve_config(Json::parse(read_text(dir + "/config.json")), dir + "/config.json");
    ImageTask task(cfg, false);
    ParamStore ps;
    task.build(ps);
    Rng rng(0);
    ps.finalize(rng);
    restore_params(ps, load_checkpoint(run_checkpoint(dir)));
    auto ks = task.model().kernels(ps);
    if (ks.empty()) throw std::invalid_argument("run " + dir + " (" + task.describe() + ") has no conv kernels to draw");
    for (auto& [label, k] : ks) panels.emplace_back(cfg["name"].get<std::string>() + ": " + label, k);
  }
  plot_kernel_grids(out, "second-layer 7x7 kernels (16 in x 16 out; first 64 shown)", panels);
  std::cout << "wrote " << out << "\n";
  return 0;
}

int cmd_plot(int argc, char** argv) {
  cxxopts::Options o("hypertrain plot", "Pictures: plot kernels --run DIR [--run DIR] --out FILE");
  o.add_options()("what", "kernels", cxxopts::value<std::string>())("run", "run directory (repeatable)",
                                                                     cxxopts::value<std::vector<std::string>>())(
      "out", "PNG file", cxxopts::value<std::string>()->default_value("kernels.png"))("h,help", "this help");
  o.parse_positional({"what"});
  auto a = o.parse(argc, argv);
  if (a.count("help") || !a.count("what")) {
    std::cout << o.help() << "\n";
    return a.count("help") ? 0 : 2;
  }
  std::string what = a["what"].as<std::string>();
  if (what == "kernels") {
    if (!a.count("run")) throw std::invalid_argument("plot kernels needs at least one --run DIR");
    return plot_kernels(a["run"].as<std::vector<std::string>>(), a["out"].as<std::string>());
  }
  throw std::invalid_argument("unknown picture '" + what + "' (known: kernels)");
}

}  // namespace ht
