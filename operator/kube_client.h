// A Kubernetes API client for any resource: get, list (selectors, pagination), watch, create,
// update, patch (merge, JSON, strategic merge, server-side apply), delete (propagation,
// preconditions), subresources, and discovery of a kind's resource. Objects are nlohmann::json.
//
// Every request passes a client-side token bucket (default 50 QPS, burst 100, as the operator's
// --kube-api-qps/--kube-api-burst); 429 answers are retried for every verb after the server's
// Retry-After, and 5xx, timeouts and connection failures are retried for safe verbs (get, list),
// with exponential backoff. Errors are typed statuses (operator/api_error.h: IsNotFound,
// IsConflict, IsGone, ...).
//
// Thread-safe. Owns its transport; borrows `clock`, which must outlive it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"
#include "operator/http_transport.h"
#include "operator/rate_limiter.h"
#include "operator/resource.h"

namespace cohort::op {

struct KubeClientOptions {
  double qps = 50;
  int burst = 100;
  absl::Duration request_timeout = absl::Seconds(30);
  int max_attempts = 5;  // per request, the first included
  absl::Duration retry_base_delay = absl::Milliseconds(200);
  absl::Duration retry_max_delay = absl::Seconds(10);
};

// Called after every HTTP exchange (retries included) with the verb, the HTTP code (0 on a
// transport failure) and how long it took: the hook for rest_client_* metrics.
using RequestObserver =
    std::function<void(const std::string& method, int code, absl::Duration latency)>;

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;             // page size; 0: everything in one response
  std::string continue_token;    // from the previous page
  std::string resource_version;  // "" (most recent, quorum read) or "0" (any, from the cache)
  // Ask for PartialObjectMetadata: names, labels, owners and versions but no spec, data or
  // status (used for Secrets, so the operator never holds their values).
  bool metadata_only = false;
};

struct ListPage {
  nlohmann::json items = nlohmann::json::array();
  std::string resource_version;  // of the list; watch from here
  std::string continue_token;    // empty on the last page
};

struct WatchOptions {
  std::string
      resource_version;  // start after this version; "" means "from now" with initial events
  std::string label_selector;
  std::string field_selector;
  bool allow_bookmarks = true;
  int64_t timeout_seconds = 0;  // the server ends the watch after this; 0: server default
  bool metadata_only = false;   // as ListOptions::metadata_only
};

enum class PatchType { kMerge, kJson, kStrategicMerge, kApply };

struct PatchOptions {
  std::string field_manager;  // required for kApply
  bool force = false;         // kApply: take ownership of conflicting fields
  std::string subresource;    // e.g. "status"
};

enum class Propagation { kDefault, kBackground, kForeground, kOrphan };

struct DeleteOptions {
  Propagation propagation = Propagation::kDefault;
  std::string precondition_uid;
  std::string precondition_resource_version;
  std::optional<int64_t> grace_period_seconds;
};

class KubeClient {
 public:
  KubeClient(std::unique_ptr<HttpTransport> transport, const KubeClientOptions& options,
             Clock& clock = RealClock::Get());
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  void SetRequestObserver(RequestObserver observer) ABSL_LOCKS_EXCLUDED(mu_);

  [[nodiscard]] absl::StatusOr<nlohmann::json> Get(const ResourceType& type, std::string_view ns,
                                                   std::string_view name,
                                                   std::string_view subresource = "");
  // One page.
  [[nodiscard]] absl::StatusOr<ListPage> List(const ResourceType& type, std::string_view ns,
                                              const ListOptions& options);
  // Every page (options.limit per page). An expired continue token (410) restarts the list from
  // the beginning, at most 3 times; the result is one consistent snapshot.
  [[nodiscard]] absl::StatusOr<ListPage> ListAll(const ResourceType& type, std::string_view ns,
                                                 ListOptions options);
  // Opens a watch; decode its body with WatchDecoder. A 410 for a too-old resourceVersion can come
  // back here (IsGone) or in the stream as an ERROR event.
  [[nodiscard]] absl::StatusOr<std::unique_ptr<HttpStream>> Watch(const ResourceType& type,
                                                                  std::string_view ns,
                                                                  const WatchOptions& options);

  [[nodiscard]] absl::StatusOr<nlohmann::json> Create(const ResourceType& type, std::string_view ns,
                                                      const nlohmann::json& object);
  // PUT of the whole object (metadata.name from it); metadata.resourceVersion, if set, makes it
  // conditional (IsConflict when stale).
  [[nodiscard]] absl::StatusOr<nlohmann::json> Update(const ResourceType& type, std::string_view ns,
                                                      const nlohmann::json& object,
                                                      std::string_view subresource = "");
  [[nodiscard]] absl::StatusOr<nlohmann::json> Patch(const ResourceType& type, std::string_view ns,
                                                     std::string_view name, PatchType patch_type,
                                                     const std::string& body,
                                                     const PatchOptions& options = {});
  // Server-side apply of `object` (its name from metadata.name) under `field_manager`.
  [[nodiscard]] absl::StatusOr<nlohmann::json> Apply(const ResourceType& type, std::string_view ns,
                                                     const nlohmann::json& object,
                                                     const std::string& field_manager,
                                                     bool force = true,
                                                     std::string_view subresource = "");
  // Deletes; returns the object as the server answered (the object while finalizers or
  // foreground deletion hold it, or a Status). NotFound is an error; callers treat it as done.
  [[nodiscard]] absl::StatusOr<nlohmann::json> Delete(const ResourceType& type, std::string_view ns,
                                                      std::string_view name,
                                                      const DeleteOptions& options = {});

  // The resource of `kind` in `group`/`version` by discovery (cached; a miss re-reads once).
  [[nodiscard]] absl::StatusOr<ResourceType> Resolve(std::string_view group,
                                                     std::string_view version,
                                                     std::string_view kind)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Rate limit, send, type the error, retry when retryable. Returns the 2xx response body parsed.
  absl::StatusOr<nlohmann::json> Do(HttpRequest request);
  absl::StatusOr<HttpResponse> SendWithRetries(const HttpRequest& request);
  void Observe(const std::string& method, int code, absl::Time start) ABSL_LOCKS_EXCLUDED(mu_);

  const std::unique_ptr<HttpTransport> transport_;
  const KubeClientOptions options_;
  Clock& clock_;
  TokenBucket bucket_;

  absl::Mutex mu_;
  RequestObserver observer_ ABSL_GUARDED_BY(mu_);
  // group/version → resources served there, from discovery.
  absl::flat_hash_map<std::string, std::vector<ResourceType>> discovery_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cohort::op
