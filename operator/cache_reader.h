// An ObjectReader (applier.h) over informer caches: the applier's reads of live children cost no
// API call when the reconciler already watches those kinds. Gets of a cached type read the cache;
// Lists by the owner-uid selector read the owner index (kOwnerUidIndex). Anything else goes to the
// fallback reader.
//
// A cache may lag the server by a watch event: a child created a moment ago may look missing (the
// applier then applies it again, idempotently) and a deleted one present (pruned again: NotFound,
// which the applier ignores). Reconciles triggered by the watch event then see the new state.
//
// Thread-safe once set up (Add before use). Borrows the informers and the fallback.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "operator/applier.h"
#include "operator/informer.h"

namespace cohort::op {

class CacheReader final : public ObjectReader {
 public:
  explicit CacheReader(ObjectReader& fallback) : fallback_(fallback) {}

  // Reads of `type` go to `informer`, which must cache full objects of that type in every
  // namespace the reader is asked about, including every child the applier may read.
  void Add(const ResourceType& type, Informer& informer);

  absl::StatusOr<JsonPtr> Get(const ResourceType& type, std::string_view ns,
                              std::string_view name) override;
  absl::StatusOr<std::vector<JsonPtr>> List(const ResourceType& type, std::string_view ns,
                                            const std::string& label_selector) override;

 private:
  Informer* Find(const ResourceType& type) const;

  ObjectReader& fallback_;
  absl::flat_hash_map<std::string, Informer*> informers_;  // by GroupResource()
};

}  // namespace cohort::op
