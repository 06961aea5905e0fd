// An informer: keeps a local cache of one resource exact by listing, then watching from the list's
// resourceVersion, and tells handlers about every change. Modelled on client-go's reflector and
// kube-rs's watcher:
//   - watches ask for bookmarks and a random 5–10 min server timeout, and re-watch from the last
//     resourceVersion seen when the server ends them;
//   - 410 Gone (an HTTP answer or an in-stream ERROR event) relists and delivers the differences
//     (adds, updates, deletes) against the cache;
//   - failures reconnect with exponential backoff and jitter (800 ms → 30 s, reset after 2 min of
//     health);
//   - a connection that delivers no bytes for `stall_timeout` (bookmarks arrive about once a
//   minute)
//     is declared dead, closed and re-watched.
// Scope: all namespaces, or a list of namespaces (one list+watch each, for namespaced RBAC), with
// label/field selectors; full objects or metadata only (PartialObjectMetadata, so Secrets' values
// never reach the operator); a transform applied before caching (by default it drops
// metadata.managedFields, which is most of an object's bytes and nothing a reconciler reads).
//
// Thread-safe. Handlers run on the informer's threads: watch events one at a time per watched
// namespace, in order; resync replays on a thread of their own, so a replay may run at the same
// time as an event's handler and replay an object a moment older than the one just delivered.
// Handlers must therefore be thread-safe and level-triggered — quick, enqueueing a key to be read
// from the cache later — and must not call Stop(). on_delete receives the object as last cached.
// Borrows the client and the clock, which must outlive it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"
#include "operator/kube_client.h"
#include "operator/resource.h"

namespace cohort::op {

using ObjectPtr = std::shared_ptr<const nlohmann::json>;

// Computes index values for an object (e.g. its namespace, its owners' uids).
using IndexFunc = std::function<std::vector<std::string>(const nlohmann::json& object)>;

struct InformerHandler {
  std::function<void(const ObjectPtr& object)> on_add;
  std::function<void(const ObjectPtr& old_object, const ObjectPtr& new_object)> on_update;
  std::function<void(const ObjectPtr& object)> on_delete;
};

struct InformerOptions {
  ResourceType type;
  std::vector<std::string> namespaces;  // empty: all namespaces (or a cluster-scoped type)
  std::string label_selector;
  std::string field_selector;
  bool metadata_only = false;
  // Applied to every object before it is cached; default: drop metadata.managedFields.
  std::function<void(nlohmann::json& object)> transform;
  int64_t list_page_size = 500;
  absl::Duration min_watch_timeout = absl::Minutes(5);   // the server timeout is random in
  absl::Duration max_watch_timeout = absl::Minutes(10);  // [min, max)
  absl::Duration stall_timeout = absl::Seconds(150);
  absl::Duration initial_backoff = absl::Milliseconds(800);
  absl::Duration max_backoff = absl::Seconds(30);
  absl::Duration backoff_reset_after = absl::Minutes(2);
  // Every period, handlers get on_update(obj, obj) for every cached object (controller-runtime's
  // resync: it replays the cache and reads nothing from the server). Zero: never.
  absl::Duration resync_period = absl::ZeroDuration();
  // Keep each cached object as its CBOR encoding and decode it on every read (Get, List, ByIndex,
  // and the old object of an update), instead of keeping the parsed tree. A parsed
  // nlohmann::json of a typical Kubernetes object takes about 7 times its JSON text (a map node
  // per field); CBOR takes about 0.8 times. The price is a decode per object read (tens of
  // microseconds per KB) and a fresh tree for each read: two reads of one unchanged object give
  // two pointers, except that a resync hands the same pointer as old and new.
  bool compact_cache = false;
};

// The drop-managedFields transform.
void StripManagedFields(nlohmann::json& object);

// The cache key of an object: "namespace/name", or "name" for cluster-scoped objects.
std::string ObjectKey(const nlohmann::json& object);
std::string ObjectKey(std::string_view ns, std::string_view name);

// Built-in indexes.
inline constexpr char kNamespaceIndex[] = "namespace";
inline constexpr char kOwnerUidIndex[] = "owner-uid";  // every ownerReferences[].uid

class Informer {
 public:
  Informer(KubeClient& client, InformerOptions options, Clock& clock = RealClock::Get());
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;
  // Stops if running.
  ~Informer();

