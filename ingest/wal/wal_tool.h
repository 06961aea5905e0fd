// `cohort-wal`, the operator's tool for a write-ahead log directory:
//   cohort-wal verify DIR   checks every CRC and seal; one line per segment; exit 1 on damage
//   cohort-wal dump DIR     records, payload bytes and record sizes per segment
// Exit codes: 0 intact (a torn tail, which recovery truncates, is reported but is not damage),
// 1 damage found, 2 usage or I/O error. The logic is a function so tests run it in-process.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "common/file_env.h"

namespace cohort::ingest::wal {

// `args` excludes the program name.
int RunWalTool(Env& env, const std::vector<std::string>& args, std::ostream& out,
               std::ostream& err);

}  // namespace cohort::ingest::wal
