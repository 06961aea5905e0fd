// Langfuse entities to cohort events (event_mapping.h).
#include "ingest/langfuse/event_mapping.h"

#include <array>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "config/ingest_config.h"
#include "ingest/langfuse/timestamp.h"
#include "openssl/evp.h"

namespace cohort::ingest::langfuse {
namespace {

using nlohmann::json;

const json* Find(const json* obj, std::string_view key) {
  if (obj == nullptr || !obj->is_object()) return nullptr;
  auto it = obj->find(key);
  if (it == obj->end() || it->is_null()) return nullptr;
  return &*it;
}

std::string StringOf(const json* obj, std::string_view key) {
  const json* v = Find(obj, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

std::optional<double> NumberOf(const json* obj, std::string_view key) {
  const json* v = Find(obj, key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  const double d = v->get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

std::optional<int64_t> TimeOf(const json* obj, std::string_view key) {
  const json* v = Find(obj, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  absl::StatusOr<int64_t> t = ParseTimestampMs(v->get_ref<const std::string&>());
  if (!t.ok()) return std::nullopt;
  return *t;
}

// A number as JSON: an integer when it is one (token counts), a double otherwise.
json NumberJson(double d) {
  if (std::trunc(d) == d && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
  return d;
}

void PutString(json& props, std::string_view key, std::string value) {
  if (!value.empty()) props[std::string(key)] = std::move(value);
}

// Scalar metadata keys Dify sets, copied under the same (or a clearer) name.
constexpr std::array<std::pair<std::string_view, std::string_view>, 15> kMetadataKeys = {{
    {"app_id", "app_id"},
    {"app_name", "app_name"},
    {"tenant_id", "tenant_id"},
    {"workspace_name", "workspace_name"},
    {"conversation_id", "conversation_id"},
    {"message_id", "message_id"},
    {"workflow_run_id", "workflow_run_id"},
    {"workflow_id", "workflow_id"},
    {"from_source", "from_source"},
    {"status", "status"},
    {"ls_provider", "model_provider"},
    {"ls_model_name", "model"},
    {"node_id", "node_id"},
    {"node_type", "node_type"},
    {"node_name", "node_name"},
}};

void CopyMetadata(const json* metadata, json& props) {
  if (metadata == nullptr || !metadata->is_object()) return;
  for (const auto& [from, to] : kMetadataKeys) {
    const json* v = Find(metadata, from);
    if (v != nullptr && (v->is_string() || v->is_number() || v->is_boolean())) {
      props[std::string(to)] = *v;
    }
  }
  if (const json* tool = Find(metadata, "tool_name"); tool != nullptr && tool->is_string()) {
    props["tool_name"] = *tool;
  }
}

// Tokens and cost from Langfuse's usage (both shapes), usageDetails and costDetails.
void PutUsage(const json& body, json& props) {
  const json* usage = Find(&body, "usage");
  const json* details = Find(&body, "usageDetails");
  const json* costs = Find(&body, "costDetails");
  auto first = [](std::initializer_list<std::optional<double>> candidates) {
    for (const std::optional<double>& c : candidates) {
      if (c.has_value()) return c;
    }
    return std::optional<double>();
  };
  std::optional<double> input =
      first({NumberOf(usage, "input"), NumberOf(usage, "promptTokens"), NumberOf(details, "input"),
             NumberOf(details, "prompt_tokens")});
  std::optional<double> output =
      first({NumberOf(usage, "output"), NumberOf(usage, "completionTokens"),
             NumberOf(details, "output"), NumberOf(details, "completion_tokens")});
  std::optional<double> total =
      first({NumberOf(usage, "total"), NumberOf(usage, "totalTokens"), NumberOf(details, "total"),
             NumberOf(details, "total_tokens")});
  if (!total.has_value() && input.has_value() && output.has_value()) total = *input + *output;
  if (input.has_value()) props["input_tokens"] = NumberJson(*input);
  if (output.has_value()) props["output_tokens"] = NumberJson(*output);
  if (total.has_value()) props["total_tokens"] = NumberJson(*total);
  if (const json* unit = Find(usage, "unit"); unit != nullptr && unit->is_string()) {
    props["token_unit"] = *unit;
  }
  std::optional<double> input_cost =
      first({NumberOf(usage, "inputCost"), NumberOf(costs, "input")});
  std::optional<double> output_cost =
      first({NumberOf(usage, "outputCost"), NumberOf(costs, "output")});
  std::optional<double> cost = first({NumberOf(usage, "totalCost"), NumberOf(costs, "total")});
  if (!cost.has_value() && input_cost.has_value() && output_cost.has_value()) {
    cost = *input_cost + *output_cost;
  }
  if (input_cost.has_value()) props["input_cost"] = *input_cost;
  if (output_cost.has_value()) props["output_cost"] = *output_cost;
  if (cost.has_value()) props["cost"] = *cost;
}

void PutContent(const json& body, const MappingOptions& options, json& props) {
  if (!options.capture_content) return;
  if (const json* in = Find(&body, "input")) props["input"] = *in;
  if (const json* out = Find(&body, "output")) props["output"] = *out;
}

std::string TraceEventType(std::string_view name) {
  if (name == "message") return "dify.message";
  if (name == "workflow") return "dify.workflow_run";
  return "dify.trace";
}

std::string SpanEventType(const json& body, std::string_view trace_name) {
  const json* metadata = Find(&body, "metadata");
  if (Find(metadata, "node_type") != nullptr) return "dify.workflow_node";
  const std::string name = StringOf(&body, "name");
  if (name == "moderation") return "dify.moderation";
  if (name == "dataset_retrieval") return "dify.dataset_retrieval";
  if (name == "suggested_question") return "dify.suggested_question";
  if (Find(metadata, "tool_name") != nullptr || trace_name == "message") return "dify.tool_call";
  return "dify.span";
}

Event BaseEvent(const Entity& entity, const MappingOptions& options) {
  Event e;
  e.project = std::string(config::kDifyProject);
  e.source = EventSource::kDify;
  e.insert_id = InsertIdFor(entity.family, entity.id);
  e.server_received_time_ms = options.received_ms;
  e.attribute(Attribute::kLibrary) = "dify-langfuse";
  return e;
}

void SetActor(Event& e, const json* trace, const json* own_metadata, std::string_view trace_id) {
  e.user_id = StringOf(trace, "userId");
  if (e.user_id.empty()) e.user_id = StringOf(own_metadata, "user_id");
  if (e.user_id.empty()) e.device_id = absl::StrCat("dify-trace-", std::string(trace_id));
}

std::string Dump(const json& props) {
  return props.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

std::string InsertIdFor(Family family, std::string_view body_id) {
  const std::string input =
      absl::StrCat(std::string(FamilyName(family)), ":", std::string(body_id));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // EVP_Digest fails only when OpenSSL cannot allocate: a broken process, not bad input.
  if (EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha256(), nullptr) != 1 ||
      size < 16) {
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "lf-";
  for (unsigned int i = 0; i < 16; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xf]);
  }
  return out;
}

std::optional<Event> EntityToEvent(const Entity& entity, const json* trace,
                                   const MappingOptions& options) {
  const json& body = entity.body;
  const json* metadata = Find(&body, "metadata");
  json props = json::object();
  if (entity.family == Family::kTrace) {
    const std::string name = StringOf(&body, "name");
    if (name == kConversationNameTrace) return std::nullopt;
    Event e = BaseEvent(entity, options);
    e.event_type = TraceEventType(name);
    e.time_ms = TimeOf(&body, "timestamp").value_or(entity.first_item_ms);
    SetActor(e, &body, metadata, entity.id);
    props["trace_id"] = entity.id;
    PutString(props, "trace_name", name);
    CopyMetadata(metadata, props);
    PutString(props, "conversation_id", StringOf(&body, "sessionId"));
    PutString(props, "release", StringOf(&body, "release"));
    PutString(props, "version", StringOf(&body, "version"));
    PutString(props, "environment", StringOf(&body, "environment"));
    if (const json* tags = Find(&body, "tags"); tags != nullptr && tags->is_array()) {
      props["tags"] = *tags;
    }
    PutContent(body, options, props);
    e.json_field(JsonField::kEventProperties) = Dump(props);
    return e;
  }
  if (entity.family == Family::kLog) return std::nullopt;

  const std::string trace_id = StringOf(&body, "traceId");
  const std::string trace_name = StringOf(trace, "name");
  const std::string name = StringOf(&body, "name");
  if (trace_name == kConversationNameTrace || name == kConversationNameTrace) return std::nullopt;
  Event e = BaseEvent(entity, options);
  SetActor(e, trace, metadata, trace_id.empty() ? entity.id : trace_id);
  PutString(props, "trace_id", trace_id);
  PutString(props, "trace_name", trace_name);
  // The trace's context first; the observation's own metadata wins where both say something.
  CopyMetadata(Find(trace, "metadata"), props);
  PutString(props, "conversation_id", StringOf(trace, "sessionId"));
  CopyMetadata(metadata, props);
  PutString(props, "name", name);

  if (entity.family == Family::kScore) {
    e.event_type = "dify.score";
    e.time_ms = entity.first_item_ms;
    props["score_id"] = entity.id;
    PutString(props, "observation_id", StringOf(&body, "observationId"));
    if (const json* v = Find(&body, "value")) props["value"] = *v;
    PutString(props, "data_type", StringOf(&body, "dataType"));
    if (options.capture_content) PutString(props, "comment", StringOf(&body, "comment"));
    e.json_field(JsonField::kEventProperties) = Dump(props);
    return e;
  }

  switch (entity.family) {
    case Family::kGeneration:
      e.event_type = "dify.llm_generation";
      break;
    case Family::kEvent:
      e.event_type = "dify.trace_event";
      break;
    default:
      e.event_type = SpanEventType(body, trace_name);
      break;
  }
  const std::optional<int64_t> start = TimeOf(&body, "startTime");
  const std::optional<int64_t> end = TimeOf(&body, "endTime");
  const std::optional<int64_t> first_token = TimeOf(&body, "completionStartTime");
  e.time_ms = start.value_or(entity.first_item_ms);
  props["observation_id"] = entity.id;
  props["observation_type"] = std::string(FamilyName(entity.family));
  PutString(props, "parent_observation_id", StringOf(&body, "parentObservationId"));
  if (props.find("node_type") != props.end() && props.find("node_name") == props.end() &&
      !name.empty()) {
    props["node_name"] = name;
  }
  if (e.event_type == "dify.tool_call" && props.find("tool_name") == props.end() && !name.empty()) {
    props["tool_name"] = name;
  }
  PutString(props, "model", StringOf(&body, "model"));
  PutUsage(body, props);
  if (start.has_value() && end.has_value() && *end >= *start) props["latency_ms"] = *end - *start;
  if (start.has_value() && first_token.has_value() && *first_token >= *start) {
    props["time_to_first_token_ms"] = *first_token - *start;
  }
  PutString(props, "level", StringOf(&body, "level"));
  PutString(props, "status_message", StringOf(&body, "statusMessage"));
  PutString(props, "version", StringOf(&body, "version"));
  PutString(props, "prompt_name", StringOf(&body, "promptName"));
  PutContent(body, options, props);
  e.json_field(JsonField::kEventProperties) = Dump(props);
  return e;
}

}  // namespace cohort::ingest::langfuse
