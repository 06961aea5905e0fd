// The `cohort-wal` executable (wal_tool.h).
#include <iostream>
#include <string>
#include <vector>

#include "ingest/wal/wal_tool.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return cohort::ingest::wal::RunWalTool(cohort::PosixEnv(), args, std::cout, std::cerr);
}
