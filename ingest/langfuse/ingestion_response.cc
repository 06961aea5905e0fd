// Langfuse ingestion answer bodies (ingestion_response.h).
#include "ingest/langfuse/ingestion_response.h"

#include "ingest/event/json_text.h"

namespace cohort::ingest::langfuse {

std::string MultiStatusBody(const std::vector<std::string>& success_ids,
                            const std::vector<ItemError>& errors) {
  std::string out = "{\"successes\":[";
  for (size_t i = 0; i < success_ids.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"id\":";
    AppendJsonString(success_ids[i], &out);
    out += ",\"status\":201}";
  }
  out += "],\"errors\":[";
  for (size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += "{\"id\":";
    AppendJsonString(errors[i].id, &out);
    out += ",\"status\":";
    AppendJsonInt(errors[i].status, &out);
    out += ",\"message\":";
    AppendJsonString(errors[i].message, &out);
    out += "}";
  }
  out += "]}";
  return out;
}

std::string ErrorBody(int status, std::string_view message) {
  std::string out = "{\"code\":";
  AppendJsonInt(status, &out);
  out += ",\"error\":";
  AppendJsonString(message, &out);
  out += ",\"message\":";
  AppendJsonString(message, &out);
  out += "}";
  return out;
}

}  // namespace cohort::ingest::langfuse
