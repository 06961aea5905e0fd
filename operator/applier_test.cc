// The applier against an in-memory API server fake: which requests it makes (none when nothing
// changed), recreation after an immutable-field error, pruning, and the pure helpers. The real API
// server's defaulting is exercised in tests/integration/applier_test.cc.
#include "operator/applier.h"

#include <map>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "operator/api_error.h"
#include "operator/testing/fake_transport.h"

namespace cohort::op {
namespace {

using nlohmann::json;

std::string StatusBody(int code, const std::string& reason, const std::string& message,
                       json causes = json::array()) {
  json s = {{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
            {"message", message}, {"reason", reason},   {"code", code}};
  if (!causes.empty()) s["details"]["causes"] = causes;
  return s.dump();
}

std::string Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// A tiny API server, served through the fake transport: objects by path; GET, LIST (equality
// label selectors), PATCH (apply: the body replaces the object, server fields kept and a defaulted
// field added), DELETE (preconditions, finalizers).
class FakeApiServer {
 public:
  absl::StatusOr<HttpResponse> Serve(const HttpRequest& request) {
    absl::MutexLock lock(&mu_);
    const std::string path = request.path_and_query.substr(0, request.path_and_query.find('?'));
    const std::string query = request.path_and_query.size() > path.size()
                                  ? request.path_and_query.substr(path.size() + 1)
                                  : "";
    if (request.method == "GET") {
      if (path == "/apis/example.com/v1") {
        return Ok(R"({"resources":[{"name":"widgets","kind":"Widget","namespaced":true},
                                   {"name":"widgets/status","kind":"Widget","namespaced":true}]})");
      }
      if (auto it = objects_.find(path); it != objects_.end()) return Ok(it->second.dump());
      if (IsCollection(path)) return List(path, query);
      return NotFound(path);
    }
    if (request.method == "PATCH") {
      json object = json::parse(request.body);
      auto it = objects_.find(path);
      if (it == objects_.end()) {
        object["metadata"]["uid"] = absl::StrCat("uid-", ++next_uid_);
      } else {
        object["metadata"]["uid"] = it->second["metadata"]["uid"];
      }
      object["metadata"]["resourceVersion"] = absl::StrCat(++resource_version_);
      object["spec"]["defaultedByServer"] = true;
      objects_[path] = object;
      return HttpResponse{it == objects_.end() ? 201 : 200, {}, object.dump()};
    }
    if (request.method == "DELETE") {
      auto it = objects_.find(path);
      if (it == objects_.end()) return NotFound(path);
      json options = json::parse(request.body);
      const std::string uid =
          options.contains("preconditions") ? options["preconditions"].value("uid", "") : "";
      if (!uid.empty() && uid != it->second["metadata"]["uid"]) {
        return HttpResponse{409, {}, StatusBody(409, "Conflict", "Precondition failed: UID")};
      }
      if (it->second["metadata"].contains("finalizers")) {
        it->second["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
        return Ok(it->second.dump());
      }
      objects_.erase(it);
      return Ok(R"({"kind":"Status","status":"Success"})");
    }
    return HttpResponse{405, {}, StatusBody(405, "MethodNotAllowed", request.method)};
  }
  void Put(const std::string& path, json object) {
    absl::MutexLock lock(&mu_);
    if (!object["metadata"].contains("uid")) {
      object["metadata"]["uid"] = absl::StrCat("uid-", ++next_uid_);
    }
    objects_[path] = std::move(object);
  }
  std::optional<json> Object(const std::string& path) {
    absl::MutexLock lock(&mu_);
    auto it = objects_.find(path);
    return it == objects_.end() ? std::nullopt : std::optional<json>(it->second);
  }

 private:
  static HttpResponse Ok(std::string body) { return HttpResponse{200, {}, std::move(body)}; }
  static HttpResponse NotFound(const std::string& path) {
    return HttpResponse{404, {}, StatusBody(404, "NotFound", path + " not found")};
  }
  // ".../namespaces/{ns}/{resource}" or "/api/v1/{resource}": an odd count of segments after the
  // group-version for namespaced collections.
  static bool IsCollection(const std::string& path) {
    std::vector<std::string> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
    const size_t gv = parts[0] == "api" ? 2 : 3;
    const size_t rest = parts.size() - gv;
    return (rest == 3 && parts[gv] == "namespaces") || rest == 1;
  }
  HttpResponse List(const std::string& path, const std::string& query)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::map<std::string, std::string> selector;
    for (absl::string_view param : absl::StrSplit(query, '&', absl::SkipEmpty())) {
      if (!absl::StartsWith(param, "labelSelector=")) continue;
      const std::string selector_text = Unescape(std::string(param.substr(14)));
      for (absl::string_view term : absl::StrSplit(selector_text, ',')) {
        std::pair<std::string, std::string> kv = absl::StrSplit(term, '=');
        selector[kv.first] = kv.second;
      }
    }
    json items = json::array();
    for (const auto& [p, object] : objects_) {
      if (!absl::StartsWith(p, path + "/") || p.find('/', path.size() + 1) != std::string::npos) {
        continue;
      }
      bool match = true;
      for (const auto& [k, v] : selector) {
        const json& labels = object["metadata"].value("labels", json::object());
        match &= labels.value(k, "") == v;
      }
      if (match) items.push_back(object);
    }
    return Ok(json{{"metadata", {{"resourceVersion", "1"}}}, {"items", items}}.dump());
  }

