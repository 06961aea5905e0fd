#include "operator/informer.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "operator/api_error.h"
#include "operator/watch_decoder.h"
#include "spdlog/spdlog.h"

namespace cohort::op {

using nlohmann::json;

namespace {

std::string StringField(const json& object, const char* field) {
  auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return "";
  auto f = m->find(field);
  return f != m->end() && f->is_string() ? f->get<std::string>() : "";
}

}  // namespace

void StripManagedFields(json& object) {
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
    m->erase("managedFields");
  }
}

std::string ObjectKey(std::string_view ns, std::string_view name) {
  return ns.empty() ? std::string(name) : absl::StrCat(std::string(ns), "/", std::string(name));
}

std::string ObjectKey(const json& object) {
  return ObjectKey(StringField(object, "namespace"), StringField(object, "name"));
}

// One namespace's (or all namespaces') list+watch loop and its current stream.
struct Informer::Scope {
  std::string ns;  // "" for all namespaces / cluster-scoped
  bool synced = false;
  absl::flat_hash_set<std::string> keys;  // cache keys this scope listed or watched
  HttpStream* stream = nullptr;           // guarded by Informer::mu_, for Stop()
};

Informer::Informer(KubeClient& client, InformerOptions options, Clock& clock)
    : client_(client), options_(std::move(options)), clock_(clock), rng_(std::random_device{}()) {
  index_funcs_[kNamespaceIndex] = [](const json& o) {
    return std::vector<std::string>{StringField(o, "namespace")};
  };
  index_funcs_[kOwnerUidIndex] = [](const json& o) {
    std::vector<std::string> uids;
    if (auto m = o.find("metadata"); m != o.end() && m->is_object()) {
      if (auto refs = m->find("ownerReferences"); refs != m->end() && refs->is_array()) {
        for (const json& r : *refs) {
          if (r.is_object() && r.contains("uid") && r["uid"].is_string()) uids.push_back(r["uid"]);
        }
      }
    }
    return uids;
  };
}

Informer::~Informer() { Stop(); }

void Informer::AddHandler(InformerHandler handler) {
  absl::MutexLock lock(&mu_);
  handlers_.push_back(std::move(handler));
}

void Informer::AddIndex(const std::string& name, IndexFunc func) {
  absl::MutexLock lock(&mu_);
  index_funcs_[name] = std::move(func);
}

void Informer::Start() {
  std::vector<Scope*> scopes;
  {
    absl::MutexLock lock(&mu_);
    if (started_) return;
    started_ = true;
    std::vector<std::string> namespaces = options_.namespaces;
    if (namespaces.empty() || !options_.type.namespaced) namespaces = {""};
    for (const std::string& ns : namespaces) {
      scopes_.push_back(std::make_unique<Scope>());
      scopes_.back()->ns = ns;
      scopes.push_back(scopes_.back().get());
    }
  }
  for (Scope* scope : scopes) threads_.emplace_back([this, scope] { Run(*scope); });
  if (options_.resync_period > absl::ZeroDuration())
    threads_.emplace_back([this] { ResyncLoop(); });
}

void Informer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& scope : scopes_) {
      if (scope->stream != nullptr) scope->stream->Cancel();
    }
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

bool Informer::HasSynced() const {
  absl::MutexLock lock(&mu_);
  if (scopes_.empty()) return false;
  return std::all_of(scopes_.begin(), scopes_.end(), [](const auto& s) { return s->synced; });
}

bool Informer::WaitForSync(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto synced = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || (!scopes_.empty() && std::all_of(scopes_.begin(), scopes_.end(),
                                                         [](const auto& s) { return s->synced; }));
  };
  clock_.AwaitWithDeadline(mu_, absl::Condition(&synced), deadline);
  return !scopes_.empty() &&
         std::all_of(scopes_.begin(), scopes_.end(), [](const auto& s) { return s->synced; });
}

bool Informer::SleepUnlessStopped(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  clock_.AwaitWithDeadline(mu_, absl::Condition(&stopping_), clock_.Now() + d);
  return !stopping_;
}

absl::Duration Informer::Jitter(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  std::uniform_real_distribution<double> factor(1.0, 1.5);
  return d * factor(rng_);
}

