// `cpuinfer backends`: a table whose columns line up however long an entry is (native's version
// names its ISA path and oneDNN), with each backend's workloads under its description.
#include <gtest/gtest.h>

#include <sstream>

#include "support/test_support.h"

namespace cpuinfer {
namespace {

TEST(BackendsCli, ColumnsAlign) {
  const auto r = testing::run_cpuinfer({"backends"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::istringstream in(r.output);
  std::string header;
  std::getline(in, header);
  const std::size_t version = header.find("version"), loads = header.find("loads"),
                    description = header.find("description");
  ASSERT_EQ(header.rfind("backend ", 0), 0u) << header;
  ASSERT_NE(description, std::string::npos) << header;
  // Each column starts where its title does: after a space, with a non-space.
  auto starts_column = [](const std::string& line, std::size_t at) {
    return line.size() > at && line[at - 1] == ' ' && line[at] != ' ';
  };
  std::size_t backends = 0;
  for (std::string line; std::getline(in, line);) {
    SCOPED_TRACE(line);
    if (line.rfind(' ', 0) == 0) {  // the workloads, under the description
      EXPECT_EQ(line.find_first_not_of(' '), description);
      EXPECT_EQ(line.compare(description, 6, "runs: "), 0);
      continue;
    }
    ++backends;
    EXPECT_TRUE(starts_column(line, version));
    EXPECT_TRUE(starts_column(line, loads));
    EXPECT_TRUE(starts_column(line, description));
    EXPECT_EQ(line.find(' '), line.find_first_of(' ')) << "a backend name without spaces";
  }
  EXPECT_GE(backends, 9u) << r.output;
}

}  // namespace
}  // namespace cpuinfer