  absl::Mutex mu_;
  std::map<std::string, json> objects_ ABSL_GUARDED_BY(mu_);
  int next_uid_ ABSL_GUARDED_BY(mu_) = 0;
  int resource_version_ ABSL_GUARDED_BY(mu_) = 0;
};

constexpr char kNs[] = "team";
constexpr char kCmPath[] = "/api/v1/namespaces/team/configmaps/";
constexpr char kStsPath[] = "/apis/apps/v1/namespaces/team/statefulsets/";

const Owner kOwner{"cohort.dev/v1alpha1", "AnalyticsPipeline", "pipe", "owner-uid-1", kNs};

json ConfigMap(const std::string& name, json data) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}}},
          {"data", std::move(data)}};
}

json StatefulSet(const std::string& name, const std::string& app) {
  json container = {{"name", "c"}, {"image", "x"}};
  json pod_template = {{"metadata", {{"labels", {{"app", app}}}}},
                       {"spec", {{"containers", json::array({container})}}}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"serviceName", name},
            {"selector", {{"matchLabels", {{"app", app}}}}},
            {"template", pod_template}}}};
}

// An object as if an earlier reconcile of `owner` had created it.
json Owned(json desired, const Owner& owner = kOwner) {
  absl::StatusOr<json> p = PrepareChild(owner, desired, true, kDefaultFieldManager);
  EXPECT_TRUE(p.ok()) << p.status();
  return *p;
}

class ApplierTest : public ::testing::Test {
 protected:
  ApplierTest() {
    fake_.SetHandler([this](const HttpRequest& r) { return api_.Serve(r); });
    KubeClientOptions options;
    options.qps = 1e6;
    options.burst = 1'000'000;
    options.max_attempts = 1;
    client_ = std::make_unique<KubeClient>(fake_.Connect(), options);
    applier_ = std::make_unique<Applier>(*client_);
  }

  ApplySummary MustApply(const ChildSet& children) {
    ApplySummary summary;
    absl::Status s = applier_->Apply(kOwner, children, summary);
    EXPECT_TRUE(s.ok()) << s;
    return summary;
  }

  // The next request with this verb and path gets `code` and `body` instead of the server's
  // answer.
  void FailNext(const std::string& verb_and_path, int code, std::string body) {
    const size_t space = verb_and_path.find(' ');
    fake_.ReplyTo(verb_and_path.substr(0, space), verb_and_path.substr(space + 1), code,
                  std::move(body));
  }
  // Every request since the last ClearLog() as "VERB path" (no query).
  std::vector<std::string> Requests() {
    std::vector<std::string> out;
    for (const testing::RecordedRequest& r : fake_.requests()) {
      out.push_back(absl::StrCat(r.method(), " ", r.Path()));
    }
    return out;
  }
  // Requests other than GETs.
  std::vector<std::string> Writes() {
    std::vector<std::string> out;
    for (const std::string& r : Requests()) {
      if (!absl::StartsWith(r, "GET ")) out.push_back(r);
    }
    return out;
  }
  std::vector<std::string> Queries() {
    std::vector<std::string> out;
    for (const testing::RecordedRequest& r : fake_.requests()) out.push_back(r.Query());
    return out;
  }
  // The DeleteOptions of DELETEs that found their object.
  std::vector<json> Deletes() {
    std::vector<json> out;
    for (const testing::RecordedRequest& r : fake_.requests()) {
      if (r.method() == "DELETE" && r.status != 404) out.push_back(json::parse(r.request.body));
    }
    return out;
  }
  void ClearLog() { fake_.ClearRequests(); }

