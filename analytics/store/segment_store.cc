#include "analytics/store/segment_store.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "analytics/store/segment_codec.h"

namespace cohort::analytics::store {
namespace {

const char kProjectPrefix[] = "p-";
const char kSegmentSuffix[] = ".seg";
// Groups with more events than this in a segment get a sorted insert-id index for dedup.
constexpr uint32_t kLargeGroup = 64;

std::string SegmentName(uint64_t first, uint64_t last) {
  return absl::StrFormat("%020d-%020d.seg", first, last);
}

bool ParseSegmentName(const std::string& name, uint64_t* first, uint64_t* last) {
  if (name.size() != 20 + 1 + 20 + 4 || name[20] != '-' || !absl::EndsWith(name, kSegmentSuffix)) {
    return false;
  }
  return absl::SimpleAtoi(name.substr(0, 20), first) &&
         absl::SimpleAtoi(name.substr(21, 20), last) && *first <= *last;
}

std::string Join(const std::string& dir, const std::string& name) {
  return absl::StrCat(dir, "/", name);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SegmentStore>> SegmentStore::Open(SegmentStoreOptions options,
                                                                 OpenReport* report) {
  auto store = std::unique_ptr<SegmentStore>(new SegmentStore(std::move(options)));
  OpenReport local;
  if (absl::Status s = store->Load(report ? report : &local); !s.ok()) return s;
  return store;
}

absl::Status SegmentStore::Load(OpenReport* report) {
  Env& env = *options_.env;
  if (absl::Status s = env.CreateDir(options_.dir); !s.ok()) return s;
  absl::StatusOr<FileLockPtr> dir_lock = env.LockFile(Join(options_.dir, "LOCK"));
  if (!dir_lock.ok()) return dir_lock.status();
  dir_lock_ = *std::move(dir_lock);
  absl::StatusOr<std::vector<std::string>> entries = env.ListDir(options_.dir);
  if (!entries.ok()) return entries.status();
  absl::MutexLock lock(&write_mu_);
  for (const std::string& entry : *entries) {
    if (!absl::StartsWith(entry, kProjectPrefix)) continue;
    std::string hex = entry.substr(2);
    std::string name = absl::HexStringToBytes(hex);
    if (absl::BytesToHexString(name) != hex) continue;  // not a directory of ours
    Project& project = ProjectFor(name);
    absl::StatusOr<std::vector<std::string>> files = env.ListDir(project.dir);
    if (!files.ok()) return files.status();
    struct Found {
      uint64_t first, last;
      std::string file;
    };
    std::vector<Found> found;
    for (const std::string& file : *files) {
      if (absl::EndsWith(file, ".tmp")) {
        (void)env.RemoveFile(Join(project.dir, file));  // an interrupted write
        continue;
      }
      uint64_t first, last;
      if (ParseSegmentName(file, &first, &last)) found.push_back({first, last, file});
    }
    // A range inside another range was merged into it already.
    std::sort(found.begin(), found.end(), [](const Found& a, const Found& b) {
      return std::tie(a.first, b.last) < std::tie(b.first, a.last);  // widest first per start
    });
    std::vector<Found> kept;
    for (Found& f : found) {
      if (!kept.empty() && f.last <= kept.back().last) {
        (void)env.RemoveFile(Join(project.dir, f.file));
        ++report->superseded_removed;
        continue;
      }
      kept.push_back(std::move(f));
    }
    for (const Found& f : kept) {
      std::string path = Join(project.dir, f.file);
      absl::StatusOr<SegmentPtr> segment = ReadSegment(path);
      if (segment.ok() && (*segment)->project() != name) {
        segment = absl::DataLossError("segment of another project");
      }
      if (!segment.ok()) {
        if (segment.status().code() != absl::StatusCode::kDataLoss) {
          return absl::Status(segment.status().code(),
                              absl::StrCat(path, ": ", segment.status().message()));
        }
        (void)env.Rename(path, path + ".bad");
        report->quarantined.push_back(path);
        continue;
      }
      project.segments.push_back(StoredSegment{f.first, f.last, *std::move(segment)});
      next_sequence_ = std::max(next_sequence_, f.last + 1);
      ++report->segments;
      report->events += static_cast<int64_t>(project.segments.back().segment->event_count());
    }
    Publish(project, Change::kRemoved);
  }
  return absl::OkStatus();
}

SegmentStore::Project& SegmentStore::ProjectFor(const std::string& name) {
  std::unique_ptr<Project>& slot = projects_[name];
  if (!slot) {
    slot = std::make_unique<Project>();
    slot->name = name;
    slot->dir = Join(options_.dir, absl::StrCat(kProjectPrefix, absl::BytesToHexString(name)));
  }
  return *slot;
}

void SegmentStore::Publish(Project& project, Change change, SegmentPtr appended) {
  const bool events_changed = change != Change::kReorganized;
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->generation = next_version_++;
  snapshot->version = snapshot->generation;
  for (const StoredSegment& s : project.segments) snapshot->segments.push_back(s.segment);
  if (change == Change::kAppended) {
    project.appends.push_back(AppendedSegment{snapshot->version, std::move(appended)});
    while (project.appends.size() > options_.appends_kept) {
      project.appends_since = project.appends.front().version;
      project.appends.pop_front();
    }
  } else if (change == Change::kRemoved) {
    project.appends.clear();
    project.appends_since = snapshot->version;
  }
  snapshot->appends_since = project.appends_since;
  snapshot->appends.assign(project.appends.begin(), project.appends.end());
  uint64_t version;
  {
    absl::MutexLock lock(&snapshot_mu_);
    std::shared_ptr<const Snapshot>& slot = snapshots_[project.name];
    if (!events_changed && slot != nullptr) snapshot->version = slot->version;
    version = snapshot->version;
    slot = std::move(snapshot);
  }
  uint64_t heap = 0, mapped = 0;
  for (const auto& [name, p] : projects_) {
    heap += p->dedup_filter.memory_bytes();
    for (const StoredSegment& s : p->segments) {
      heap += s.segment->memory_bytes();
      mapped += s.segment->mapped_bytes();
    }
  }
  memory_bytes_.store(heap, std::memory_order_relaxed);
  mapped_bytes_.store(mapped, std::memory_order_relaxed);
  if (listener_) listener_(project.name, version, events_changed);
}

void SegmentStore::SetPublishListener(PublishListener listener) {
  absl::MutexLock lock(&write_mu_);
  listener_ = std::move(listener);
}

Snapshot SegmentStore::GetSnapshot(const std::string& project) const {
  absl::MutexLock lock(&snapshot_mu_);
  auto it = snapshots_.find(project);
  if (it == snapshots_.end()) return Snapshot{};
  return *it->second;
}

std::vector<std::string> SegmentStore::projects() const {
  absl::MutexLock lock(&snapshot_mu_);
  std::vector<std::string> names;
  for (const auto& [name, snapshot] : snapshots_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

uint64_t SegmentStore::DedupHash(bool is_user, std::string_view id, std::string_view insert_id) {
  return absl::HashOf(is_user, id, insert_id);
}

bool SegmentStore::IsStored(Project& project, bool is_user, std::string_view id,
                            std::string_view insert_id, uint64_t hash) {
  if (!project.dedup_filter_built) {
    project.dedup_filter.Clear();
    size_t events = 0;
    for (const StoredSegment& stored : project.segments) events += stored.segment->event_count();
    project.dedup_filter.Reserve(events);
    for (const StoredSegment& stored : project.segments) {
      const Segment& s = *stored.segment;
      for (size_t g = 0; g < s.group_count(); ++g) {
        for (uint32_t e = s.group_begin(g); e < s.group_begin(g + 1); ++e) {
          project.dedup_filter.Insert(DedupHash(s.group(g).is_user, s.group(g).id, s.insert_id(e)));
        }
      }
    }
    project.dedup_filter_built = true;
  }
  if (!project.dedup_filter.MayContain(hash)) return false;
  for (const StoredSegment& stored : project.segments) {
    const Segment& s = *stored.segment;
    std::optional<uint32_t> g = s.FindGroup(is_user, id);
    if (!g) continue;
    uint32_t begin = s.group_begin(*g), end = s.group_begin(*g + 1);
    if (end - begin <= kLargeGroup) {
      for (uint32_t e = begin; e < end; ++e) {
        if (s.insert_id(e) == insert_id) return true;
      }
      continue;
    }
    std::vector<std::string>& ids = project.large_group_ids[&s][*g];
    if (ids.empty()) {
      for (uint32_t e = begin; e < end; ++e) ids.emplace_back(s.insert_id(e));
      std::sort(ids.begin(), ids.end());
    }
    if (std::binary_search(ids.begin(), ids.end(), insert_id)) return true;
  }
  return false;
}

absl::StatusOr<SegmentPtr> SegmentStore::ReadSegment(const std::string& path) const {
  Env& env = *options_.env;
  if (options_.map_files) {
    absl::StatusOr<ReadOnlyMappingPtr> file = env.MapReadOnly(path);
    if (!file.ok()) return file.status();
    return SegmentCodec::Decode(std::shared_ptr<const ReadOnlyMapping>(*std::move(file)));
  }
  absl::StatusOr<std::string> bytes = ReadFileToString(env, path);
  if (!bytes.ok()) return bytes.status();
  return SegmentCodec::Decode(*bytes);
}

absl::StatusOr<SegmentPtr> SegmentStore::WriteSegment(const Project& project, uint64_t first,
                                                      uint64_t last, SegmentPtr segment) {
  Env& env = *options_.env;
  if (absl::Status s = env.CreateDir(project.dir); !s.ok()) return s;
  if (project.segments.empty()) {
    // A new project directory: make its entry durable in the parent.
    if (absl::Status s = env.SyncDir(options_.dir); !s.ok()) return s;
  }
  std::string path = Join(project.dir, SegmentName(first, last));
  // Streamed: a merged segment's file is never whole in memory.
  if (absl::Status s = WriteFileAtomically(env, project.dir, path,
                                           [&segment](WritableFile& file) {
                                             return SegmentCodec::EncodeTo(
                                                 *segment, [&file](std::string_view piece) {
                                                   return file.Append(piece);
                                                 });
                                           });
      !s.ok()) {
    return s;
  }
  if (!options_.map_files) return segment;
  // The written file, mapped, replaces the heap columns. Should it not map or decode (the
  // file is durable and the next Open reads or quarantines it), the heap copy serves.
  absl::StatusOr<SegmentPtr> mapped = ReadSegment(path);
  return mapped.ok() ? *std::move(mapped) : segment;
}

absl::StatusOr<AppendResult> SegmentStore::Append(std::vector<Event> events) {
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].insert_id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("event ", i, " has no insert_id"));
    }
    if (events[i].user_id.empty() && events[i].device_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("event ", i, " has neither user_id nor device_id"));
    }
  }
  // Event indexes by project, projects in arrival order.
  std::vector<std::string> order;
  absl::flat_hash_map<std::string, std::vector<uint32_t>> by_project;
  for (size_t i = 0; i < events.size(); ++i) {
    auto [it, inserted] = by_project.try_emplace(events[i].project);
    if (inserted) order.push_back(events[i].project);
    it->second.push_back(static_cast<uint32_t>(i));
  }
  AppendResult result;
  absl::MutexLock lock(&write_mu_);
  for (const std::string& name : order) {
    Project& project = ProjectFor(name);
    std::vector<uint32_t> kept_indexes;
    std::vector<uint64_t> kept_hashes;
    {
      // Views of `events`, which stay in place until every event of the project is decided.
      absl::flat_hash_set<std::tuple<bool, std::string_view, std::string_view>> in_call;
      for (uint32_t i : by_project[name]) {
        const Event& e = events[i];
        if (e.time_ms < expire_before_ms_) {
          ++result.expired;
          continue;
        }
        const bool is_user = !e.user_id.empty();
        const std::string_view id = is_user ? e.user_id : e.device_id;
        const uint64_t hash = DedupHash(is_user, id, e.insert_id);
        if (!in_call.emplace(is_user, id, std::string_view(e.insert_id)).second ||
            IsStored(project, is_user, id, e.insert_id, hash)) {
          ++result.duplicates;
          continue;
        }
        kept_indexes.push_back(i);
        kept_hashes.push_back(hash);
      }
    }
    if (kept_indexes.empty()) continue;
    const int64_t count = static_cast<int64_t>(kept_indexes.size());
    std::vector<Event> kept;
    kept.reserve(kept_indexes.size());
    for (uint32_t i : kept_indexes) kept.push_back(std::move(events[i]));
    absl::StatusOr<SegmentPtr> segment = Segment::Build(name, std::move(kept));
    if (!segment.ok()) return segment.status();
    uint64_t sequence = next_sequence_++;
    absl::StatusOr<SegmentPtr> stored = WriteSegment(project, sequence, sequence, *segment);
    if (!stored.ok()) {
      // The file may exist without a durable directory entry: remove it so that a retry of the
      // call does not store the events twice.
      (void)options_.env->RemoveFile(Join(project.dir, SegmentName(sequence, sequence)));
      return stored.status();
    }
    project.segments.push_back(StoredSegment{sequence, sequence, *stored});
    for (uint64_t hash : kept_hashes) project.dedup_filter.Insert(hash);
    Publish(project, Change::kAppended, *std::move(stored));
    result.stored += count;
  }
  return result;
}

