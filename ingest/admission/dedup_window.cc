// A fixed table of fingerprints in four-way buckets, stamped with when they were remembered
// (dedup_window.h).
#include "ingest/admission/dedup_window.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

namespace cohort::ingest {

DedupWindow::DedupWindow(DedupWindowOptions options, Clock& clock)
    : options_(options),
      clock_(clock),
      epoch_(clock.Now()),
      window_ns_(absl::ToInt64Nanoseconds(options.window)),
      buckets_(options.window > absl::ZeroDuration()
                   ? std::max<size_t>(1, options.max_entries / kWays)
                   : 0) {}

int64_t DedupWindow::Stamp(absl::Time t) const {
  // + 1 keeps 0 for "empty"; a clock that stepped back before the epoch still stamps >= 1.
  return std::max<int64_t>(0, absl::ToInt64Nanoseconds(t - epoch_)) + 1;
}

DedupWindow::Bucket& DedupWindow::BucketOf(const Fingerprint& f) {
  // Lemire's multiply-shift maps the hash onto [0, buckets) without a division.
  const auto n = static_cast<unsigned __int128>(buckets_.size());
  return buckets_[static_cast<size_t>((static_cast<unsigned __int128>(f.first) * n) >> 64)];
}

DedupWindow::Fingerprint DedupWindow::FingerprintOf(const DedupKey& key) {
  // Two differently salted hashes of the same fields (absl::Hash frames each string with its
  // length, so field boundaries are unambiguous).
  const absl::string_view project(key.project.data(), key.project.size());
  const absl::string_view actor(key.actor.data(), key.actor.size());
  const absl::string_view id(key.id.data(), key.id.size());
  return {static_cast<uint64_t>(absl::HashOf(project, actor, id)),
          static_cast<uint64_t>(absl::HashOf(uint64_t{0x9e3779b97f4a7c15}, project, actor, id))};
}

std::vector<bool> DedupWindow::FilterNew(const std::vector<DedupKey>& keys,
                                         std::vector<Fingerprint>* fingerprints) {
  std::vector<bool> fresh(keys.size(), true);
  if (fingerprints != nullptr) fingerprints->assign(keys.size(), Fingerprint{0, 0});
  if (options_.window <= absl::ZeroDuration()) return fresh;
  // Hashed before the lock is taken: the lock then covers only the table.
  std::vector<Fingerprint> local;
  std::vector<Fingerprint>& f = fingerprints != nullptr ? *fingerprints : local;
  if (fingerprints == nullptr) f.assign(keys.size(), Fingerprint{0, 0});
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!keys[i].id.empty()) f[i] = FingerprintOf(keys[i]);
  }
  absl::flat_hash_set<Fingerprint> in_request;
  in_request.reserve(keys.size());
  absl::MutexLock lock(&mu_);
  const int64_t horizon = Stamp(clock_.Now()) - window_ns_;  // remembered after it: in the window
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].id.empty()) continue;
    const bool repeated = !in_request.insert(f[i]).second;
    bool seen = false;
    for (const Slot& slot : BucketOf(f[i]).slots) {
      seen |= slot.a == f[i].first && slot.b == f[i].second && slot.when > horizon;
    }
    if (repeated || seen) {
      fresh[i] = false;
      ++duplicates_;
    }
  }
  return fresh;
}

void DedupWindow::Remember(const std::vector<DedupKey>& keys) {
  std::vector<Fingerprint> fingerprints;
  fingerprints.reserve(keys.size());
  for (const DedupKey& key : keys) {
    if (!key.id.empty()) fingerprints.push_back(FingerprintOf(key));
  }
  RememberFingerprints(fingerprints);
}

void DedupWindow::RememberFingerprints(const std::vector<Fingerprint>& fingerprints) {
  if (options_.window <= absl::ZeroDuration()) return;
  absl::MutexLock lock(&mu_);
  const int64_t now = Stamp(clock_.Now());
  const int64_t horizon = now - window_ns_;
  for (const Fingerprint& f : fingerprints) {
    Bucket& bucket = BucketOf(f);
    // The slot to (re)use: the fingerprint's own, else an empty one, else the oldest.
    Slot* target = nullptr;
    for (Slot& slot : bucket.slots) {
      if (slot.when != 0 && slot.a == f.first && slot.b == f.second) {
        target = &slot;
        break;
      }
      if (target == nullptr || slot.when < target->when) target = &slot;
    }
    if (target->when == 0) {
      ++entries_;
    } else if (target->when > horizon && (target->a != f.first || target->b != f.second)) {
      ++evicted_early_;
    }
    *target = {f.first, f.second, now};
  }
}

DedupWindowStats DedupWindow::stats() const {
  absl::MutexLock lock(&mu_);
  return {entries_, duplicates_, evicted_early_};
}

}  // namespace cohort::ingest