  FakeApiServer api_;
  testing::FakeTransport fake_;  // records every request
  std::unique_ptr<KubeClient> client_;
  std::unique_ptr<Applier> applier_;
};

TEST_F(ApplierTest, CreatesThenWritesNothingWhenNothingChanged) {
  ChildSet children{{ConfigMap("a", {{"k", "1"}}), StatefulSet("s", "web")}, {}, nullptr};
  ApplySummary first = MustApply(children);
  ASSERT_EQ(first.outcomes.size(), 2u);
  EXPECT_EQ(first.Count(ApplyAction::kCreated), 2);
  EXPECT_TRUE(first.Changed());
  EXPECT_EQ(Writes(),
            (std::vector<std::string>{"PATCH /api/v1/namespaces/team/configmaps/a",
                                      "PATCH /apis/apps/v1/namespaces/team/statefulsets/s"}));
  EXPECT_TRUE(absl::StrContains(Queries()[1], "fieldManager=cohort-operator"));
  EXPECT_TRUE(absl::StrContains(Queries()[1], "force=true"));

  ClearLog();
  ApplySummary second = MustApply(children);
  EXPECT_EQ(second.Count(ApplyAction::kUnchanged), 2);
  EXPECT_FALSE(second.Changed());
  EXPECT_TRUE(Writes().empty()) << "the server's defaulted field must not count as a change";
  EXPECT_EQ(Requests().size(), 2u) << "one GET per child";
}

TEST_F(ApplierTest, AChangedFieldIsAppliedAndNamed) {
  ASSERT_EQ(MustApply({{ConfigMap("a", {{"k", "1"}})}, {}, nullptr}).Count(ApplyAction::kCreated),
            1);
  ClearLog();
  ApplySummary summary = MustApply({{ConfigMap("a", {{"k", "2"}})}, {}, nullptr});
  ASSERT_EQ(summary.outcomes.size(), 1u);
  EXPECT_EQ(summary.outcomes[0].action, ApplyAction::kUpdated);
  EXPECT_EQ(summary.outcomes[0].detail, "data.k");
  EXPECT_EQ(Writes().size(), 1u);
  EXPECT_EQ((*api_.Object(std::string(kCmPath) + "a"))["data"]["k"], "2");
}

TEST_F(ApplierTest, AFieldRemovedFromTheDesiredObjectIsAppliedAway) {
  MustApply({{ConfigMap("a", {{"k", "1"}, {"gone", "x"}})}, {}, nullptr});
  ClearLog();
  // {"k":"1"} is a subset of the live data; only the hash annotation sees the removal.
  ApplySummary summary = MustApply({{ConfigMap("a", {{"k", "1"}})}, {}, nullptr});
  EXPECT_EQ(summary.Count(ApplyAction::kUpdated), 1);
  EXPECT_FALSE((*api_.Object(std::string(kCmPath) + "a"))["data"].contains("gone"));
}

TEST_F(ApplierTest, DriftIsRepaired) {
  MustApply({{ConfigMap("a", {{"k", "1"}})}, {}, nullptr});
  json live = *api_.Object(std::string(kCmPath) + "a");
  live["data"]["k"] = "edited by hand";
  api_.Put(std::string(kCmPath) + "a", live);
  ClearLog();
  ApplySummary summary = MustApply({{ConfigMap("a", {{"k", "1"}})}, {}, nullptr});
  ASSERT_EQ(summary.outcomes.size(), 1u);
  EXPECT_EQ(summary.outcomes[0].action, ApplyAction::kUpdated);
  EXPECT_EQ(summary.outcomes[0].detail, "data.k");
  EXPECT_EQ((*api_.Object(std::string(kCmPath) + "a"))["data"]["k"], "1");
}

TEST_F(ApplierTest, MarksChildrenAsOwned) {
  MustApply({{ConfigMap("a", {{"k", "1"}})}, {}, nullptr});
  json live = *api_.Object(std::string(kCmPath) + "a");
  EXPECT_EQ(live["metadata"]["namespace"], kNs);
  EXPECT_EQ(live["metadata"]["labels"][kManagedByLabel], "cohort-operator");
  EXPECT_EQ(live["metadata"]["labels"][kOwnerUidLabel], "owner-uid-1");
  ASSERT_EQ(live["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(live["metadata"]["ownerReferences"][0], json({{"apiVersion", "cohort.dev/v1alpha1"},
                                                          {"kind", "AnalyticsPipeline"},
                                                          {"name", "pipe"},
                                                          {"uid", "owner-uid-1"},
                                                          {"controller", true},
                                                          {"blockOwnerDeletion", true}}));
  EXPECT_EQ(live["metadata"]["annotations"][kAppliedHashAnnotation].get<std::string>().size(), 16u);
}

