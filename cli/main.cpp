// hypertrain: train, evaluate, sample and benchmark the models of Ha, Dai & Le, HyperNetworks.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "engine/blas.h"
#include "ht_version.h"

static void usage() {
  std::fprintf(stderr,
               "usage: hypertrain <command> [options]\n"
               "commands:\n"
               "  train --config FILE [--set key=value] [--out DIR] | --resume DIR   train a model\n"
               "                                 (mpirun -np N hypertrain train ...: N processes, README \"MPI\")\n"
               "  eval --checkpoint DIR [--split valid|test] [--beam K]   error rate / bits per character / BLEU of a run\n"
               "  translate --checkpoint DIR [--beam K] [--text FILE]   one translation per line of FILE (or stdin)\n"
               "  list [--json]                  every config: paper figure and our parameter count\n"
               "  sample --checkpoint DIR --prime TEXT [--length N] [--temperature T] [--seed S] [--out FILE]\n"
               "                                 text from a character language model, continuing TEXT\n"
               "  sample --checkpoint DIR [--count N] [--out FILE.svg] [--strokes FILE.json|FILE.npy]\n"
               "                                 handwriting samples: a picture and their pen offsets\n"
               "  plot kernels --run DIR [--run DIR] --out FILE   the paper's Figure 2 from trained runs\n"
               "  plot scaling --checkpoint DIR --text FILE [--out FILE] [--max-chars N]\n"
               "                                 a hyper cell's scaling vectors d_h, d_x while it reads FILE\n"
               "  report RUN_DIR...              a table of finished runs beside the paper's figures\n"
               "  plot curves --run DIR [--run DIR ...] [--out FILE]   validation metric against steps and seconds\n"
               "  bench --engine [--json FILE]   engine benchmark: MLP step vs its GEMMs vs the sgemm peak\n"
               "  bench --model mnist-conv|mnist-hyperconv   a model's training step vs the sgemm peak\n"
               "  bench --model lstm|ln-lstm|hyperlstm|ln-hyperlstm [--batch B --hidden H ...]\n"
               "                                 fused vs reference character-model step, and sampling\n"
               "  bench --model translation-lstm|translation-ln-hyperlstm [--batch B --hidden H ...]\n"
               "                                 the encoder-decoder's training step in tokens/s\n"
               "  bench --allreduce [--floats N] [--json FILE]   under mpirun: the gradient sum across ranks\n"
               "  plot lines --json FILE --out FILE   a line chart of series given as JSON\n"
               "  (pictures: .png, .svg or .pdf by the --out extension)\n"
               "  --version                      the version and the commit this binary was built from\n"
               "run `hypertrain <command> --help` for a command's options\n");
}

int main(int argc, char** argv) {
  ht::select_blas_environment(argv);
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage();
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "--version" || cmd == "version") {
    const char* timeout = std::getenv("OPENBLAS_THREAD_TIMEOUT");
    std::printf("hypertrain %s (commit %s)\nOpenBLAS kernels: %s (OPENBLAS_THREAD_TIMEOUT=%s)\n", HT_VERSION, HT_GIT_COMMIT,
                ht::blas_core(), timeout ? timeout : "unset");
    return 0;
  }
  try {
    if (cmd == "train") return ht::cmd_train(argc - 1, argv + 1);
    if (cmd == "eval") return ht::cmd_eval(argc - 1, argv + 1);
    if (cmd == "list") return ht::cmd_list(argc - 1, argv + 1);
    if (cmd == "sample") return ht::cmd_sample(argc - 1, argv + 1);
    if (cmd == "plot") return ht::cmd_plot(argc - 1, argv + 1);
    if (cmd == "report") return ht::cmd_report(argc - 1, argv + 1);
    if (cmd == "bench") return ht::cmd_bench(argc - 1, argv + 1);
    if (cmd == "translate") return ht::cmd_translate(argc - 1, argv + 1);
    std::fprintf(stderr, "hypertrain: unknown command '%s'\n", cmd.c_str());
    usage();
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hypertrain %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
