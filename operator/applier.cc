#include "operator/applier.h"

#include <openssl/evp.h>

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "operator/api_error.h"
#include "operator/subset_diff.h"

namespace cohort::op {
namespace {

using nlohmann::json;

// `s` with `prefix` before its message, payloads (the Kubernetes reason, causes, ...) kept so
// callers can still ask apierrors::IsConflict and friends.
absl::Status Annotate(const absl::Status& s, std::string_view prefix) {
  absl::Status out(s.code(), absl::StrCat(std::string(prefix), ": ", std::string(s.message())));
  s.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

std::string Describe(std::string_view kind, std::string_view ns, std::string_view name) {
  return ns.empty() ? absl::StrCat(std::string(kind), " ", std::string(name))
                    : absl::StrCat(std::string(kind), " ", std::string(ns), "/", std::string(name));
}

std::string StringAt(const json& object, const char* a, const char* b = nullptr) {
  auto it = object.find(a);
  if (it == object.end()) return "";
  if (b != nullptr) {
    if (!it->is_object()) return "";
    auto inner = it->find(b);
    return inner != it->end() && inner->is_string() ? inner->get<std::string>() : "";
  }
  return it->is_string() ? it->get<std::string>() : "";
}

// A member's value when it is a boolean true.
bool IsTrueAt(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_boolean() && it->get<bool>();
}

bool IsTerminating(const json& object) {
  auto m = object.find("metadata");
  return m != object.end() && m->is_object() && m->contains("deletionTimestamp") &&
         !(*m)["deletionTimestamp"].is_null();
}

bool ControlledBy(const json& object, const std::string& uid) {
  auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return false;
  auto refs = m->find("ownerReferences");
  if (refs == m->end() || !refs->is_array()) return false;
  return std::any_of(refs->begin(), refs->end(), [&uid](const json& ref) {
    return ref.is_object() && StringAt(ref, "uid") == uid && IsTrueAt(ref, "controller");
  });
}

// A Kubernetes label value: at most 63 characters, alphanumerics and -_. inside, alphanumeric at
// both ends (or empty).
bool IsLabelValue(std::string_view v) {
  if (v.empty()) return true;
  if (v.size() > 63 || !absl::ascii_isalnum(v.front()) || !absl::ascii_isalnum(v.back())) {
    return false;
  }
  return std::all_of(v.begin(), v.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

// A json member that must be an object (created if absent).
absl::StatusOr<json*> ObjectMember(json& parent, const char* key, const std::string& what) {
  json& member = parent[key];
  if (member.is_null()) member = json::object();
  if (!member.is_object()) return absl::InvalidArgumentError(absl::StrCat(what, " is not a map"));
  return &member;
}

const ResourceType* KnownType(std::string_view group, std::string_view version,
                              std::string_view kind) {
  static const ResourceType* const kKnown[] = {
      &resources::kConfigMaps,
      &resources::kSecrets,
      &resources::kServices,
      &resources::kServiceAccounts,
      &resources::kPods,
      &resources::kNamespaces,
      &resources::kPersistentVolumeClaims,
      &resources::kEvents,
      &resources::kLeases,
      &resources::kDeployments,
      &resources::kStatefulSets,
      &resources::kPodDisruptionBudgets,
      &resources::kHorizontalPodAutoscalers,
      &resources::kNetworkPolicies,
      &resources::kCustomResourceDefinitions,
  };
  for (const ResourceType* t : kKnown) {
    if (t->group == group && t->version == version && t->kind == kind) return t;
  }
  return nullptr;
}

using ChildKey = std::tuple<std::string, std::string, std::string>;  // group-resource, ns, name

}  // namespace

// ---------------------------------------------------------------------------------------- Owner

absl::StatusOr<Owner> Owner::FromObject(const json& object) {
  if (!object.is_object()) return absl::InvalidArgumentError("owner is not an object");
  Owner owner{StringAt(object, "apiVersion"), StringAt(object, "kind"),
              StringAt(object, "metadata", "name"), StringAt(object, "metadata", "uid"),
              StringAt(object, "metadata", "namespace")};
  if (owner.api_version.empty() || owner.kind.empty() || owner.name.empty() || owner.uid.empty()) {
    return absl::InvalidArgumentError(
        "owner needs apiVersion, kind, metadata.name and metadata.uid (read it from the server)");
  }
  return owner;
}

json Owner::Reference() const {
  return {{"apiVersion", api_version},
          {"kind", kind},
          {"name", name},
          {"uid", uid},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

std::string Owner::Selector() const { return absl::StrCat(kOwnerUidLabel, "=", uid); }

// ------------------------------------------------------------------------------------ ClientReader

absl::StatusOr<JsonPtr> ClientReader::Get(const ResourceType& type, std::string_view ns,
                                          std::string_view name) {
  absl::StatusOr<json> object = client_.Get(type, ns, name);
  if (apierrors::IsNotFound(object.status())) return nullptr;
  if (!object.ok()) return object.status();
  return std::make_shared<const json>(*std::move(object));
}

absl::StatusOr<std::vector<JsonPtr>> ClientReader::List(const ResourceType& type,
                                                        std::string_view ns,
                                                        const std::string& label_selector) {
  ListOptions options;
  options.label_selector = label_selector;
  options.limit = 500;
  absl::StatusOr<ListPage> list = client_.ListAll(type, ns, options);
  if (!list.ok()) return list.status();
  std::vector<JsonPtr> items;
  items.reserve(list->items.size());
  for (json& item : list->items) items.push_back(std::make_shared<const json>(std::move(item)));
  return items;
}

// ---------------------------------------------------------------------------------- ApplySummary

std::string_view ApplyActionName(ApplyAction action) {
  switch (action) {
    case ApplyAction::kCreated:
      return "Created";
    case ApplyAction::kUpdated:
      return "Updated";
    case ApplyAction::kUnchanged:
      return "Unchanged";
    case ApplyAction::kRecreated:
      return "Recreated";
    case ApplyAction::kPruned:
      return "Pruned";
    case ApplyAction::kWaitingForDeletion:
      return "WaitingForDeletion";
  }
  return "Unknown";
}

int ApplySummary::Count(ApplyAction action) const {
  return static_cast<int>(
      std::count_if(outcomes.begin(), outcomes.end(),
                    [action](const ApplyOutcome& o) { return o.action == action; }));
}

bool ApplySummary::Changed() const {
  return std::any_of(outcomes.begin(), outcomes.end(), [](const ApplyOutcome& o) {
    return o.action != ApplyAction::kUnchanged && o.action != ApplyAction::kWaitingForDeletion;
  });
}

bool ApplySummary::Waiting() const { return Count(ApplyAction::kWaitingForDeletion) > 0; }

std::vector<ApplySummary::ActionNote> ApplySummary::NotesByAction() const {
  std::vector<ActionNote> notes;
  for (const ApplyOutcome& o : outcomes) {
    if (o.action == ApplyAction::kUnchanged || o.action == ApplyAction::kWaitingForDeletion) {
      continue;
    }
    const std::string action(ApplyActionName(o.action));
    auto it = std::find_if(notes.begin(), notes.end(),
                           [&](const ActionNote& n) { return n.action == action; });
    if (it == notes.end()) {
      notes.push_back({action, action});
      it = notes.end() - 1;
    } else {
      it->note += ",";
    }
    absl::StrAppend(&it->note, " ", o.kind, " ", o.name,
                    o.detail.empty() ? "" : absl::StrCat(" (", o.detail, ")"));
  }
  return notes;
}

// ------------------------------------------------------------------------------ pure helpers

std::string AppliedHash(const json& object) {
  json copy = object;
  if (auto m = copy.find("metadata"); m != copy.end() && m->is_object()) {
    if (auto a = m->find("annotations"); a != m->end() && a->is_object()) {
      a->erase(kAppliedHashAnnotation);
      if (a->empty()) m->erase("annotations");
    }
  }
  // Object keys are sorted, so the dump is canonical; bad UTF-8 is replaced rather than thrown.
  const std::string canonical = copy.dump(-1, ' ', false, json::error_handler_t::replace);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(canonical.data(), canonical.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    // Only a broken libcrypto fails here; a constant would silently disable change detection.
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < 8 && i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

absl::StatusOr<json> PrepareChild(const Owner& owner, const json& desired, bool namespaced,
                                  std::string_view managed_by) {
  if (!desired.is_object()) return absl::InvalidArgumentError("desired child is not an object");
  const std::string kind = StringAt(desired, "kind");
  const std::string name = StringAt(desired, "metadata", "name");
  if (name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("desired ", kind, " has no metadata.name"));
  }
  const std::string what = Describe(kind, "", name);
  if (!IsLabelValue(managed_by)) {
    return absl::InvalidArgumentError(
        absl::StrCat("field manager \"", std::string(managed_by), "\" is not a label value"));
  }
  json object = desired;
  object.erase("status");
  json& meta = object["metadata"];

  if (namespaced) {
    std::string ns = StringAt(meta, "namespace");
    if (ns.empty()) ns = owner.ns;
    if (ns.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": a namespaced child of a cluster-scoped owner needs a namespace"));
    }
    if (!owner.ns.empty() && ns != owner.ns) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": namespace ", ns, " differs from the owner's (", owner.ns,
                       "); owner references cannot cross namespaces"));
    }
    meta["namespace"] = ns;
  } else {
    if (!owner.ns.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": a cluster-scoped child cannot have a namespaced owner"));
    }
    meta.erase("namespace");
  }