TEST_F(ApplierTest, ImmutableFieldErrorDeletesAndRecreates) {
  MustApply({{StatefulSet("s", "web")}, {}, nullptr});
  const std::string old_uid = (*api_.Object(std::string(kStsPath) + "s"))["metadata"]["uid"];
  FailNext(
      std::string("PATCH ") + kStsPath + "s", 422,
      StatusBody(422, "Invalid",
                 "StatefulSet.apps \"s\" is invalid: spec: Forbidden: updates to statefulset spec "
                 "for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
                 "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                 {{{"reason", "FieldValueForbidden"},
                   {"message", "Forbidden: updates to statefulset spec for fields other than ..."},
                   {"field", "spec"}}}));
  ClearLog();
  ApplySummary summary = MustApply({{StatefulSet("s", "api")}, {}, nullptr});
  ASSERT_EQ(summary.outcomes.size(), 1u);
  EXPECT_EQ(summary.outcomes[0].action, ApplyAction::kRecreated);
  EXPECT_EQ(summary.outcomes[0].detail, "spec");
  EXPECT_EQ(Writes(), (std::vector<std::string>{std::string("PATCH ") + kStsPath + "s",
                                                std::string("DELETE ") + kStsPath + "s",
                                                std::string("PATCH ") + kStsPath + "s"}));
  ASSERT_EQ(Deletes().size(), 1u);
  EXPECT_EQ(Deletes()[0]["propagationPolicy"], "Background");
  EXPECT_EQ(Deletes()[0]["preconditions"]["uid"], old_uid);
  json live = *api_.Object(std::string(kStsPath) + "s");
  EXPECT_NE(live["metadata"]["uid"], old_uid);
  EXPECT_EQ(live["spec"]["selector"]["matchLabels"]["app"], "api");
}

TEST_F(ApplierTest, RecreateWaitsWhileTheOldObjectIsTerminating) {
  MustApply({{StatefulSet("s", "web")}, {}, nullptr});
  json live = *api_.Object(std::string(kStsPath) + "s");
  live["metadata"]["finalizers"] = {"example.com/hold"};
  api_.Put(std::string(kStsPath) + "s", live);
  FailNext(std::string("PATCH ") + kStsPath + "s", 422,
           StatusBody(422, "Invalid", "spec.selector: Invalid value: ...: field is immutable",
                      {{{"reason", "FieldValueInvalid"},
                        {"message", "Invalid value: ...: field is immutable"},
                        {"field", "spec.selector"}}}));
  ApplySummary summary = MustApply({{StatefulSet("s", "api")}, {}, nullptr});
  ASSERT_EQ(summary.outcomes.size(), 1u);
  EXPECT_EQ(summary.outcomes[0].action, ApplyAction::kWaitingForDeletion);
  EXPECT_TRUE(summary.Waiting());
  EXPECT_FALSE(summary.Changed());

  // While it terminates, nothing is written to it.
  ClearLog();
  summary = MustApply({{StatefulSet("s", "api")}, {}, nullptr});
  EXPECT_EQ(summary.outcomes[0].action, ApplyAction::kWaitingForDeletion);
  EXPECT_TRUE(Writes().empty());
}

TEST_F(ApplierTest, PersistentVolumeClaimsAreNeverRecreated) {
  const std::string path = "/api/v1/namespaces/team/persistentvolumeclaims/data";
  json pvc = {{"apiVersion", "v1"},
              {"kind", "PersistentVolumeClaim"},
              {"metadata", {{"name", "data"}}},
              {"spec", {{"storageClassName", "slow"}}}};
  ASSERT_TRUE(applier_->ApplyOne(kOwner, pvc).ok());
  pvc["spec"]["storageClassName"] = "fast";
  FailNext("PATCH " + path, 422,
           StatusBody(422, "Invalid",
                      "spec: Forbidden: spec is immutable after creation except "
                      "resources.requests for bound claims"));
  ClearLog();
  absl::StatusOr<ApplyOutcome> outcome = applier_->ApplyOne(kOwner, pvc);
  EXPECT_TRUE(IsImmutableFieldError(outcome.status())) << outcome.status();
  EXPECT_EQ(Writes(), (std::vector<std::string>{"PATCH " + path}));
  EXPECT_TRUE(api_.Object(path).has_value());
}

