// Langfuse creates are upserts: a trace, span or generation may arrive as a create followed by
// creates/updates for the same id, each carrying some fields. The assembler merges items by
// (family, body id) — later non-null fields win, metadata objects merge key by key — and decides
// when an entity becomes an analytics event (event_mapping.h):
//   - a span or generation when its merged state has an endTime (Dify sends finished
//     observations, so usually at once; an SDK sending create then update emits at the update);
//   - a trace at the first item after which it has a name (Dify sends each trace once, named;
//     SDKs that announce a bare trace id first emit once the name arrives). Later trace updates
//     refresh the context its observations inherit (user, conversation, app) but make no second
//     event: one trace, one event;
//   - an event-create or score-create at once; sdk-log never.
// An entity makes at most one event, with an insert id derived from (family, body id), so a
// retried or duplicated item never makes a second event (within this replica's state; across
// restarts and replicas the dedup window and the store's dedup see the same insert id).
//
// Two phases, so that a request the intake refuses (429/503) leaves no trace: Apply merges and
// returns the events of entities that became complete; MarkEmitted records them once stored. A
// refused request's items are merged (idempotent: the retry merges the same fields again) but
// not marked, so the retry emits them again.
//
// Memory is bounded: at most max_entities entities and max_bytes of merged bodies (input and
// output are not kept unless capture_content), least recently touched evicted first, and
// entities untouched for `ttl` expire. An observation evicted before its endTime never becomes
// an event (counted in evicted_pending()); an observation whose trace was evicted gets a device
// id instead of the user (event_mapping.h).
//
// Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "ingest/event/event.h"
#include "ingest/langfuse/event_mapping.h"
#include "ingest/langfuse/ingestion_request.h"

namespace cohort::ingest::langfuse {

struct AssemblerOptions {
  int64_t max_entities = 100000;
  int64_t max_bytes = int64_t{64} << 20;
  absl::Duration ttl = absl::Hours(1);
  bool capture_content = false;
  Clock* clock = &RealClock::Get();  // must outlive the assembler
};

// What became of one item.
enum class Disposition {
  kEvent,    // its entity became an event in this Apply
  kPending,  // merged; its entity is not complete yet (an observation without endTime)
  kMerged,   // merged into an entity that already made its event
  kSystem,   // its entity is not user activity (conversation-name generation): no event
  kNoEvent,  // a family that makes no event (sdk-log)
};
std::string_view DispositionName(Disposition disposition);

struct Assembly {
  std::vector<Event> events;
  std::vector<std::string> entity_keys;   // parallel to events: pass to MarkEmitted
  std::vector<Disposition> dispositions;  // parallel to Apply's items
};

class TraceAssembler {
 public:
  explicit TraceAssembler(AssemblerOptions options);
  TraceAssembler(const TraceAssembler&) = delete;
  TraceAssembler& operator=(const TraceAssembler&) = delete;

  // Merges `items` in order and returns the events of the entities that became complete and
  // have not been marked emitted. `received_ms` is the request's arrival (ms since epoch).
  Assembly Apply(const std::vector<Item>& items, int64_t received_ms) ABSL_LOCKS_EXCLUDED(mu_);

  // Records that the events of `entity_keys` (from an Assembly) are stored.
  void MarkEmitted(const std::vector<std::string>& entity_keys) ABSL_LOCKS_EXCLUDED(mu_);

  int64_t size() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t bytes() const ABSL_LOCKS_EXCLUDED(mu_);
  int64_t evicted_pending() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct State {
    Entity entity;
    bool emitted = false;
    int64_t bytes = 0;
    absl::Time touched;
    std::list<std::string>::iterator lru;  // position in lru_ (front: most recent)
  };

  State* Touch(const std::string& key, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Erase(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Evict(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Disposition ApplyItem(const Item& item, absl::Time now, Assembly& out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AssemblerOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, State> states_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);
  int64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t evicted_pending_ ABSL_GUARDED_BY(mu_) = 0;
};

// The state key of (family, body id).
std::string EntityKey(Family family, std::string_view body_id);

}  // namespace cohort::ingest::langfuse
