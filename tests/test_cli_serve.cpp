// `emovec serve` refuses bad limits before it loads anything, naming the flag (exit status 1).
// The running server is tested end to end by tests/py/*.py.
#include <gtest/gtest.h>

#include <string>

#include "support/cli_runner.h"

namespace emovec {
namespace {

TEST(CliServe, BadLimitsAreRefusedNamingTheFlag) {
  const struct {
    const char* args;
    const char* named;
  } cases[] = {
      {"--parallel 0 --port 0", "--parallel"},
      {"--max-queue -1 --port 0", "--max-queue"},
      {"--prompt-cache -2 --port 0", "--prompt-cache"},
      {"--prompt-cache 257 --port 0", "--prompt-cache"},
      {"--port 70000", "--port"},
      {"--max-body-bytes 10 --port 0", "--max-body-bytes"},
  };
  for (const auto& c : cases) {
    // A server that starts instead would run until `timeout` stops it (status 124).
    const testing::CommandResult r = testing::run_shell(std::string("timeout 60 ") + EMOVEC_CLI +
                                                        " serve " + c.args + " 2>&1 </dev/null");
    EXPECT_EQ(r.status, 1) << c.args << ": " << r.output;
    EXPECT_NE(r.output.find(c.named), std::string::npos) << c.args << ": " << r.output;
  }
}

}  // namespace
}  // namespace emovec