TEST_F(ApplierTest, OtherInvalidErrorsAreReturnedWithoutDeleting) {
  MustApply({{ConfigMap("a", {{"k", "1"}})}, {}, nullptr});
  FailNext(std::string("PATCH ") + kCmPath + "a", 422,
           StatusBody(422, "Invalid", "data[bad key]: Invalid value: a valid config key",
                      {{{"reason", "FieldValueInvalid"},
                        {"message", "a valid config key must consist of ..."},
                        {"field", "data[bad key]"}}}));
  ClearLog();
  ApplySummary summary;
  absl::Status s =
      applier_->Apply(kOwner, {{ConfigMap("a", {{"bad key", "1"}})}, {}, nullptr}, summary);
  EXPECT_TRUE(apierrors::IsInvalid(s)) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "ConfigMap team/a")) << s;
  EXPECT_EQ(Writes(), (std::vector<std::string>{std::string("PATCH ") + kCmPath + "a"}));
}

TEST_F(ApplierTest, ErrorsKeepTheirKubernetesReason) {
  FailNext(std::string("PATCH ") + kCmPath + "a", 409,
           StatusBody(409, "Conflict", "Apply failed with 1 conflict"));
  absl::StatusOr<ApplyOutcome> outcome = applier_->ApplyOne(kOwner, ConfigMap("a", {}));
  EXPECT_TRUE(apierrors::IsConflict(outcome.status())) << outcome.status();
}

TEST_F(ApplierTest, PrunesOwnedChildrenNoLongerDesired) {
  // Created by an earlier reconcile: a (still desired), b and c (not), keep-me (kept by the
  // predicate), foreign (labelled for the owner but controlled by nobody), and one of another
  // owner.
  for (const char* name : {"a", "b", "c", "keep-me"}) {
    api_.Put(std::string(kCmPath) + name, Owned(ConfigMap(name, {})));
  }
  json foreign = Owned(ConfigMap("foreign", {}));
  foreign["metadata"]["ownerReferences"] = json::array();
  api_.Put(std::string(kCmPath) + "foreign", foreign);
  const Owner other{"v1", "ConfigMap", "other", "owner-uid-2", kNs};
  api_.Put(std::string(kCmPath) + "other-child", Owned(ConfigMap("other-child", {}), other));
  ClearLog();

  ChildSet children{{ConfigMap("a", {})},
                    {resources::kConfigMaps, resources::kServices},
                    [](const json& live) { return live["metadata"]["name"] == "keep-me"; }};
  ApplySummary summary = MustApply(children);
  EXPECT_EQ(summary.Count(ApplyAction::kPruned), 2);
  EXPECT_EQ(summary.Count(ApplyAction::kUnchanged), 1);
  EXPECT_EQ(Writes(), (std::vector<std::string>{std::string("DELETE ") + kCmPath + "b",
                                                std::string("DELETE ") + kCmPath + "c"}));
  for (const json& d : Deletes()) EXPECT_EQ(d["propagationPolicy"], "Background");
  EXPECT_TRUE(api_.Object(std::string(kCmPath) + "keep-me").has_value());
  EXPECT_TRUE(api_.Object(std::string(kCmPath) + "foreign").has_value());
  EXPECT_TRUE(api_.Object(std::string(kCmPath) + "other-child").has_value());
  // Listed by the owner label, in the owner's namespace, for every owned kind.
  bool listed_services = false;
  for (const std::string& r : Requests()) {
    listed_services |= r == "GET /api/v1/namespaces/team/services";
  }
  EXPECT_TRUE(listed_services);
  for (const std::string& q : Queries()) {
    if (absl::StrContains(q, "labelSelector")) {
      EXPECT_TRUE(absl::StrContains(q, "labelSelector=cohort.dev%2Fowner-uid%3Downer-uid-1")) << q;
    }
  }

  // At rest: nothing more to do.
  ClearLog();
  summary = MustApply(children);
  EXPECT_FALSE(summary.Changed());
  EXPECT_TRUE(Writes().empty());
}