  // Before Start(): more handlers and indexes.
  void AddHandler(InformerHandler handler) ABSL_LOCKS_EXCLUDED(mu_);
  void AddIndex(const std::string& name, IndexFunc func) ABSL_LOCKS_EXCLUDED(mu_);

  void Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the watches, joins the threads. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // True once the first list of every watched namespace is in the cache.
  bool HasSynced() const ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until HasSynced() or the deadline (on the informer's clock). Returns HasSynced().
  bool WaitForSync(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  // Cache reads: no API calls. Objects are immutable and shared; hold the pointer as long as
  // needed. Every cached object has apiVersion and kind (filled in from the type when the server
  // leaves them out, as it does for list items of built-in types).
  ObjectPtr Get(std::string_view ns, std::string_view name) const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<ObjectPtr> List(std::string_view ns = "") const ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<ObjectPtr> ByIndex(const std::string& index, const std::string& value) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // The cache keys (ObjectKey) of the objects ByIndex would return, sorted, without reading
  // or decoding any object: what an event handler that maps to keys wants. (With compact_cache,
  // ByIndex decodes every match: a Secret shared by 1,000 pipelines meant 1,000 trees alive at
  // once in each resync.)
  std::vector<std::string> KeysByIndex(const std::string& index, const std::string& value) const
      ABSL_LOCKS_EXCLUDED(mu_);
  size_t Size() const ABSL_LOCKS_EXCLUDED(mu_);

  // Observability: relists (410 or first list), watch (re)starts, stalls detected.
  struct Stats {
    int64_t lists = 0;
    int64_t relists_after_gone = 0;
    int64_t watches = 0;       // watch requests made
    int64_t watches_open = 0;  // of them, answered with a stream
    int64_t stalls = 0;
    int64_t events = 0;
  };
  Stats stats() const ABSL_LOCKS_EXCLUDED(mu_);

  // The options it runs with (a Manager's informer: after the manager's defaults).
  const InformerOptions& options() const { return options_; }

 private:
  struct Scope;  // one namespace's list+watch loop

  void Run(Scope& scope);
  // Lists and replaces the scope's part of the cache; returns the list's resourceVersion.
  absl::StatusOr<std::string> ListAndReplace(Scope& scope);
  // Watches from `rv` until the watch ends; returns the next resourceVersion to watch from, or
  // an error (IsGone → relist).
  absl::Status Watch(Scope& scope, std::string& rv);
  void Upsert(nlohmann::json object) ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(const nlohmann::json& object) ABSL_LOCKS_EXCLUDED(mu_);
  void IndexLocked(const std::string& key, const ObjectPtr& object, bool add)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One cache entry: the tree, or its CBOR when options_.compact_cache.
  struct Cached {
    ObjectPtr object;
    std::shared_ptr<const std::string> cbor;
    std::string resource_version;
  };
  Cached Encode(const ObjectPtr& object) const;
  // Every entry of the cache (shared, not copied), taken under the lock.
  std::vector<Cached> Entries() const ABSL_LOCKS_EXCLUDED(mu_);
  static ObjectPtr Decode(const Cached& cached);
  // The keys index `index` holds for `value` (some may have left the cache), or nullptr.
  const absl::flat_hash_set<std::string>* IndexedLocked(const std::string& index,
                                                        const std::string& value) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sleeps on the clock; returns false if Stop() was called meanwhile.
  bool SleepUnlessStopped(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Duration Jitter(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  void ResyncLoop();

  KubeClient& client_;
  const InformerOptions options_;
  Clock& clock_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<InformerHandler> handlers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, IndexFunc> index_funcs_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Cached> items_ ABSL_GUARDED_BY(mu_);
  // index name → value → keys
  absl::flat_hash_map<std::string,
                      absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>>>
      indexes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Scope>> scopes_ ABSL_GUARDED_BY(mu_);
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_;  // touched only by Start/Stop
};

}  // namespace cohort::op
