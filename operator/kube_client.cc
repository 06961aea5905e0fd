#include "operator/kube_client.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "operator/api_error.h"

namespace cohort::op {
namespace {

using nlohmann::json;

// Appends "&key=value" (or "?key=value" for the first) with the value escaped.
void AddQuery(std::string& path, std::string_view key, std::string_view value) {
  absl::StrAppend(&path, path.find('?') == std::string::npos ? "?" : "&", std::string(key), "=",
                  QueryEscape(value));
}

absl::StatusOr<json> ParseBody(const HttpResponse& response, std::string_view what) {
  if (response.body.empty()) return json::object();
  json parsed = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::DataLossError(absl::StrCat(std::string(what), ": response is not JSON"));
  }
  return parsed;
}

std::string NameOf(const json& object) {
  const json* name = nullptr;
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
    if (auto n = m->find("name"); n != m->end() && n->is_string()) name = &*n;
  }
  return name != nullptr ? name->get<std::string>() : std::string();
}

const char* ContentType(PatchType t) {
  switch (t) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";  // JSON is YAML
  }
  return "application/merge-patch+json";
}

// Serializes a request body. Invalid UTF-8 in a string (possible in objects built from user
// input) becomes U+FFFD instead of an exception escaping the module.
std::string DumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Content negotiation for metadata-only reads (as client-go's metadata client).
constexpr char kAcceptMetadataList[] =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
constexpr char kAcceptMetadata[] =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

}  // namespace

KubeClient::KubeClient(std::unique_ptr<HttpTransport> transport, const KubeClientOptions& options,
                       Clock& clock)
    : transport_(std::move(transport)),
      options_(options),
      clock_(clock),
      bucket_(options.qps, options.burst, clock) {}

void KubeClient::SetRequestObserver(RequestObserver observer) {
  absl::MutexLock lock(&mu_);
  observer_ = std::move(observer);
}

void KubeClient::Observe(const std::string& method, int code, absl::Time start) {
  RequestObserver observer;
  {
    absl::MutexLock lock(&mu_);
    observer = observer_;
  }
  if (observer) observer(method, code, clock_.Now() - start);
}

absl::StatusOr<HttpResponse> KubeClient::SendWithRetries(const HttpRequest& request) {
  absl::Duration backoff = options_.retry_base_delay;
  absl::Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    bucket_.Wait();
    const absl::Time start = clock_.Now();
    absl::StatusOr<HttpResponse> response = transport_->Send(request, options_.request_timeout);
    if (response.ok()) {
      Observe(request.method, response->status, start);
      if (response->status >= 200 && response->status < 300) return response;
      last = FromApiResponse(response->status, response->body, response->Header("retry-after"));
    } else {
      Observe(request.method, 0, start);
      last = response.status();
    }
    if (attempt == options_.max_attempts || !apierrors::IsRetryable(last, request.method)) break;
    absl::Duration delay = backoff;
    if (std::optional<absl::Duration> after = apierrors::RetryAfter(last); after.has_value()) {
      delay = std::max(*after, absl::ZeroDuration());
    }
    clock_.SleepFor(std::min(delay, options_.retry_max_delay));
    backoff = std::min(backoff * 2, options_.retry_max_delay);
  }
  return last;
}

absl::StatusOr<json> KubeClient::Do(HttpRequest request) {
  absl::StatusOr<HttpResponse> response = SendWithRetries(request);
  if (!response.ok()) return response.status();
  return ParseBody(
      *response, absl::StrCat(request.method, " ",
                              request.path_and_query.substr(0, request.path_and_query.find('?'))));
}

absl::StatusOr<json> KubeClient::Get(const ResourceType& type, std::string_view ns,
                                     std::string_view name, std::string_view subresource) {
  return Do({"GET", type.ObjectPath(ns, name, subresource), {}, ""});
}

