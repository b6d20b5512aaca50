// Runs the emovec command line (tests of CLI commands; EMOVEC_CLI is the built binary).
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace emovec::testing {

struct CommandResult {
  int status;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line and collects its standard output.
inline CommandResult run_shell(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  std::array<char, 65536> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe.release());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

inline CommandResult run_cli(const std::string& args) {
  return run_shell(std::string(EMOVEC_CLI) + " " + args + " 2>&1 </dev/null");
}

}  // namespace emovec::testing
