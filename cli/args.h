// Command-line parsing shared by the subcommands: every argument must be taken by an option (a
// stray positional argument is an error naming it), and values that are JSON (--set key=value)
// reach the config whole, never split at commas.
#pragma once
#include <cxxopts.hpp>
#include <string>
#include <vector>

namespace ht {

// argv with the values of one repeatable option taken out, each kept whole ("--set k=[1,2]" or
// "--set=k=[1,2]"); cxxopts would split a vector option's value at its commas.
struct TakenArgs {
  std::vector<std::string> values;  // the option's values, in order
  std::vector<std::string> rest;    // every other argument, argv[0] first
  std::vector<char*> argv();        // pointers into `rest`, for cxxopts (null-terminated)
};
TakenArgs take_option(int argc, char** argv, const std::string& flag);

// o.parse(argc, argv), then an error naming the first argument no option took.
cxxopts::ParseResult parse_args(cxxopts::Options& o, int argc, char** argv);

}  // namespace ht