TEST_F(ApplierTest, NothingIsPrunedWhenAnApplyFails) {
  api_.Put(std::string(kCmPath) + "old", Owned(ConfigMap("old", {})));
  FailNext(std::string("PATCH ") + kCmPath + "a", 500,
           StatusBody(500, "InternalError", "etcd is sad"));
  ApplySummary summary;
  absl::Status s =
      applier_->Apply(kOwner, {{ConfigMap("a", {})}, {resources::kConfigMaps}, nullptr}, summary);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(api_.Object(std::string(kCmPath) + "old").has_value());
  EXPECT_TRUE(summary.outcomes.empty());
}

TEST_F(ApplierTest, SummaryKeepsWhatWasDoneBeforeAnError) {
  FailNext(std::string("PATCH ") + kCmPath + "b", 422, StatusBody(422, "Invalid", "no good"));
  ApplySummary summary;
  absl::Status s = applier_->Apply(
      kOwner, {{ConfigMap("a", {}), ConfigMap("b", {}), ConfigMap("c", {})}, {}, nullptr}, summary);
  EXPECT_TRUE(apierrors::IsInvalid(s)) << s;
  ASSERT_EQ(summary.outcomes.size(), 1u);
  EXPECT_EQ(summary.outcomes[0].name, "a");
  EXPECT_FALSE(api_.Object(std::string(kCmPath) + "c").has_value());
}

TEST_F(ApplierTest, MalformedSetsFailBeforeAnyWrite) {
  ApplySummary summary;
  EXPECT_EQ(applier_
                ->Apply(kOwner, {{ConfigMap("a", {}), ConfigMap("a", {{"k", "v"}})}, {}, nullptr},
                        summary)
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      applier_
          ->Apply(kOwner, {{ConfigMap("a", {}), json{{"kind", "ConfigMap"}}}, {}, nullptr}, summary)
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Requests().empty());
}

TEST_F(ApplierTest, UnknownKindsAreResolvedByDiscovery) {
  json widget = {{"apiVersion", "example.com/v1"},
                 {"kind", "Widget"},
                 {"metadata", {{"name", "w"}}},
                 {"spec", {{"size", 1}}}};
  absl::StatusOr<ApplyOutcome> outcome = applier_->ApplyOne(kOwner, widget);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->action, ApplyAction::kCreated);
  EXPECT_TRUE(api_.Object("/apis/example.com/v1/namespaces/team/widgets/w").has_value());
  EXPECT_FALSE(applier_->TypeOf({{"apiVersion", "example.com/v1"}, {"kind", "Gadget"}}).ok());
  absl::StatusOr<ResourceType> known = applier_->TypeOf(StatefulSet("s", "x"));
  ASSERT_TRUE(known.ok());
  EXPECT_EQ(*known, resources::kStatefulSets);
}

TEST_F(ApplierTest, OneApplierServesConcurrentReconciles) {
  // Workers of a controller share one Applier, each reconciling its own owner.
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([this, w] {
      const Owner owner{"v1", "ConfigMap", absl::StrCat("owner-", w), absl::StrCat("uid-w", w),
                        kNs};
      ChildSet children{{ConfigMap(absl::StrCat("w", w, "-a"), {{"k", "1"}}),
                         ConfigMap(absl::StrCat("w", w, "-b"), {{"k", "1"}})},
                        {resources::kConfigMaps},
                        nullptr};
      for (int round = 0; round < 3; ++round) {
        ApplySummary summary;
        absl::Status s = applier_->Apply(owner, children, summary);
        EXPECT_TRUE(s.ok()) << s;
        EXPECT_EQ(summary.Count(round == 0 ? ApplyAction::kCreated : ApplyAction::kUnchanged), 2);
      }
    });
  }
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(Writes().size(), 8u);
}

