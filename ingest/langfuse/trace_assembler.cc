// Merging Langfuse upserts and deciding when entities become events (trace_assembler.h).
#include "ingest/langfuse/trace_assembler.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace cohort::ingest::langfuse {
namespace {

using nlohmann::json;

// Later non-null fields win; metadata objects merge key by key. Prompt and answer text are not
// kept unless the pipeline captures content.
void Merge(json& into, const json& from, bool capture_content) {
  for (const auto& [key, value] : from.items()) {
    if (value.is_null()) continue;
    if (!capture_content && (key == "input" || key == "output")) continue;
    if (key == "metadata" && value.is_object()) {
      json& m = into[key];
      if (!m.is_object()) m = json::object();
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_null()) m[mk] = mv;
      }
      continue;
    }
    into[key] = value;
  }
}

bool HasNonEmpty(const json& body, std::string_view key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

bool IsComplete(const Entity& entity) {
  switch (entity.family) {
    case Family::kTrace:
      return HasNonEmpty(entity.body, "name");
    case Family::kSpan:
    case Family::kGeneration:
      return HasNonEmpty(entity.body, "endTime");
    case Family::kEvent:
    case Family::kScore:
      return true;
    case Family::kLog:
      return false;
  }
  return false;
}

}  // namespace

std::string_view DispositionName(Disposition disposition) {
  switch (disposition) {
    case Disposition::kEvent:
      return "event";
    case Disposition::kPending:
      return "pending";
    case Disposition::kMerged:
      return "merged";
    case Disposition::kSystem:
      return "system";
    case Disposition::kNoEvent:
      return "no_event";
  }
  return "unknown";
}

std::string EntityKey(Family family, std::string_view body_id) {
  return absl::StrCat(std::string(FamilyName(family)), "\n", std::string(body_id));
}

TraceAssembler::TraceAssembler(AssemblerOptions options) : options_(std::move(options)) {}

TraceAssembler::State* TraceAssembler::Touch(const std::string& key, absl::Time now) {
  auto [it, inserted] = states_.try_emplace(key);
  State& s = it->second;
  if (inserted) {
    lru_.push_front(key);
  } else {
    lru_.splice(lru_.begin(), lru_, s.lru);
  }
  s.lru = lru_.begin();
  s.touched = now;
  return &s;
}

void TraceAssembler::Erase(const std::string& key) {
  auto it = states_.find(key);
  if (it == states_.end()) return;
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  states_.erase(it);
}

void TraceAssembler::Evict(absl::Time now) {
  while (!lru_.empty()) {
    const std::string key = lru_.back();
    const State& s = states_.at(key);
    const bool over = static_cast<int64_t>(states_.size()) > options_.max_entities ||
                      bytes_ > options_.max_bytes || s.touched + options_.ttl < now;
    if (!over) break;
    if (!s.emitted &&
        (s.entity.family == Family::kSpan || s.entity.family == Family::kGeneration)) {
      ++evicted_pending_;
    }
    Erase(key);
  }
}

Disposition TraceAssembler::ApplyItem(const Item& item, absl::Time now, Assembly& out) {
  if (item.family == Family::kLog) return Disposition::kNoEvent;
  const std::string key = EntityKey(item.family, item.body_id);
  State* s = Touch(key, now);
  if (s->entity.body.is_null()) {
    s->entity.family = item.family;
    s->entity.id = item.body_id;
    s->entity.body = json::object();
    s->entity.first_item_ms = item.timestamp_ms;
  }
  // An emitted observation keeps no body (MarkEmitted): later items for it change nothing.
  if (s->emitted && item.family != Family::kTrace) return Disposition::kMerged;
  Merge(s->entity.body, item.body, options_.capture_content);
  bytes_ -= s->bytes;
  s->bytes = static_cast<int64_t>(
      key.size() + s->entity.body.dump(-1, ' ', false, json::error_handler_t::replace).size());
  bytes_ += s->bytes;
  if (s->emitted) return Disposition::kMerged;
  if (!IsComplete(s->entity)) return Disposition::kPending;
  for (const std::string& k : out.entity_keys) {
    if (k == key) return Disposition::kEvent;  // already due in this batch
  }
  out.entity_keys.push_back(key);
  return Disposition::kEvent;
}

Assembly TraceAssembler::Apply(const std::vector<Item>& items, int64_t received_ms) {
  const absl::Time now = options_.clock->Now();
  const MappingOptions mapping{options_.capture_content, received_ms};
  Assembly out;
  out.dispositions.reserve(items.size());
  absl::MutexLock lock(&mu_);
  for (const Item& item : items) out.dispositions.push_back(ApplyItem(item, now, out));

  // Map once every item of the batch is merged, so a create + update in one batch makes one
  // event with both, and observations see a trace sent later in the same batch.
  std::vector<std::string> keys = std::move(out.entity_keys);
  out.entity_keys.clear();
  for (const std::string& key : keys) {
    const State& s = states_.at(key);
    const json* trace = nullptr;
    if (s.entity.family != Family::kTrace) {
      auto t = s.entity.body.find("traceId");
      if (t != s.entity.body.end() && t->is_string()) {
        auto ts = states_.find(EntityKey(Family::kTrace, t->get_ref<const std::string&>()));
        if (ts != states_.end()) trace = &ts->second.entity.body;
      }
    }
    std::optional<Event> event = EntityToEvent(s.entity, trace, mapping);
    if (!event.has_value()) {
      for (size_t i = 0; i < items.size(); ++i) {
        if (out.dispositions[i] == Disposition::kEvent &&
            EntityKey(items[i].family, items[i].body_id) == key) {
          out.dispositions[i] = Disposition::kSystem;
        }
      }
      continue;
    }
    out.events.push_back(std::move(*event));
    out.entity_keys.push_back(key);
  }
  Evict(now);
  return out;
}

void TraceAssembler::MarkEmitted(const std::vector<std::string>& entity_keys) {
  absl::MutexLock lock(&mu_);
  for (const std::string& key : entity_keys) {
    auto it = states_.find(key);
    if (it == states_.end()) continue;
    it->second.emitted = true;
    // An emitted observation is only remembered to refuse a second event: drop its body.
    if (it->second.entity.family != Family::kTrace) {
      bytes_ -= it->second.bytes;
      it->second.entity.body = json::object();
      it->second.bytes = static_cast<int64_t>(key.size());
      bytes_ += it->second.bytes;
    }
  }
}

int64_t TraceAssembler::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(states_.size());
}

int64_t TraceAssembler::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

int64_t TraceAssembler::evicted_pending() const {
  absl::MutexLock lock(&mu_);
  return evicted_pending_;
}

}  // namespace cohort::ingest::langfuse
