// Reading the kube-apiserver's JSON audit log (one event per line), so tests can count the writes a
// client made and compare the verbs and resources it used with what RBAC grants.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cohort::testing {

// The fields of an audit.k8s.io/v1 Event that tests look at.
struct AuditEvent {
  std::string audit_id;
  std::string stage;        // "ResponseComplete" for finished requests
  std::string verb;         // create, update, patch, delete, get, list, watch, ...
  std::string user;         // user.username
  std::string resource;     // objectRef.resource, e.g. "configmaps"
  std::string subresource;  // objectRef.subresource, e.g. "status"
  std::string api_group;    // objectRef.apiGroup ("" for core)
  std::string namespace_;   // objectRef.namespace
  std::string name;         // objectRef.name
  std::string user_agent;
  int code = 0;  // responseStatus.code
};

// Parses one line of the log. Lines that are not JSON objects are an InvalidArgument error.
[[nodiscard]] absl::StatusOr<AuditEvent> ParseAuditLine(std::string_view line);

// Reads every complete event of the log at `path` (stage ResponseComplete or Panic). A torn last
// line (the server is still writing it) is ignored; any other malformed line is an error.
[[nodiscard]] absl::StatusOr<std::vector<AuditEvent>> ReadAuditLog(const std::string& path);

}  // namespace cohort::testing
