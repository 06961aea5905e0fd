// Decoding of `Content-Encoding: gzip` request bodies with a hard cap on the decoded size, so a
// small compressed body (a "zip bomb") can never make the server allocate past its request limit.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cohort::ingest::http {

// Decodes one or more concatenated gzip members (RFC 1952). The result never holds, and the
// function never allocates room for, more than `max_decoded_bytes` bytes (plus a small constant).
// Errors: kResourceExhausted when the decoded data would exceed `max_decoded_bytes`;
// kInvalidArgument for corrupt, truncated or non-gzip input (trailing bytes included).
[[nodiscard]] absl::StatusOr<std::string> GunzipBounded(std::string_view compressed,
                                                        size_t max_decoded_bytes);

}  // namespace cohort::ingest::http
