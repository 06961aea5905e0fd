// Langfuse entities (merged traces, observations, scores) to cohort events: the product-analytics
// view of a Dify trace. Pure functions of their inputs; thread-safe.
//
// Event types (project config::kDifyProject, source EventSource::kDify, library "dify-langfuse"):
//   trace "message" -> dify.message, "workflow" -> dify.workflow_run, other traces -> dify.trace;
//   generation -> dify.llm_generation; span with metadata.node_type -> dify.workflow_node;
//   span "moderation" -> dify.moderation, "dataset_retrieval" -> dify.dataset_retrieval,
//   "suggested_question" -> dify.suggested_question; a span
//   with metadata.tool_name, or any other span of a "message" trace (Dify names tool spans after
//   the tool) -> dify.tool_call; other spans -> dify.span; event-create -> dify.trace_event;
//   score-create -> dify.score.
// Dify's "generate_conversation_name" trace (its userId is the tenant, not a user) and its
// observations are not user activity: they map to no event (nullopt).
//
// Identity: user_id = the trace's userId (an observation inherits it from its trace; failing
// that metadata.user_id). Without a user the event gets device_id "dify-trace-<traceId>" so it
// keeps an actor. session_id stays kNoSession: Amplitude's session_id is a start time in ms, the
// conversation id is a string, so it travels as event_properties.conversation_id (sessions are
// computed at query time). insert_id = "lf-" + 32 hex digits of SHA-256(family ":" body id):
// one entity, one insert id, whatever envelope carried it, so retries and duplicates dedup.
//
// event_properties carry ids (trace_id, observation_id, parent_observation_id, conversation_id,
// message_id, workflow_run_id, app_id, app_name, tenant_id, workspace_name), name, model,
// model_provider, tokens (input_tokens, output_tokens, total_tokens, token_unit: from either
// usage shape or usageDetails), cost, input_cost, output_cost (usage.*Cost or costDetails),
// latency_ms, time_to_first_token_ms, level, status_message, status, node_type, node_name,
// node_id, tool_name, from_source, tags. input/output only with capture_content.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ingest/event/event.h"
#include "ingest/langfuse/ingestion_request.h"
#include "nlohmann/json.hpp"

namespace cohort::ingest::langfuse {

// One trace, observation or score as merged so far.
struct Entity {
  Family family = Family::kTrace;
  std::string id;             // body id
  nlohmann::json body;        // merged body (an object)
  int64_t first_item_ms = 0;  // envelope timestamp of its first item: the time fallback
};

struct MappingOptions {
  bool capture_content = false;  // keep input/output (prompt and answer text)
  int64_t received_ms = 0;       // Event::server_received_time_ms
};

inline constexpr std::string_view kConversationNameTrace = "generate_conversation_name";

// The event for `entity`; `trace` is its trace's merged body when known (observations and
// scores), nullptr otherwise. nullopt: not user activity (conversation-name generation) or a
// family that makes no event (sdk-log).
std::optional<Event> EntityToEvent(const Entity& entity, const nlohmann::json* trace,
                                   const MappingOptions& options);

// "lf-" + hex(SHA-256(FamilyName(family) + ":" + body_id))[0, 32).
std::string InsertIdFor(Family family, std::string_view body_id);

}  // namespace cohort::ingest::langfuse