void Informer::Run(Scope& scope) {
  absl::Duration backoff = options_.initial_backoff;
  std::string rv;
  bool need_list = true;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const absl::Time attempt_start = clock_.Now();
    absl::Status failure;
    if (need_list) {
      absl::StatusOr<std::string> listed = ListAndReplace(scope);
      if (listed.ok()) {
        rv = *listed;
        need_list = false;
      } else {
        failure = listed.status();
      }
    }
    if (failure.ok()) {
      failure = Watch(scope, rv);
      if (apierrors::IsGone(failure)) {
        // The resourceVersion is compacted away: only a relist can make the cache exact again.
        absl::MutexLock lock(&mu_);
        ++stats_.relists_after_gone;
        need_list = true;
        continue;
      }
    }
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (clock_.Now() - attempt_start >= options_.backoff_reset_after) {
      backoff = options_.initial_backoff;  // it was healthy for a while: start over
    }
    if (failure.ok()) continue;  // the server ended the watch normally: re-watch now
    spdlog::warn("informer {} {}: {}; retrying in about {}", options_.type.GroupResource(),
                 scope.ns.empty() ? "(all namespaces)" : scope.ns, failure.ToString(),
                 absl::FormatDuration(backoff));
    if (!SleepUnlessStopped(Jitter(backoff))) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

absl::StatusOr<std::string> Informer::ListAndReplace(Scope& scope) {
  ListOptions list;
  list.label_selector = options_.label_selector;
  list.field_selector = options_.field_selector;
  list.limit = options_.list_page_size;
  list.metadata_only = options_.metadata_only;
  absl::StatusOr<ListPage> page = client_.ListAll(options_.type, scope.ns, list);
  if (!page.ok()) return page.status();

  absl::flat_hash_set<std::string> seen;
  for (json& item : page->items) {
    seen.insert(ObjectKey(item));
    Upsert(std::move(item));
  }
  // Whatever this scope had cached but the list no longer holds was deleted while we were not
  // watching: deliver the deletes.
  std::vector<ObjectPtr> gone;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& key : scope.keys) {
      if (seen.contains(key)) continue;
      auto it = items_.find(key);
      if (it == items_.end()) continue;
      ObjectPtr object = Decode(it->second);
      IndexLocked(key, object, /*add=*/false);
      gone.push_back(std::move(object));
      items_.erase(it);
    }
    scope.keys = std::move(seen);
    scope.synced = true;
    ++stats_.lists;
  }
  std::vector<InformerHandler> handlers;
  {
    absl::MutexLock lock(&mu_);
    handlers = handlers_;
  }
  for (const ObjectPtr& o : gone) {
    for (const InformerHandler& h : handlers) {
      if (h.on_delete) h.on_delete(o);
    }
  }
  return page->resource_version;
}