  absl::StatusOr<json*> labels = ObjectMember(meta, "labels", absl::StrCat(what, " labels"));
  if (!labels.ok()) return labels.status();
  (**labels)[kManagedByLabel] = std::string(managed_by);
  (**labels)[kOwnerUidLabel] = owner.uid;

  json& refs = meta["ownerReferences"];
  if (refs.is_null()) refs = json::array();
  if (!refs.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ownerReferences is not a list"));
  }
  json kept = json::array();
  for (json& ref : refs) {
    if (ref.is_object() && StringAt(ref, "uid") == owner.uid) continue;
    if (ref.is_object() && IsTrueAt(ref, "controller")) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " already names a controller (", StringAt(ref, "kind"), " ",
                       StringAt(ref, "name"), "); an object has at most one"));
    }
    kept.push_back(std::move(ref));
  }
  kept.push_back(owner.Reference());
  refs = std::move(kept);

  absl::StatusOr<json*> annotations =
      ObjectMember(meta, "annotations", absl::StrCat(what, " annotations"));
  if (!annotations.ok()) return annotations.status();
  const std::string hash = AppliedHash(object);
  (**annotations)[kAppliedHashAnnotation] = hash;
  return object;
}

bool IsImmutableFieldError(const absl::Status& status) {
  if (!apierrors::IsInvalid(status)) return false;
  auto says_immutable = [](std::string_view message) {
    const std::string lower = absl::AsciiStrToLower(std::string(message));
    // "field is immutable" (most fields, a Job's template, an immutable ConfigMap's data), "spec
    // is immutable" (PVCs); not a bare "immutable", which also names a ConfigMap field.
    return absl::StrContains(lower, "is immutable") ||
           absl::StrContains(lower, "may not change once set") ||  // a Service's clusterIP(s)
           // A StatefulSet's selector, volumeClaimTemplates, serviceName, ...
           absl::StrContains(lower, "updates to statefulset spec for fields other than") ||
           absl::StrContains(lower, "may not change fields other than");  // pods
  };
  if (says_immutable(std::string(status.message()))) return true;
  for (const Cause& cause : apierrors::Causes(status)) {
    if (says_immutable(cause.message)) return true;
  }
  return false;
}

