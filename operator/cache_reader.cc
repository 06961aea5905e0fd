#include "operator/cache_reader.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cohort::op {

void CacheReader::Add(const ResourceType& type, Informer& informer) {
  informers_[type.GroupResource()] = &informer;
}

Informer* CacheReader::Find(const ResourceType& type) const {
  auto it = informers_.find(type.GroupResource());
  return it == informers_.end() ? nullptr : it->second;
}

absl::StatusOr<JsonPtr> CacheReader::Get(const ResourceType& type, std::string_view ns,
                                         std::string_view name) {
  if (Informer* informer = Find(type)) return informer->Get(ns, name);
  return fallback_.Get(type, ns, name);
}

absl::StatusOr<std::vector<JsonPtr>> CacheReader::List(const ResourceType& type,
                                                       std::string_view ns,
                                                       const std::string& label_selector) {
  Informer* informer = Find(type);
  const std::string prefix = absl::StrCat(kOwnerUidLabel, "=");
  // Only the applier's own selector, one equality on the owner uid, is answered from the index.
  if (informer == nullptr || !absl::StartsWith(label_selector, prefix) ||
      absl::StrContains(label_selector, ",")) {
    return fallback_.List(type, ns, label_selector);
  }
  const std::string uid = label_selector.substr(prefix.size());
  std::vector<JsonPtr> out;
  for (ObjectPtr& object : informer->ByIndex(kOwnerUidIndex, uid)) {
    const nlohmann::json& meta = (*object)["metadata"];
    if (!ns.empty() && meta.value("namespace", "") != ns) continue;
    // The owner index holds every owner reference; the selector asks for the label.
    const nlohmann::json labels = meta.value("labels", nlohmann::json::object());
    if (labels.value(kOwnerUidLabel, "") != uid) continue;
    out.push_back(std::move(object));
  }
  return out;
}

}  // namespace cohort::op