absl::Status Informer::Watch(Scope& scope, std::string& rv) {
  std::uniform_int_distribution<int64_t> timeout_dist(
      absl::ToInt64Seconds(options_.min_watch_timeout),
      std::max(absl::ToInt64Seconds(options_.min_watch_timeout),
               absl::ToInt64Seconds(options_.max_watch_timeout) - 1));
  WatchOptions watch;
  watch.resource_version = rv;
  watch.label_selector = options_.label_selector;
  watch.field_selector = options_.field_selector;
  watch.allow_bookmarks = true;
  watch.metadata_only = options_.metadata_only;
  {
    absl::MutexLock lock(&mu_);
    watch.timeout_seconds = timeout_dist(rng_);
    ++stats_.watches;
  }
  absl::StatusOr<std::unique_ptr<HttpStream>> stream =
      client_.Watch(options_.type, scope.ns, watch);
  if (!stream.ok()) return stream.status();
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::CancelledError("stopping");
    scope.stream = stream->get();
    ++stats_.watches_open;
  }
  // Clears scope.stream before the stream is destroyed, whatever path returns.
  struct Detach {
    Informer* self;
    Scope* scope;
    ~Detach() {
      absl::MutexLock lock(&self->mu_);
      scope->stream = nullptr;
    }
  } detach{this, &scope};

  WatchDecoder decoder;
  std::optional<absl::Status> ended;  // set once the server ended the watch
  while (!ended.has_value()) {
    absl::StatusOr<std::string> chunk = (*stream)->Read(options_.stall_timeout);
    if (!chunk.ok()) {
      if (chunk.status().code() == absl::StatusCode::kDeadlineExceeded) {
        absl::MutexLock lock(&mu_);
        ++stats_.stalls;
        return absl::UnavailableError(absl::StrCat("watch stalled: no bytes for ",
                                                   absl::FormatDuration(options_.stall_timeout)));
      }
      return chunk.status();
    }
    if (chunk->empty()) {
      // The server ended the watch (its timeout). Finish() queues a last event that lacks its
      // '\n': it is delivered below like any other before the watch returns.
      ended = decoder.Finish();
    } else {
      decoder.Feed(*chunk);
    }
    while (std::optional<WatchEvent> event = decoder.Next()) {
      switch (event->type) {
        case WatchEventType::kError:
          return event->error;
        case WatchEventType::kBookmark:
          break;
        case WatchEventType::kAdded:
        case WatchEventType::kModified: {
          const std::string key = ObjectKey(event->object);
          {
            absl::MutexLock lock(&mu_);
            scope.keys.insert(key);
            ++stats_.events;
          }
          Upsert(std::move(event->object));
          break;
        }
        case WatchEventType::kDeleted: {
          {
            absl::MutexLock lock(&mu_);
            scope.keys.erase(ObjectKey(event->object));
            ++stats_.events;
          }
          Remove(event->object);
          break;
        }
      }
      if (!event->resource_version.empty()) rv = event->resource_version;
    }
  }
  return *ended;
}

void Informer::Upsert(json object) {
  // List items of built-in types come without apiVersion and kind; cached objects always have
  // them, so readers can build owner references and object references from any cached object.
  if (object.is_object()) {
    if (!object.contains("apiVersion")) {
      object["apiVersion"] = options_.metadata_only ? "meta.k8s.io/v1" : options_.type.ApiVersion();
    }
    if (!object.contains("kind")) {
      object["kind"] = options_.metadata_only ? "PartialObjectMetadata" : options_.type.kind;
    }
  }
  if (options_.transform) {
    options_.transform(object);
  } else {
    StripManagedFields(object);
  }
  const std::string key = ObjectKey(object);
  auto fresh = std::make_shared<const json>(std::move(object));
  Cached cached = Encode(fresh);
  ObjectPtr old;
  std::vector<InformerHandler> handlers;
  {
    absl::MutexLock lock(&mu_);
    auto it = items_.find(key);
    if (it != items_.end()) {
      // The same resourceVersion is the same object (a relist after a reconnect): no event.
      if (it->second.resource_version == cached.resource_version) return;
      old = Decode(it->second);
      IndexLocked(key, old, /*add=*/false);
      it->second = std::move(cached);
    } else {
      items_.emplace(key, std::move(cached));
    }
    IndexLocked(key, fresh, /*add=*/true);
    handlers = handlers_;
  }
  for (const InformerHandler& h : handlers) {
    if (old == nullptr) {
      if (h.on_add) h.on_add(fresh);
    } else if (h.on_update) {
      h.on_update(old, fresh);
    }
  }
}

void Informer::Remove(const json& object) {
  const std::string key = ObjectKey(object);
  ObjectPtr old;
  std::vector<InformerHandler> handlers;
  {
    absl::MutexLock lock(&mu_);
    auto it = items_.find(key);
    if (it == items_.end()) return;
    old = Decode(it->second);
    IndexLocked(key, old, /*add=*/false);
    items_.erase(it);
    handlers = handlers_;
  }
  for (const InformerHandler& h : handlers) {
    if (h.on_delete) h.on_delete(old);
  }
}

void Informer::IndexLocked(const std::string& key, const ObjectPtr& object, bool add) {
  for (const auto& [name, func] : index_funcs_) {
    for (const std::string& value : func(*object)) {
      auto& keys = indexes_[name][value];
      if (add) {
        keys.insert(key);
      } else {
        keys.erase(key);
        if (keys.empty()) indexes_[name].erase(value);
      }
    }
  }
}