// A reader over a fixed set of objects, as a reconciler's informer cache would be.
class MapReader final : public ObjectReader {
 public:
  absl::StatusOr<JsonPtr> Get(const ResourceType& type, std::string_view ns,
                              std::string_view name) override {
    absl::MutexLock lock(&mu_);
    ++gets_;
    auto it = objects_.find(type.ObjectPath(ns, name));
    return it == objects_.end() ? nullptr : it->second;
  }
  absl::StatusOr<std::vector<JsonPtr>> List(const ResourceType&, std::string_view,
                                            const std::string&) override {
    return std::vector<JsonPtr>{};
  }
  void Put(const std::string& path, json object) {
    absl::MutexLock lock(&mu_);
    objects_[path] = std::make_shared<const json>(std::move(object));
  }
  int gets() {
    absl::MutexLock lock(&mu_);
    return gets_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, JsonPtr> objects_ ABSL_GUARDED_BY(mu_);
  int gets_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(ApplierTest, ACacheReaderSavesTheReads) {
  MapReader cache;
  Applier cached(*client_, {}, &cache);
  json live = Owned(ConfigMap("a", {{"k", "1"}}));
  live["metadata"]["uid"] = "u";
  live["metadata"]["resourceVersion"] = "7";
  cache.Put(std::string(kCmPath) + "a", live);
  absl::StatusOr<ApplyOutcome> outcome = cached.ApplyOne(kOwner, ConfigMap("a", {{"k", "1"}}));
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->action, ApplyAction::kUnchanged);
  EXPECT_EQ(cache.gets(), 1);
  EXPECT_TRUE(Requests().empty());
}

// ------------------------------------------------------------------------------ pure helpers

TEST(PrepareChildTest, NamespaceRules) {
  json cm = ConfigMap("a", {});
  absl::StatusOr<json> p = PrepareChild(kOwner, cm, true, "m");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)["metadata"]["namespace"], kNs);

  cm["metadata"]["namespace"] = "elsewhere";
  EXPECT_EQ(PrepareChild(kOwner, cm, true, "m").status().code(),
            absl::StatusCode::kInvalidArgument);

  const Owner cluster_owner{"cohort.dev/v1", "Cluster", "c", "u", ""};
  EXPECT_TRUE(PrepareChild(cluster_owner, cm, true, "m").ok());
  EXPECT_FALSE(PrepareChild(cluster_owner, ConfigMap("a", {}), true, "m").ok())
      << "a namespaced child of a cluster-scoped owner must name its namespace";
  json ns_object = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "n"}}}};
  EXPECT_FALSE(PrepareChild(kOwner, ns_object, false, "m").ok());
  absl::StatusOr<json> cluster_child = PrepareChild(cluster_owner, ns_object, false, "m");
  ASSERT_TRUE(cluster_child.ok());
  EXPECT_FALSE((*cluster_child)["metadata"].contains("namespace"));
}

TEST(PrepareChildTest, OwnerReferencesAndLabels) {
  json cm = ConfigMap("a", {});
  cm["metadata"]["labels"] = {{"app", "x"}};
  cm["metadata"]["ownerReferences"] = {
      {{"apiVersion", "v1"}, {"kind", "Thing"}, {"name", "t"}, {"uid", "t-uid"}},
      {{"apiVersion", "old"}, {"kind", "Old"}, {"name", "pipe"}, {"uid", kOwner.uid}}};
  cm["status"] = {{"x", 1}};
  absl::StatusOr<json> p = PrepareChild(kOwner, cm, true, "cohort-operator");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)["metadata"]["labels"], json({{"app", "x"},
                                              {"app.kubernetes.io/managed-by", "cohort-operator"},
                                              {"cohort.dev/owner-uid", kOwner.uid}}));
  const json& refs = (*p)["metadata"]["ownerReferences"];
  ASSERT_EQ(refs.size(), 2u) << "a non-controller reference is kept, ours replaced";
  EXPECT_EQ(refs[0]["uid"], "t-uid");
  EXPECT_EQ(refs[1], kOwner.Reference());
  EXPECT_FALSE(p->contains("status"));

  cm["metadata"]["ownerReferences"][0]["controller"] = true;
  EXPECT_EQ(PrepareChild(kOwner, cm, true, "m").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(PrepareChild(kOwner, ConfigMap("a", {}), true, "not a label value!").ok());
  EXPECT_FALSE(PrepareChild(kOwner, json{{"kind", "ConfigMap"}}, true, "m").ok());
  EXPECT_FALSE(PrepareChild(kOwner, json::array(), true, "m").ok());
  json bad_labels = ConfigMap("a", {});
  bad_labels["metadata"]["labels"] = "x";
  EXPECT_FALSE(PrepareChild(kOwner, bad_labels, true, "m").ok());
}

TEST(PrepareChildTest, HashFollowsContentOnly) {
  absl::StatusOr<json> a = PrepareChild(kOwner, ConfigMap("a", {{"k", "1"}}), true, "m");
  absl::StatusOr<json> again = PrepareChild(kOwner, ConfigMap("a", {{"k", "1"}}), true, "m");
  absl::StatusOr<json> b = PrepareChild(kOwner, ConfigMap("a", {{"k", "2"}}), true, "m");
  ASSERT_TRUE(a.ok() && again.ok() && b.ok());
  const auto hash = [](const json& o) {
    return o["metadata"]["annotations"][kAppliedHashAnnotation].get<std::string>();
  };
  EXPECT_EQ(hash(*a), hash(*again));
  EXPECT_NE(hash(*a), hash(*b));
  EXPECT_EQ(hash(*a), AppliedHash(*a)) << "the annotation is left out of its own hash";
  // Preparing an already prepared object changes nothing.
  absl::StatusOr<json> twice = PrepareChild(kOwner, *a, true, "m");
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(*twice, *a);
}