absl::StatusOr<ListPage> KubeClient::List(const ResourceType& type, std::string_view ns,
                                          const ListOptions& options) {
  std::string path = type.CollectionPath(ns);
  if (!options.label_selector.empty()) AddQuery(path, "labelSelector", options.label_selector);
  if (!options.field_selector.empty()) AddQuery(path, "fieldSelector", options.field_selector);
  if (options.limit > 0) AddQuery(path, "limit", absl::StrCat(options.limit));
  if (!options.continue_token.empty()) AddQuery(path, "continue", options.continue_token);
  if (!options.resource_version.empty()) {
    AddQuery(path, "resourceVersion", options.resource_version);
  }
  HttpRequest request{"GET", path, {}, ""};
  if (options.metadata_only) request.headers.emplace_back("Accept", kAcceptMetadataList);
  absl::StatusOr<json> body = Do(std::move(request));
  if (!body.ok()) return body.status();
  ListPage page;
  if (auto items = body->find("items"); items != body->end() && items->is_array()) {
    page.items = std::move(*items);
  }
  if (auto m = body->find("metadata"); m != body->end() && m->is_object()) {
    page.resource_version = m->value("resourceVersion", "");
    page.continue_token = m->value("continue", "");
  }
  // List items carry no kind/apiVersion; fill them in so items look like objects from Get.
  // (PartialObjectMetadata items name their own kind.)
  for (json& item : page.items) {
    if (item.is_object() && !item.contains("kind")) {
      item["apiVersion"] = type.ApiVersion();
      item["kind"] = type.kind;
    }
  }
  return page;
}

absl::StatusOr<ListPage> KubeClient::ListAll(const ResourceType& type, std::string_view ns,
                                             ListOptions options) {
  constexpr int kRestarts = 3;
  for (int restart = 0;; ++restart) {
    ListPage all;
    options.continue_token.clear();
    absl::Status failed;
    while (true) {
      absl::StatusOr<ListPage> page = List(type, ns, options);
      if (!page.ok()) {
        failed = page.status();
        break;
      }
      for (json& item : page->items) all.items.push_back(std::move(item));
      // Pages continue the first page's snapshot; its resourceVersion is the list's.
      if (all.resource_version.empty()) all.resource_version = page->resource_version;
      if (page->continue_token.empty()) return all;
      options.continue_token = page->continue_token;
    }
    // A continue token expires with etcd compaction (410): the snapshot is gone, start over.
    if (!apierrors::IsGone(failed) || options.continue_token.empty() || restart == kRestarts)
      return failed;
  }
}

absl::StatusOr<std::unique_ptr<HttpStream>> KubeClient::Watch(const ResourceType& type,
                                                              std::string_view ns,
                                                              const WatchOptions& options) {
  std::string path = type.CollectionPath(ns);
  AddQuery(path, "watch", "1");
  if (options.allow_bookmarks) AddQuery(path, "allowWatchBookmarks", "true");
  if (!options.resource_version.empty()) {
    AddQuery(path, "resourceVersion", options.resource_version);
  }
  if (!options.label_selector.empty()) AddQuery(path, "labelSelector", options.label_selector);
  if (!options.field_selector.empty()) AddQuery(path, "fieldSelector", options.field_selector);
  if (options.timeout_seconds > 0) {
    AddQuery(path, "timeoutSeconds", absl::StrCat(options.timeout_seconds));
  }
  bucket_.Wait();
  const absl::Time start = clock_.Now();
  HttpRequest request{"GET", path, {}, ""};
  if (options.metadata_only) request.headers.emplace_back("Accept", kAcceptMetadata);
  absl::StatusOr<std::unique_ptr<HttpStream>> stream = transport_->Open(request);
  if (!stream.ok()) {
    Observe("WATCH", 0, start);
    return stream.status();
  }
  const HttpResponse& head = (*stream)->response();
  Observe("WATCH", head.status, start);
  if (head.status < 200 || head.status >= 300) {
    // The error body of a refused watch is short; read it for the Status message.
    std::string body;
    while (body.size() < (1 << 20)) {
      absl::StatusOr<std::string> chunk = (*stream)->Read(absl::Seconds(10));
      if (!chunk.ok() || chunk->empty()) break;
      body += *chunk;
    }
    return FromApiResponse(head.status, body, head.Header("retry-after"));
  }
  return stream;
}