absl::StatusOr<int> SegmentStore::Merge() {
  absl::MutexLock lock(&write_mu_);
  int merges = 0;
  // Size tiers (segment_store.h): a segment of n events is in tier floor(log_F n).
  const uint64_t fan_in = std::max<uint64_t>(2, options_.merge_fan_in);
  auto tier = [fan_in](uint64_t n) {
    int t = 0;
    for (; n >= fan_in; n /= fan_in) ++t;
    return t;
  };
  for (auto& [name, project_ptr] : projects_) {
    Project& project = *project_ptr;
    size_t i = 0;
    while (i < project.segments.size()) {
      // The run of consecutive small segments of segment i's tier.
      const uint64_t first_count = project.segments[i].segment->event_count();
      size_t j = i;
      while (j < project.segments.size() &&
             project.segments[j].segment->event_count() < options_.merge_below_events &&
             tier(project.segments[j].segment->event_count()) == tier(first_count)) {
        ++j;
      }
      if (j - i < fan_in) {
        i = std::max(j, i + 1);
        continue;
      }
      // Column by column. Appends never store a duplicate; should files ever hold one anyway
      // (restored by hand, say), the earlier segment's copy wins as it would have at append.
      std::vector<const Segment*> sources;
      for (size_t k = i; k < j; ++k) sources.push_back(project.segments[k].segment.get());
      absl::StatusOr<SegmentPtr> merged = Segment::Merge(sources);
      if (!merged.ok()) return merged.status();
      uint64_t first = project.segments[i].first, last = project.segments[j - 1].last;
      merged = WriteSegment(project, first, last, *merged);
      if (!merged.ok()) return merged.status();
      std::vector<StoredSegment> inputs(project.segments.begin() + i, project.segments.begin() + j);
      project.segments.erase(project.segments.begin() + i, project.segments.begin() + j);
      project.segments.insert(project.segments.begin() + i,
                              StoredSegment{first, last, *std::move(merged)});
      Publish(project, Change::kReorganized);
      // The inputs are superseded by the merged file's range; removing them is housekeeping
      // (Open removes any that survive a crash here).
      for (const StoredSegment& input : inputs) {
        project.large_group_ids.erase(input.segment.get());
        (void)options_.env->RemoveFile(Join(project.dir, SegmentName(input.first, input.last)));
      }
      (void)options_.env->SyncDir(project.dir);
      ++merges;
      // The merged segment may complete a run of the next tier with its neighbours: look again
      // from the start of the run before it.
      while (i > 0 &&
             project.segments[i - 1].segment->event_count() < options_.merge_below_events) {
        --i;
      }
    }
  }
  return merges;
}