// ----------------------------------------------------------------------------------- Applier

Applier::Applier(KubeClient& client, ApplierOptions options, ObjectReader* reader)
    : client_(client),
      options_(std::move(options)),
      own_reader_(reader == nullptr ? std::make_unique<ClientReader>(client) : nullptr),
      reader_(reader == nullptr ? *own_reader_ : *reader) {}

absl::StatusOr<ResourceType> Applier::TypeOf(const json& object) {
  const std::string api_version = object.is_object() ? StringAt(object, "apiVersion") : "";
  const std::string kind = object.is_object() ? StringAt(object, "kind") : "";
  if (api_version.empty() || kind.empty()) {
    return absl::InvalidArgumentError("desired child needs apiVersion and kind");
  }
  std::string group, version = api_version;
  if (size_t slash = api_version.find('/'); slash != std::string::npos) {
    group = api_version.substr(0, slash);
    version = api_version.substr(slash + 1);
  }
  if (const ResourceType* known = KnownType(group, version, kind)) return *known;
  absl::StatusOr<ResourceType> resolved = client_.Resolve(group, version, kind);
  if (!resolved.ok())
    return Annotate(resolved.status(), absl::StrCat("resolving ", api_version, " ", kind));
  return resolved;
}

absl::StatusOr<Applier::Prepared> Applier::Prepare(const Owner& owner, const json& desired) {
  absl::StatusOr<ResourceType> type = TypeOf(desired);
  if (!type.ok()) return type.status();
  absl::StatusOr<json> object =
      PrepareChild(owner, desired, type->namespaced, options_.field_manager);
  if (!object.ok()) return object.status();
  Prepared p{*type, StringAt(*object, "metadata", "namespace"),
             StringAt(*object, "metadata", "name"), *std::move(object)};
  return p;
}

