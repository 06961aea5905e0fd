// A hash map of fingerprints plus an arrival-ordered queue for expiry (dedup_window.h).
#include "ingest/admission/dedup_window.h"

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"

namespace cohort::ingest {

DedupWindow::DedupWindow(DedupWindowOptions options, Clock& clock)
    : options_(options), clock_(clock) {}

DedupWindow::Fingerprint DedupWindow::FingerprintOf(const DedupKey& key) {
  // Two differently salted hashes of the same fields (absl::Hash frames each string with its
  // length, so field boundaries are unambiguous).
  const absl::string_view project(key.project.data(), key.project.size());
  const absl::string_view actor(key.actor.data(), key.actor.size());
  const absl::string_view id(key.id.data(), key.id.size());
  return {static_cast<uint64_t>(absl::HashOf(project, actor, id)),
          static_cast<uint64_t>(absl::HashOf(uint64_t{0x9e3779b97f4a7c15}, project, actor, id))};
}

void DedupWindow::ExpireLocked(absl::Time now) {
  const absl::Time horizon = now - options_.window;
  while (!order_.empty() &&
         (order_.front().first <= horizon || order_.size() > options_.max_entries)) {
    const auto [when, fingerprint] = order_.front();
    order_.pop_front();
    auto it = seen_.find(fingerprint);
    if (it == seen_.end() || it->second != when) continue;  // remembered again later
    if (when > horizon) ++evicted_early_;
    seen_.erase(it);
  }
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
  const absl::Time now = clock_.Now();
  ExpireLocked(now);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].id.empty()) continue;
    const bool repeated = !in_request.insert(f[i]).second;
    auto it = seen_.find(f[i]);
    const bool seen = it != seen_.end() && it->second > now - options_.window;
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
  const absl::Time now = clock_.Now();
  for (const Fingerprint& f : fingerprints) {
    seen_[f] = now;
    order_.emplace_back(now, f);
  }
  ExpireLocked(now);
}

DedupWindowStats DedupWindow::stats() const {
  absl::MutexLock lock(&mu_);
  return {seen_.size(), duplicates_, evicted_early_};
}

}  // namespace cohort::ingest