absl::StatusOr<json> KubeClient::Create(const ResourceType& type, std::string_view ns,
                                        const json& object) {
  return Do({"POST", type.CollectionPath(ns), {}, DumpJson(object)});
}

absl::StatusOr<json> KubeClient::Update(const ResourceType& type, std::string_view ns,
                                        const json& object, std::string_view subresource) {
  const std::string name = NameOf(object);
  if (name.empty()) return absl::InvalidArgumentError("Update: object has no metadata.name");
  return Do({"PUT", type.ObjectPath(ns, name, subresource), {}, DumpJson(object)});
}

absl::StatusOr<json> KubeClient::Patch(const ResourceType& type, std::string_view ns,
                                       std::string_view name, PatchType patch_type,
                                       const std::string& body, const PatchOptions& options) {
  std::string path = type.ObjectPath(ns, name, options.subresource);
  if (patch_type == PatchType::kApply) {
    if (options.field_manager.empty()) {
      return absl::InvalidArgumentError("server-side apply needs a field manager");
    }
    if (options.force) AddQuery(path, "force", "true");
  }
  if (!options.field_manager.empty()) AddQuery(path, "fieldManager", options.field_manager);
  return Do({"PATCH", path, {{"Content-Type", ContentType(patch_type)}}, body});
}

absl::StatusOr<json> KubeClient::Apply(const ResourceType& type, std::string_view ns,
                                       const json& object, const std::string& field_manager,
                                       bool force, std::string_view subresource) {
  const std::string name = NameOf(object);
  if (name.empty()) return absl::InvalidArgumentError("Apply: object has no metadata.name");
  PatchOptions options;
  options.field_manager = field_manager;
  options.force = force;
  options.subresource = std::string(subresource);
  return Patch(type, ns, name, PatchType::kApply, DumpJson(object), options);
}

absl::StatusOr<json> KubeClient::Delete(const ResourceType& type, std::string_view ns,
                                        std::string_view name, const DeleteOptions& options) {
  json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  switch (options.propagation) {
    case Propagation::kDefault:
      break;
    case Propagation::kBackground:
      body["propagationPolicy"] = "Background";
      break;
    case Propagation::kForeground:
      body["propagationPolicy"] = "Foreground";
      break;
    case Propagation::kOrphan:
      body["propagationPolicy"] = "Orphan";
      break;
  }
  if (!options.precondition_uid.empty()) body["preconditions"]["uid"] = options.precondition_uid;
  if (!options.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
  }
  if (options.grace_period_seconds.has_value()) {
    body["gracePeriodSeconds"] = *options.grace_period_seconds;
  }
  return Do({"DELETE", type.ObjectPath(ns, name), {}, DumpJson(body)});
}

absl::StatusOr<ResourceType> KubeClient::Resolve(std::string_view group, std::string_view version,
                                                 std::string_view kind) {
  const std::string key = absl::StrCat(std::string(group), "/", std::string(version));
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt == 0) {
      absl::MutexLock lock(&mu_);
      if (auto it = discovery_.find(key); it != discovery_.end()) {
        for (const ResourceType& t : it->second) {
          if (t.kind == kind) return t;
        }
        continue;  // cached but stale: re-read once (a CRD may have just been established)
      }
    }
    ResourceType probe{std::string(group), std::string(version), "", "", true};
    absl::StatusOr<json> list = Do({"GET", probe.GroupVersionPath(), {}, ""});
    if (!list.ok()) return list.status();
    std::vector<ResourceType> types;
    if (auto rs = list->find("resources"); rs != list->end() && rs->is_array()) {
      for (const json& r : *rs) {
        const std::string name = r.value("name", "");
        if (name.empty() || name.find('/') != std::string::npos) continue;  // subresources
        types.push_back({std::string(group), std::string(version), name, r.value("kind", ""),
                         r.value("namespaced", true)});
      }
    }
    absl::MutexLock lock(&mu_);
    discovery_[key] = types;
    for (const ResourceType& t : types) {
      if (t.kind == kind) return t;
    }
    break;
  }
  return absl::NotFoundError(absl::StrCat("no resource of kind ", std::string(kind), " in ", key));
}

}  // namespace cohort::op