absl::StatusOr<std::vector<Applier::Prepared>> Applier::PrepareAll(
    const Owner& owner, const std::vector<json>& desired) {
  std::vector<Prepared> prepared;
  absl::flat_hash_set<ChildKey> seen;
  for (const json& d : desired) {
    absl::StatusOr<Prepared> p = Prepare(owner, d);
    if (!p.ok()) return p.status();
    if (!seen.insert({p->type.GroupResource(), p->ns, p->name}).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("desired children name ", Describe(p->type.kind, p->ns, p->name), " twice"));
    }
    prepared.push_back(*std::move(p));
  }
  return prepared;
}

absl::StatusOr<ApplyOutcome> Applier::ApplyOne(const Owner& owner, const json& desired) {
  absl::StatusOr<Prepared> p = Prepare(owner, desired);
  if (!p.ok()) return p.status();
  return ApplyPrepared(*p);
}

absl::StatusOr<ApplyOutcome> Applier::ApplyPrepared(const Prepared& child) {
  const std::string what = Describe(child.type.kind, child.ns, child.name);
  ApplyOutcome outcome{child.type.kind, child.ns, child.name};
  absl::StatusOr<JsonPtr> live = reader_.Get(child.type, child.ns, child.name);
  if (!live.ok()) return Annotate(live.status(), absl::StrCat("reading ", what));
  if (*live != nullptr) {
    if (IsTerminating(**live)) {
      outcome.action = ApplyAction::kWaitingForDeletion;
      return outcome;
    }
    // apiVersion and kind name the type we looked the object up by (list items may lack them).
    json compared = child.object;
    compared.erase("apiVersion");
    compared.erase("kind");
    std::optional<std::string> diff = SubsetDiff(compared, **live);
    if (!diff.has_value()) {
      outcome.action = ApplyAction::kUnchanged;
      return outcome;
    }
    outcome.detail = *std::move(diff);
  }
  absl::StatusOr<json> applied =
      client_.Apply(child.type, child.ns, child.object, options_.field_manager, /*force=*/true);
  if (applied.ok()) {
    outcome.action = *live == nullptr ? ApplyAction::kCreated : ApplyAction::kUpdated;
    return outcome;
  }
  if (IsImmutableFieldError(applied.status()) &&
      std::find(options_.never_recreate.begin(), options_.never_recreate.end(), child.type.kind) ==
          options_.never_recreate.end()) {
    return Recreate(child, *live, applied.status());
  }
  return Annotate(applied.status(), absl::StrCat("applying ", what));
}

