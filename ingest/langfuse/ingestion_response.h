// The bodies of Langfuse's ingestion answers: the 207 multi-status
// {"successes":[{"id","status":201}],"errors":[{"id","status","message"}]} and the
// {"message": ...} error body of whole-request failures (with our usual "code"/"error" keys).
// Stateless, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ingest/langfuse/ingestion_request.h"

namespace cohort::ingest::langfuse {

std::string MultiStatusBody(const std::vector<std::string>& success_ids,
                            const std::vector<ItemError>& errors);

// {"code":<status>,"error":<message>,"message":<message>}: Langfuse clients read "message".
std::string ErrorBody(int status, std::string_view message);

}  // namespace cohort::ingest::langfuse
