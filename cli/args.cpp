#include "cli/args.h"

#include <stdexcept>

namespace ht {

std::vector<char*> TakenArgs::argv() {
  std::vector<char*> out;
  for (auto& a : rest) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

TakenArgs take_option(int argc, char** argv, const std::string& flag) {
  TakenArgs t;
  const std::string with_eq = flag + "=";
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (i > 0 && a == flag) {
      if (i + 1 >= argc) throw std::invalid_argument(flag + " needs a value (key=value)");
      t.values.push_back(argv[++i]);
    } else if (i > 0 && a.rfind(with_eq, 0) == 0) {
      t.values.push_back(a.substr(with_eq.size()));
    } else {
      t.rest.push_back(a);
    }
  }
  return t;
}

namespace {

// The option a value was given to ("--length" for "--length 1e11" or "--length=1e11"); "" if none.
std::string option_of(const std::string& value, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 < argc && value == argv[i + 1] && a.rfind("-", 0) == 0) return a;
    if (a.size() > value.size() && a.compare(a.size() - value.size() - 1, std::string::npos, "=" + value) == 0)
      return a.substr(0, a.size() - value.size() - 1);
  }
  return "";
}

}  // namespace

cxxopts::ParseResult parse_args(cxxopts::Options& o, int argc, char** argv) {
  cxxopts::ParseResult a;
  try {
    a = o.parse(argc, argv);
  } catch (const cxxopts::exceptions::incorrect_argument_type& e) {  // "Argument 'x' failed to parse": which option?
    std::string what = e.what(), value = what;
    for (const std::string& q : {std::string("\xe2\x80\x98"), std::string("'")})  // cxxopts quotes with ‘ ’ or ' '
      if (auto b = what.find(q); b != std::string::npos) {
        auto end = what.rfind(q == "'" ? "'" : "\xe2\x80\x99");
        value = what.substr(b + q.size(), end - b - q.size());
        break;
      }
    const std::string opt = option_of(value, argc, argv);
    throw std::invalid_argument((opt.empty() ? "" : opt + " ") + "'" + value + "' is not a value of the type that option takes (see " +
                                o.program() + " --help; whole numbers have no fraction or exponent)");
  }
  if (!a.unmatched().empty())
    throw std::invalid_argument("unexpected argument '" + a.unmatched().front() + "': every value needs its option (see " + o.program() +
                                " --help)");
  return a;
}

}  // namespace ht