Informer::Cached Informer::Encode(const ObjectPtr& object) const {
  Cached cached;
  cached.resource_version = StringField(*object, "resourceVersion");
  if (options_.compact_cache) {
    std::string cbor;
    json::to_cbor(*object, cbor);
    cbor.shrink_to_fit();  // the encoder grows the string by doubling; the cache keeps it long
    cached.cbor = std::make_shared<const std::string>(std::move(cbor));
  } else {
    cached.object = object;
  }
  return cached;
}

ObjectPtr Informer::Decode(const Cached& cached) {
  if (cached.object != nullptr) return cached.object;
  // Our own encoding of a valid tree: failing to read it back is a bug, not bad input.
  json tree = json::from_cbor(*cached.cbor, /*strict=*/true, /*allow_exceptions=*/false);
  if (tree.is_discarded()) {
    spdlog::critical("informer: a cached object's CBOR does not decode (a bug)");
    std::abort();
  }
  return std::make_shared<const json>(std::move(tree));
}

ObjectPtr Informer::Get(std::string_view ns, std::string_view name) const {
  Cached cached;
  {
    absl::MutexLock lock(&mu_);
    auto it = items_.find(ObjectKey(options_.type.namespaced ? ns : "", name));
    if (it == items_.end()) return nullptr;
    cached = {it->second.object, it->second.cbor, ""};
  }
  return Decode(cached);  // outside the lock: decoding takes time
}

std::vector<Informer::Cached> Informer::Entries() const {
  std::vector<Cached> found;
  absl::MutexLock lock(&mu_);
  found.reserve(items_.size());
  for (const auto& [key, cached] : items_) found.push_back({cached.object, cached.cbor, ""});
  return found;
}

std::vector<ObjectPtr> Informer::List(std::string_view ns) const {
  if (!ns.empty()) return ByIndex(kNamespaceIndex, std::string(ns));
  std::vector<Cached> found = Entries();
  std::vector<ObjectPtr> out;
  out.reserve(found.size());
  for (const Cached& c : found) out.push_back(Decode(c));
  return out;
}

const absl::flat_hash_set<std::string>* Informer::IndexedLocked(const std::string& index,
                                                                const std::string& value) const {
  auto idx = indexes_.find(index);
  if (idx == indexes_.end()) return nullptr;
  auto keys = idx->second.find(value);
  return keys == idx->second.end() ? nullptr : &keys->second;
}

std::vector<ObjectPtr> Informer::ByIndex(const std::string& index, const std::string& value) const {
  std::vector<Cached> found;
  {
    absl::MutexLock lock(&mu_);
    const absl::flat_hash_set<std::string>* keys = IndexedLocked(index, value);
    if (keys == nullptr) return {};
    for (const std::string& key : *keys) {
      if (auto it = items_.find(key); it != items_.end()) {
        found.push_back({it->second.object, it->second.cbor, ""});
      }
    }
  }
  std::vector<ObjectPtr> out;
  out.reserve(found.size());
  for (const Cached& c : found) out.push_back(Decode(c));
  return out;
}

std::vector<std::string> Informer::KeysByIndex(const std::string& index,
                                               const std::string& value) const {
  std::vector<std::string> out;
  {
    absl::MutexLock lock(&mu_);
    const absl::flat_hash_set<std::string>* keys = IndexedLocked(index, value);
    if (keys == nullptr) return {};
    for (const std::string& key : *keys) {
      if (items_.contains(key)) out.push_back(key);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t Informer::Size() const {
  absl::MutexLock lock(&mu_);
  return items_.size();
}

Informer::Stats Informer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

void Informer::ResyncLoop() {
  while (SleepUnlessStopped(options_.resync_period)) {
    // One object decoded at a time: with compact_cache, decoding the whole cache at once would
    // hold every tree (about 7 times the JSON) together for the length of the resync.
    std::vector<Cached> all = Entries();
    std::vector<InformerHandler> handlers;
    {
      absl::MutexLock lock(&mu_);
      handlers = handlers_;
    }
    for (Cached& cached : all) {
      const ObjectPtr o = Decode(cached);
      cached = {};  // drop the cache's bytes as we go (the cache may have replaced them)
      for (const InformerHandler& h : handlers) {
        if (h.on_update) h.on_update(o, o);
      }
    }
  }
}

}  // namespace cohort::op
