#include "ingest/wal/wal_tool.h"

#include "ingest/wal/wal_verify.h"

namespace cohort::ingest::wal {

int RunWalTool(Env& env, const std::vector<std::string>& args, std::ostream& out,
               std::ostream& err) {
  if (args.size() != 2 || (args[0] != "verify" && args[0] != "dump")) {
    err << "usage: cohort-wal verify DIR | cohort-wal dump DIR\n";
    return 2;
  }
  absl::StatusOr<VerifyReport> report = VerifyWal(env, args[1]);
  if (!report.ok()) {
    err << "cohort-wal: " << report.status().ToString() << "\n";
    return 2;
  }
  const bool dump = args[0] == "dump";
  for (const SegmentCheck& c : report->segments) {
    out << c.path << ": ";
    if (dump) {
      out << c.records << " records, " << c.payload_bytes << " payload bytes";
      if (c.records > 0) out << ", sizes " << c.min_record << ".." << c.max_record;
      out << ", " << c.size << " bytes on disk";
    } else {
      out << (c.damage.empty() ? "OK" : "DAMAGED") << ", " << c.records << " records";
    }
    out << (c.sealed ? ", sealed sha256=" + c.sha256 : ", open");
    if (c.quarantined) out << ", quarantined";
    if (!c.damage.empty()) out << ", " << c.damage << " at offset " << c.damage_offset;
    if (c.torn_tail) out << ", torn tail (recovery truncates it)";
    out << "\n";
  }
  const int damaged = report->damaged();
  out << report->segments.size() << " segments, " << damaged << " damaged\n";
  return damaged == 0 ? 0 : 1;
}

}  // namespace cohort::ingest::wal
