// The apply step every reconciler shares (STYLE.md point 6): make the owned children in the
// cluster match the desired ones, writing only what changed, and delete owned children that are
// no longer desired.
//
// For each desired child (nlohmann::json with apiVersion, kind and metadata.name):
//   1. It is marked as ours: an ownerReferences entry for the owner (controller and
//      blockOwnerDeletion true, so deleting the owner garbage-collects it), the labels
//      app.kubernetes.io/managed-by=<field manager> and cohort.dev/owner-uid=<owner uid> (so owned
//      children are found by label selector), and the annotation cohort.dev/applied-hash (below).
//   2. No-op check, without writing: the prepared child is compared as a subset of the live object
//      (operator/subset_diff.h: fields the server defaults are ignored, quantities and empty values
//      normalised). The applied-hash annotation — a hash of the whole prepared child — makes a
//      field removed from the desired object show up as a difference too: the live annotation
//      still holds the old hash. So an unchanged child costs a read and no write; a child edited
//      by someone else (drift) or changed in the desired set is applied again.
//   3. Otherwise server-side apply (KubeClient::Apply) under the one field manager with force, so
//      the operator wins conflicts over fields it sets (controller-runtime's advice).
//   4. An apply refused because it changes an immutable field (IsImmutableFieldError: a
//      StatefulSet's selector or volumeClaimTemplates, a Service's clusterIP, a Job's template, a
//      Deployment's selector, an immutable ConfigMap's data) deletes the child with Background
//      propagation — the object goes at once, its own dependents (a StatefulSet's pods) are
//      garbage-collected afterwards — guarded by the live uid as a precondition, and creates it
//      again. If the old object is still there (finalizers), the outcome is kWaitingForDeletion
//      and the caller should requeue: applying to a terminating object would be lost. Kinds whose
//      deletion loses data (ApplierOptions::never_recreate: PersistentVolumeClaims) are not
//      recreated; the error is returned.
// Then pruning: for each of the caller's owned kinds, the children labelled with the owner's uid
// (in the owner's namespace; all namespaces for a cluster-scoped owner) that the owner controls,
// that are not desired, not already terminating and not kept by the caller's predicate (e.g. the
// last few immutable ConfigMaps kept for rollback) are deleted (Background, uid precondition).
//
// Live state is read through an ObjectReader: by default a GET per child and a LIST per pruned
// kind (reads, never writes). A reconciler can pass a reader over its informer caches to save the
// reads; a stale cache then costs at most one redundant (idempotent) apply.
//
// Thread-safe: an Applier holds no mutable state; it borrows the client and the reader, which must
// outlive it and be thread-safe themselves. Errors are the API server's (typed, see
// operator/api_error.h) prefixed with the child's kind and name; kInvalidArgument for a malformed
// desired object or owner.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "operator/kube_client.h"
#include "operator/resource.h"

namespace cohort::op {

inline constexpr char kDefaultFieldManager[] = "cohort-operator";
inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kOwnerUidLabel[] = "cohort.dev/owner-uid";
inline constexpr char kAppliedHashAnnotation[] = "cohort.dev/applied-hash";

// The object that owns the children (the custom resource being reconciled).
struct Owner {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  std::string ns;  // empty for a cluster-scoped owner

  // From the owner as read from the API server. kInvalidArgument if apiVersion, kind,
  // metadata.name or metadata.uid is missing.
  [[nodiscard]] static absl::StatusOr<Owner> FromObject(const nlohmann::json& object);
  // Its ownerReferences entry (controller and blockOwnerDeletion true).
  nlohmann::json Reference() const;
  // The label selector of its children: "cohort.dev/owner-uid=<uid>".
  std::string Selector() const;
};

using JsonPtr = std::shared_ptr<const nlohmann::json>;

// Where the applier reads the live state of children. Implementations must be thread-safe.
class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  // The object, or nullptr when it does not exist.
  [[nodiscard]] virtual absl::StatusOr<JsonPtr> Get(const ResourceType& type, std::string_view ns,
                                                    std::string_view name) = 0;
  // The objects of `type` in `ns` ("": all namespaces) that match `label_selector`.
  [[nodiscard]] virtual absl::StatusOr<std::vector<JsonPtr>> List(
      const ResourceType& type, std::string_view ns, const std::string& label_selector) = 0;
};

// Reads through the API server: a GET per Get, a paginated LIST per List. Borrows `client`.
class ClientReader final : public ObjectReader {
 public:
  explicit ClientReader(KubeClient& client) : client_(client) {}
  absl::StatusOr<JsonPtr> Get(const ResourceType& type, std::string_view ns,
                              std::string_view name) override;
  absl::StatusOr<std::vector<JsonPtr>> List(const ResourceType& type, std::string_view ns,
                                            const std::string& label_selector) override;

 private:
  KubeClient& client_;
};

enum class ApplyAction {
  kCreated,
  kUpdated,
  kUnchanged,
  kRecreated,           // deleted and created again after an immutable-field error
  kPruned,              // deleted: owned but no longer desired
  kWaitingForDeletion,  // the live object is terminating; nothing written, requeue
};
// "Created", "Updated", ...: for events and logs.
std::string_view ApplyActionName(ApplyAction action);

struct ApplyOutcome {
  std::string kind;
  std::string ns;
  std::string name;
  ApplyAction action = ApplyAction::kUnchanged;
  // kUpdated: the first field that differed (e.g. "spec.replicas"); kRecreated: the immutable
  // fields the server named. Field paths only, never values (children may be Secrets).
  std::string detail;
};