absl::StatusOr<int64_t> SegmentStore::DeleteUser(const std::string& project_name,
                                                 const std::string& user_id) {
  absl::MutexLock lock(&write_mu_);
  auto it = projects_.find(project_name);
  if (it == projects_.end() || user_id.empty()) return 0;
  Project& project = *it->second;
  // Devices first seen with this user: the earliest (time, insert_id, user_id) per device over
  // every event that carries both ids (docs/metrics.md, "Identity").
  using Seen = std::tuple<int64_t, std::string, std::string>;
  absl::flat_hash_map<std::string, Seen> first_user;
  for (const StoredSegment& stored : project.segments) {
    const Segment& s = *stored.segment;
    for (size_t g = 0; g < s.group_count(); ++g) {
      if (!s.group(g).is_user) continue;
      for (uint32_t e = s.group_begin(g); e < s.group_begin(g + 1); ++e) {
        if (s.device_code(e) == kNoCode) continue;
        Seen seen{s.time_ms(e), std::string(s.insert_id(e)), s.group(g).id};
        auto [slot, inserted] = first_user.try_emplace(s.devices()[s.device_code(e)], seen);
        if (!inserted && seen < slot->second) slot->second = std::move(seen);
      }
    }
  }
  absl::flat_hash_set<GroupKey> doomed = {GroupKey{true, user_id}};
  for (const auto& [device, seen] : first_user) {
    if (std::get<2>(seen) == user_id) doomed.insert(GroupKey{false, device});
  }
  return RewriteWithout(
      project, [&](const Segment& s, size_t g, uint32_t) { return doomed.contains(s.group(g)); });
}

