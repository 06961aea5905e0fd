#include "tests/support/audit_log.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace cohort::testing {
namespace {

std::string StringAt(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

absl::StatusOr<AuditEvent> ParseAuditLine(std::string_view line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return absl::InvalidArgumentError("audit line is not a JSON object");
  AuditEvent e;
  e.audit_id = StringAt(j, "auditID");
  e.stage = StringAt(j, "stage");
  e.verb = StringAt(j, "verb");
  e.user_agent = StringAt(j, "userAgent");
  if (auto u = j.find("user"); u != j.end() && u->is_object()) e.user = StringAt(*u, "username");
  if (auto o = j.find("objectRef"); o != j.end() && o->is_object()) {
    e.resource = StringAt(*o, "resource");
    e.subresource = StringAt(*o, "subresource");
    e.api_group = StringAt(*o, "apiGroup");
    e.namespace_ = StringAt(*o, "namespace");
    e.name = StringAt(*o, "name");
  }
  if (auto r = j.find("responseStatus"); r != j.end() && r->is_object()) {
    if (auto c = r->find("code"); c != r->end() && c->is_number_integer()) e.code = c->get<int>();
  }
  return e;
}

absl::StatusOr<std::vector<AuditEvent>> ReadAuditLog(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open audit log ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<AuditEvent> events;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) break;  // torn last line: still being written
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    absl::StatusOr<AuditEvent> e = ParseAuditLine(line);
    if (!e.ok()) return absl::DataLossError(absl::StrCat(path, ": ", e.status().message()));
    if (e->stage == "ResponseComplete" || e->stage == "Panic") events.push_back(*std::move(e));
  }
  return events;
}

}  // namespace cohort::testing
