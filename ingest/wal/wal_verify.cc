#include "ingest/wal/wal_verify.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ingest/wal/segment_format.h"

namespace cohort::ingest::wal {
namespace {

absl::StatusOr<std::vector<uint64_t>> SegmentsIn(Env& env, const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = env.ListDir(dir);
  if (!names.ok()) return names.status();
  std::vector<uint64_t> seqs;
  for (const std::string& name : *names) {
    if (std::optional<uint64_t> seq = ParseSegmentFileName(name)) seqs.push_back(*seq);
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

absl::StatusOr<SegmentCheck> Check(Env& env, const std::string& dir, uint64_t seq, bool last,
                                   bool quarantined) {
  SegmentCheck check;
  check.segment = seq;
  check.path = absl::StrCat(dir, "/", SegmentFileName(seq));
  check.quarantined = quarantined;
  absl::StatusOr<std::string> bytes = ReadFileToString(env, check.path);
  if (!bytes.ok()) return bytes.status();
  check.size = bytes->size();
  const SegmentScan scan = ScanSegment(*bytes, seq, [&](uint64_t, std::string_view payload) {
    check.min_record =
        check.records == 0 ? payload.size() : std::min<uint64_t>(check.min_record, payload.size());
    check.max_record = std::max<uint64_t>(check.max_record, payload.size());
    ++check.records;
  });
  check.payload_bytes = scan.payload_bytes;
  check.sealed = scan.sealed;
  check.sha256 = scan.seal_digest;
  if (scan.damage) {
    if (last && !quarantined && !scan.sealed && !scan.damage->valid_after) {
      check.torn_tail = true;
    } else {
      check.damage = scan.damage->reason;
      check.damage_offset = scan.damage->offset;
    }
  } else if (!scan.sealed && !last && !quarantined) {
    check.damage = "unsealed segment that is not the last";
    check.damage_offset = scan.valid_end;
  }
  if (quarantined && check.damage.empty()) check.damage = "quarantined by recovery";
  return check;
}

}  // namespace

int VerifyReport::damaged() const {
  return static_cast<int>(std::count_if(segments.begin(), segments.end(),
                                        [](const SegmentCheck& c) { return !c.damage.empty(); }));
}

absl::StatusOr<VerifyReport> VerifyWal(Env& env, const std::string& dir) {
  VerifyReport report;
  absl::StatusOr<std::vector<uint64_t>> seqs = SegmentsIn(env, dir);
  if (!seqs.ok()) return seqs.status();
  for (size_t i = 0; i < seqs->size(); ++i) {
    absl::StatusOr<SegmentCheck> check = Check(env, dir, (*seqs)[i], i + 1 == seqs->size(), false);
    if (!check.ok()) return check.status();
    report.segments.push_back(std::move(*check));
  }
  const std::string qdir = absl::StrCat(dir, "/quarantine");
  absl::StatusOr<std::vector<uint64_t>> qseqs = SegmentsIn(env, qdir);
  if (!qseqs.ok() && !absl::IsNotFound(qseqs.status())) return qseqs.status();
  if (qseqs.ok()) {
    for (uint64_t seq : *qseqs) {
      absl::StatusOr<SegmentCheck> check = Check(env, qdir, seq, false, true);
      if (!check.ok()) return check.status();
      report.segments.push_back(std::move(*check));
    }
  }
  return report;
}

}  // namespace cohort::ingest::wal