absl::StatusOr<int64_t> SegmentStore::ExpireBefore(int64_t cutoff_ms) {
  absl::MutexLock lock(&write_mu_);
  if (cutoff_ms <= expire_before_ms_) return 0;
  expire_before_ms_ = cutoff_ms;
  int64_t deleted = 0;
  for (auto& [name, project] : projects_) {
    absl::StatusOr<int64_t> dropped = RewriteWithout(
        *project, [&](const Segment& s, size_t, uint32_t e) { return s.time_ms(e) < cutoff_ms; });
    if (!dropped.ok()) return dropped.status();
    deleted += *dropped;
  }
  return deleted;
}

template <typename DropFn>
absl::StatusOr<int64_t> SegmentStore::RewriteWithout(Project& project, DropFn drop) {
  int64_t deleted = 0;
  absl::Status failed;
  for (auto it = project.segments.begin(); it != project.segments.end();) {
    StoredSegment& stored = *it;
    const Segment& s = *stored.segment;
    std::vector<Event> keep;
    int64_t dropped = 0;
    for (size_t g = 0; g < s.group_count(); ++g) {
      for (uint32_t e = s.group_begin(g); e < s.group_begin(g + 1); ++e) {
        if (drop(s, g, e)) {
          ++dropped;
        } else {
          keep.push_back(s.ToEvent(e));
        }
      }
    }
    if (dropped == 0) {
      ++it;
      continue;
    }
    if (keep.empty()) {
      // Removed durably before the events leave the snapshot, so a crash cannot bring them back
      // after a deletion was reported done.
      std::string path = Join(project.dir, SegmentName(stored.first, stored.last));
      if (absl::Status st = options_.env->RemoveFile(path); !st.ok()) {
        failed = st;
        break;
      }
      if (absl::Status st = options_.env->SyncDir(project.dir); !st.ok()) {
        failed = st;
        break;
      }
      project.large_group_ids.erase(stored.segment.get());
      it = project.segments.erase(it);
      deleted += dropped;
      continue;
    }
    absl::StatusOr<SegmentPtr> rewritten = Segment::Build(project.name, std::move(keep));
    if (!rewritten.ok()) {
      failed = rewritten.status();
      break;
    }
    // Same name: the rename replaces the old file atomically.
    rewritten = WriteSegment(project, stored.first, stored.last, *rewritten);
    if (!rewritten.ok()) {
      failed = rewritten.status();
      break;
    }
    project.large_group_ids.erase(stored.segment.get());
    stored.segment = *std::move(rewritten);
    deleted += dropped;
    ++it;
  }
  if (deleted > 0) {
    // The removed events' hashes would only send lookups down the exact search, but they would
    // also keep their memory: rebuild the filter on the next Append.
    project.dedup_filter.Clear();
    project.dedup_filter_built = false;
    Publish(project, Change::kRemoved);
  }
  if (!failed.ok()) return failed;
  return deleted;
}

}  // namespace cohort::analytics::store
