// Does the live object already say what we want? The no-op check of the apply helpers
// (operator/applier.h): the desired object is compared as a SUBSET of the live object, so fields
// the API server defaults (imagePullPolicy, clusterIP, protocol, ...), fields other controllers set
// and metadata the server adds are ignored simply because the desired object does not mention
// them. The rules, chosen to match what the API server does to what it stores:
//
//  - Objects: every key of the desired object must match in the live one; extra live keys are
//    ignored. A live object that is absent counts as {}.
//  - Zero values equal absence: a desired null, "", false, 0, {} or [] matches a missing live
//    field, as Go's `omitempty` drops them on the server (an env var's `value: ""`, a volume
//    mount's `readOnly: false`). A desired null matches anything (it expresses no opinion, as in an
//    apply configuration).
//  - Scalars: equal JSON, or both numbers/strings that are equal Kubernetes quantities
//    (operator/quantity.h): "1000m" == "1", "1Gi" == "1073741824" == 1073741824, "0.5" == "500m",
//    8080 == "8080". This is applied to every scalar, not only to known quantity fields: the server
//    never rewrites any other string, so the only cost is that drift from "1.0" to "1" in a plain
//    string goes unnoticed.
//  - Lists of objects whose every desired element has a distinct string `name` (containers, env,
//    ports, volumes, ...) — or, for `ownerReferences`, a distinct `uid` — are matched by that key,
//    as the server's merge keys do; extra live elements are ignored (another field manager may own
//    them). Every other list is compared by position and must have the same length (atomic lists,
//    which an apply replaces whole).
//
// What a subset cannot see is a field REMOVED from the desired object (it is still live, and
// still a superset). The applier covers that with a hash of the desired object stored in an
// annotation, which the subset check then compares like any other field.
//
// Pure functions; thread-safe; never throw.
#pragma once

#include <optional>
#include <string>

#include "nlohmann/json.hpp"

namespace cohort::op {

// The path of the first desired field that `live` does not match under the rules above (e.g.
// `spec.template.spec.containers[name=app].resources.limits.cpu`), or nullopt when `desired` is a
// subset of `live`.
std::optional<std::string> SubsetDiff(const nlohmann::json& desired, const nlohmann::json& live);

// Equality under the same rules: each is a subset of the other. For a status that we write whole.
bool SemanticEqual(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace cohort::op