TEST(OwnerTest, FromObject) {
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "o"}, {"namespace", "n"}, {"uid", "u"}}}};
  absl::StatusOr<Owner> owner = Owner::FromObject(cm);
  ASSERT_TRUE(owner.ok());
  EXPECT_EQ(owner->ns, "n");
  EXPECT_EQ(owner->Selector(), "cohort.dev/owner-uid=u");
  cm["metadata"].erase("uid");
  EXPECT_FALSE(Owner::FromObject(cm).ok());
  EXPECT_FALSE(Owner::FromObject(json("x")).ok());
}

TEST(IsImmutableFieldErrorTest, RecognisesTheServersMessages) {
  auto invalid = [](const std::string& message, const std::string& cause_message) {
    return MakeApiError({422, "Invalid", message, {{"FieldValueInvalid", cause_message, "spec"}}});
  };
  EXPECT_TRUE(IsImmutableFieldError(
      invalid("Deployment.apps \"d\" is invalid: spec.selector: Invalid value: ...: field is "
              "immutable",
              "Invalid value: ...: field is immutable")));
  EXPECT_TRUE(IsImmutableFieldError(invalid(
      "x",
      "Forbidden: updates to statefulset spec for fields other than 'replicas' are forbidden")));
  EXPECT_TRUE(
      IsImmutableFieldError(invalid("x", "Invalid value: \"None\": may not change once set")));
  EXPECT_TRUE(
      IsImmutableFieldError(invalid("x", "Forbidden: field is immutable when `immutable` is set")));
  EXPECT_FALSE(IsImmutableFieldError(invalid("x", "Required value")));
  EXPECT_FALSE(IsImmutableFieldError(
      invalid("ConfigMap \"c\" is invalid: immutable: Invalid value: \"yes\"", "immutable: bad")))
      << "a field called immutable is not an immutable field";
  EXPECT_FALSE(IsImmutableFieldError(MakeApiError({409, "Conflict", "field is immutable"})));
  EXPECT_FALSE(IsImmutableFieldError(absl::OkStatus()));
}

TEST(ApplySummaryTest, Counts) {
  ApplySummary s;
  EXPECT_FALSE(s.Changed());
  s.outcomes.push_back({"ConfigMap", "n", "a", ApplyAction::kUnchanged, ""});
  EXPECT_FALSE(s.Changed());
  s.outcomes.push_back({"ConfigMap", "n", "b", ApplyAction::kPruned, ""});
  EXPECT_TRUE(s.Changed());
  EXPECT_EQ(s.Count(ApplyAction::kPruned), 1);
  EXPECT_EQ(ApplyActionName(ApplyAction::kRecreated), "Recreated");
}

TEST(ApplySummaryTest, NotesByActionGroupOneLinePerAction) {
  ApplySummary s;
  EXPECT_TRUE(s.NotesByAction().empty());
  s.outcomes = {
      {"ServiceAccount", "n", "a", ApplyAction::kCreated, ""},
      {"ConfigMap", "n", "a-1", ApplyAction::kUnchanged, ""},
      {"StatefulSet", "n", "a", ApplyAction::kUpdated, "spec.replicas"},
      {"Service", "n", "a", ApplyAction::kCreated, ""},
      {"Pod", "n", "p", ApplyAction::kWaitingForDeletion, ""},
      {"ConfigMap", "n", "a-0", ApplyAction::kPruned, ""},
  };
  std::vector<ApplySummary::ActionNote> notes = s.NotesByAction();
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_EQ(notes[0].action, "Created");
  EXPECT_EQ(notes[0].note, "Created ServiceAccount a, Service a");
  EXPECT_EQ(notes[1].action, "Updated");
  EXPECT_EQ(notes[1].note, "Updated StatefulSet a (spec.replicas)");
  EXPECT_EQ(notes[2].action, "Pruned");
  EXPECT_EQ(notes[2].note, "Pruned ConfigMap a-0");
}

}  // namespace
}  // namespace cohort::op
