// One function per subcommand; each parses its own options (argv[0] is the subcommand name).
#pragma once

namespace ht {

int cmd_bench(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_list(int argc, char** argv);
int cmd_plot(int argc, char** argv);
int cmd_report(int argc, char** argv);

}  // namespace ht