absl::StatusOr<ApplyOutcome> Applier::Recreate(const Prepared& child, const JsonPtr& live,
                                               const absl::Status& refused) {
  const std::string what = Describe(child.type.kind, child.ns, child.name);
  ApplyOutcome outcome{child.type.kind, child.ns, child.name};
  std::vector<std::string> fields;
  for (const Cause& cause : apierrors::Causes(refused)) {
    if (!cause.field.empty()) fields.push_back(cause.field);
  }
  outcome.detail = absl::StrJoin(fields, ",");

  DeleteOptions options;
  options.propagation = Propagation::kBackground;
  if (live != nullptr) options.precondition_uid = StringAt(*live, "metadata", "uid");
  absl::StatusOr<json> deleted = client_.Delete(child.type, child.ns, child.name, options);
  if (!deleted.ok() && !apierrors::IsNotFound(deleted.status())) {
    return Annotate(deleted.status(),
                    absl::StrCat("deleting ", what, " to recreate it (immutable field changed)"));
  }
  // Read the server, not the reader: a cache would still show the object.
  absl::StatusOr<json> after = client_.Get(child.type, child.ns, child.name);
  if (after.ok()) {
    outcome.action = ApplyAction::kWaitingForDeletion;
    return outcome;
  }
  if (!apierrors::IsNotFound(after.status())) {
    return Annotate(after.status(), absl::StrCat("reading ", what, " after deleting it"));
  }
  absl::StatusOr<json> created =
      client_.Apply(child.type, child.ns, child.object, options_.field_manager, /*force=*/true);
  if (!created.ok()) return Annotate(created.status(), absl::StrCat("recreating ", what));
  outcome.action = ApplyAction::kRecreated;
  return outcome;
}

absl::Status Applier::Apply(const Owner& owner, const ChildSet& children, ApplySummary& summary) {
  absl::StatusOr<std::vector<Prepared>> prepared = PrepareAll(owner, children.objects);
  if (!prepared.ok()) return prepared.status();
  for (const Prepared& child : *prepared) {
    absl::StatusOr<ApplyOutcome> outcome = ApplyPrepared(child);
    if (!outcome.ok()) return outcome.status();
    summary.outcomes.push_back(*std::move(outcome));
  }
  return PruneExcept(owner, children, *prepared, summary);
}

absl::Status Applier::Prune(const Owner& owner, const ChildSet& children, ApplySummary& summary) {
  absl::StatusOr<std::vector<Prepared>> prepared = PrepareAll(owner, children.objects);
  if (!prepared.ok()) return prepared.status();
  return PruneExcept(owner, children, *prepared, summary);
}

absl::Status Applier::PruneExcept(const Owner& owner, const ChildSet& children,
                                  const std::vector<Prepared>& desired, ApplySummary& summary) {
  absl::flat_hash_set<ChildKey> wanted;
  for (const Prepared& p : desired) wanted.insert({p.type.GroupResource(), p.ns, p.name});
  for (const ResourceType& type : children.owned_types) {
    // Children of a cluster-scoped owner may live in any namespace.
    const std::string ns = type.namespaced ? owner.ns : "";
    absl::StatusOr<std::vector<JsonPtr>> items = reader_.List(type, ns, owner.Selector());
    if (!items.ok()) {
      return Annotate(items.status(), absl::StrCat("listing owned ", type.GroupResource()));
    }
    std::vector<JsonPtr> sorted = *std::move(items);
    std::sort(sorted.begin(), sorted.end(), [](const JsonPtr& a, const JsonPtr& b) {
      return std::make_pair(StringAt(*a, "metadata", "namespace"),
                            StringAt(*a, "metadata", "name")) <
             std::make_pair(StringAt(*b, "metadata", "namespace"),
                            StringAt(*b, "metadata", "name"));
    });
    for (const JsonPtr& item : sorted) {
      const std::string item_ns = type.namespaced ? StringAt(*item, "metadata", "namespace") : "";
      const std::string name = StringAt(*item, "metadata", "name");
      if (name.empty() || wanted.contains({type.GroupResource(), item_ns, name})) continue;
      // The label alone proves nothing (anyone can copy it); the controller reference does.
      if (IsTerminating(*item) || !ControlledBy(*item, owner.uid)) continue;
      if (children.keep && children.keep(*item)) continue;
      DeleteOptions options;
      options.propagation = Propagation::kBackground;
      // Never delete a newer object that took the name meanwhile.
      options.precondition_uid = StringAt(*item, "metadata", "uid");
      absl::StatusOr<json> deleted = client_.Delete(type, item_ns, name, options);
      if (apierrors::IsNotFound(deleted.status()) || apierrors::IsConflict(deleted.status())) {
        continue;  // gone already, or replaced by an object that is not this one
      }
      if (!deleted.ok()) {
        return Annotate(deleted.status(),
                        absl::StrCat("pruning ", Describe(type.kind, item_ns, name)));
      }
      summary.outcomes.push_back({type.kind, item_ns, name, ApplyAction::kPruned, ""});
    }
  }
  return absl::OkStatus();
}

}  // namespace cohort::op