struct ApplySummary {
  std::vector<ApplyOutcome> outcomes;  // in the order things were done

  int Count(ApplyAction action) const;
  // Whether anything was written (created, updated, recreated or pruned).
  bool Changed() const;
  // Whether a child waits for an old object's deletion: the caller should requeue soon.
  bool Waiting() const;

  // What was written, one entry per action in the order first done, for one Event per action
  // rather than one per child (an Event is a write too): {"Created", "Created ServiceAccount a,
  // ConfigMap b"}, {"Updated", "Updated StatefulSet c (spec.replicas)"}. Unchanged and waiting
  // children are left out; nothing written gives an empty list.
  struct ActionNote {
    std::string action;
    std::string note;
  };
  std::vector<ActionNote> NotesByAction() const;
};

// The desired children of one owner.
struct ChildSet {
  // Applied in this order (put ServiceAccounts and ConfigMaps before the workloads using them).
  std::vector<nlohmann::json> objects;
  // The kinds this owner may have children of. Pruning looks at these only, so a kind that
  // disappears from `objects` altogether must still be listed here for its leftovers to go.
  std::vector<ResourceType> owned_types;
  // Owned children not in `objects` for which this returns true are kept. May be empty.
  std::function<bool(const nlohmann::json& live)> keep;
};

struct ApplierOptions {
  // The server-side apply field manager; also the managed-by label's value (so it must be a valid
  // label value). Keep it stable: a renamed manager leaves the old one owning fields.
  std::string field_manager = kDefaultFieldManager;
  // Kinds never deleted to get an immutable change through, because deleting them loses data; the
  // immutable-field error is returned instead.
  std::vector<std::string> never_recreate = {"PersistentVolumeClaim"};
};

class Applier {
 public:
  // Borrows `client` and `reader` (nullptr: a ClientReader over `client`).
  explicit Applier(KubeClient& client, ApplierOptions options = {}, ObjectReader* reader = nullptr);
  Applier(const Applier&) = delete;
  Applier& operator=(const Applier&) = delete;

  // Applies every child of `children`, in order, then prunes. Stops at the first error and
  // returns it, without pruning (a half-applied set is no basis for deleting things). A malformed
  // child (see PrepareChild) or two children with the same kind, namespace and name fail the
  // whole set before anything is written. `summary` receives the outcome of everything done,
  // also when an error is returned.
  [[nodiscard]] absl::Status Apply(const Owner& owner, const ChildSet& children,
                                   ApplySummary& summary);

  // One child (steps 1–4 of the file comment).
  [[nodiscard]] absl::StatusOr<ApplyOutcome> ApplyOne(const Owner& owner,
                                                      const nlohmann::json& desired);

  // Only the pruning of Apply: deletes owned children of `children.owned_types` that are not in
  // `children.objects` and not kept.
  [[nodiscard]] absl::Status Prune(const Owner& owner, const ChildSet& children,
                                   ApplySummary& summary);

  // The resource of an object's apiVersion and kind: the well-known types of
  // operator/resource.h, else discovery (KubeClient::Resolve).
  [[nodiscard]] absl::StatusOr<ResourceType> TypeOf(const nlohmann::json& object);

 private:
  // Desired objects prepared for `owner`, with their types.
  struct Prepared {
    ResourceType type;
    std::string ns;
    std::string name;
    nlohmann::json object;
  };
  absl::StatusOr<Prepared> Prepare(const Owner& owner, const nlohmann::json& desired);
  absl::StatusOr<std::vector<Prepared>> PrepareAll(const Owner& owner,
                                                   const std::vector<nlohmann::json>& desired);
  absl::StatusOr<ApplyOutcome> ApplyPrepared(const Prepared& child);
  absl::StatusOr<ApplyOutcome> Recreate(const Prepared& child, const JsonPtr& live,
                                        const absl::Status& refused);
  absl::Status PruneExcept(const Owner& owner, const ChildSet& children,
                           const std::vector<Prepared>& desired, ApplySummary& summary);

  KubeClient& client_;
  const ApplierOptions options_;
  std::unique_ptr<ObjectReader> own_reader_;  // when none was passed in
  ObjectReader& reader_;
};

// The pure part of step 1: `desired` with the owner's reference, the ownership labels (managed-by
// = `managed_by`), metadata.namespace set (namespaced types) or removed (cluster-scoped), `status`
// removed (it cannot be applied through the main resource) and the applied-hash annotation.
// kInvalidArgument when the child cannot be owned by `owner`: no metadata.name, a namespace other
// than the owner's, a cluster-scoped child of a namespaced owner, or another controller reference.
[[nodiscard]] absl::StatusOr<nlohmann::json> PrepareChild(const Owner& owner,
                                                          const nlohmann::json& desired,
                                                          bool namespaced,
                                                          std::string_view managed_by);

// The applied-hash value of a prepared child: the first 16 hex digits of the SHA-256 of its
// canonical JSON (sorted keys), the annotation itself excluded.
std::string AppliedHash(const nlohmann::json& object);

// Whether the API server refused a write because it changes a field that cannot change after
// creation (reason Invalid, with a message saying so). Other Invalid errors are false: deleting
// would not help, and the create would fail the same way.
bool IsImmutableFieldError(const absl::Status& status);

}  // namespace cohort::op
