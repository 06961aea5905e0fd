// Status conditions with metav1.Condition semantics, on a status held as nlohmann::json, and the
// write of a status through the status subresource when (and only when) it changed.
//
// A condition is {type, status: True|False|Unknown, observedGeneration, lastTransitionTime,
// reason, message}. As apimachinery's meta.SetStatusCondition: lastTransitionTime is set when a
// condition first appears and changes only when its status changes; reason, message and
// observedGeneration are updated in place. Times are RFC 3339 in UTC with whole seconds
// ("2024-05-01T12:00:00Z"), the form the API server stores for metav1.Time, so a value read back
// compares equal to the one written.
//
// Status writes (ApplyStatusIfChanged) use server-side apply on the status subresource. Pass the
// same field manager as for the children (kDefaultFieldManager of operator/applier.h):
// managedFields records the subresource, so the two never collide, and one name is easier to
// find. The write is skipped
// when the live status already equals the desired one (SemanticEqual, operator/subset_diff.h), so
// a reconcile at rest makes no write.
//
// Functions are thread-compatible (the JSON is the caller's); none throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "nlohmann/json.hpp"
#include "operator/kube_client.h"
#include "operator/resource.h"

namespace cohort::op {

enum class ConditionStatus { kTrue, kFalse, kUnknown };
// "True", "False", "Unknown".
std::string_view ConditionStatusName(ConditionStatus status);

struct Condition {
  std::string type;
  ConditionStatus status = ConditionStatus::kUnknown;
  std::string reason;
  std::string message;
  int64_t observed_generation = 0;
  absl::Time last_transition_time = absl::InfinitePast();  // InfinitePast if unparsable
};

// The API server's rules, checked before anything is written. kInvalidArgument naming the rule.
// type: a qualified name ("Ready", "cohort.dev/Synced"), at most 316 characters.
[[nodiscard]] absl::Status ValidateConditionType(std::string_view type);
// reason: CamelCase — an upper-case letter first, then letters, digits, '_', ',' or ':', not
// ending in ',' or ':' (the server's pattern), 1 to 1024 characters.
[[nodiscard]] absl::Status ValidateConditionReason(std::string_view reason);

// lastTransitionTime text: RFC 3339, UTC, whole seconds (sub-second parts are dropped).
std::string FormatConditionTime(absl::Time t);

// Sets the condition `type` in `conditions` (a JSON array of conditions; null is taken as empty
// and becomes an array). New conditions are appended, with lastTransitionTime = clock.Now(); an
// existing one keeps its place and its lastTransitionTime unless `status` differs. Returns whether
// `conditions` changed. kInvalidArgument (nothing changed) for a bad type or reason, a message
// over 32768 bytes, a negative observed_generation, or `conditions` that is not an array.
[[nodiscard]] absl::StatusOr<bool> SetCondition(nlohmann::json& conditions, std::string_view type,
                                                ConditionStatus status, std::string_view reason,
                                                std::string_view message,
                                                int64_t observed_generation, const Clock& clock);

// The condition `type`, or nullopt if `conditions` (an array, or null) has none. An entry whose
// status is not True/False/Unknown reads as kUnknown.
std::optional<Condition> FindCondition(const nlohmann::json& conditions, std::string_view type);
// Whether the condition `type` is present with status True / False.
bool IsConditionTrue(const nlohmann::json& conditions, std::string_view type);
bool IsConditionFalse(const nlohmann::json& conditions, std::string_view type);
// Removes the condition `type`; returns whether it was there.
bool RemoveCondition(nlohmann::json& conditions, std::string_view type);

// Writes `status` as the status of `live` (the object as last read: its namespace, name and
// current status) through the status subresource with server-side apply and force, unless
// SemanticEqual(status, live's status). Returns whether it wrote. The type must have a status
// subresource. Errors are the API server's (operator/api_error.h).
[[nodiscard]] absl::StatusOr<bool> ApplyStatusIfChanged(KubeClient& client,
                                                        const ResourceType& type,
                                                        const nlohmann::json& live,
                                                        const nlohmann::json& status,
                                                        const std::string& field_manager);

}  // namespace cohort::op
