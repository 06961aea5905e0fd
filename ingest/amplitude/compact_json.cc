// Compact re-serialization of property objects (compact_json.h).
#include "ingest/amplitude/compact_json.h"

#include "ingest/amplitude/validation.h"
#include "ingest/event/json_text.h"

namespace cohort::ingest::amplitude {

using simdjson::dom::element;
using simdjson::dom::element_type;

bool AppendCompactJson(element value, int depth, std::string* out) {
  switch (value.type()) {
    case element_type::OBJECT: {
      if (depth > kMaxPropertyDepth) return false;
      out->push_back('{');
      bool first = true;
      // Copied out first: a range-for over value_unsafe() of a temporary would dangle.
      const simdjson::dom::object object = value.get_object().value_unsafe();
      for (simdjson::dom::key_value_pair field : object) {
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(TruncateToCodePoints(field.key, kMaxStringCodePoints), out);
        out->push_back(':');
        if (!AppendCompactJson(field.value, depth + 1, out)) return false;
      }
      out->push_back('}');
      return true;
    }
    case element_type::ARRAY: {
      if (depth > kMaxPropertyDepth) return false;
      out->push_back('[');
      bool first = true;
      const simdjson::dom::array array = value.get_array().value_unsafe();
      for (element item : array) {
        if (!first) out->push_back(',');
        first = false;
        if (!AppendCompactJson(item, depth + 1, out)) return false;
      }
      out->push_back(']');
      return true;
    }
    case element_type::STRING:
      AppendJsonString(
          TruncateToCodePoints(value.get_string().value_unsafe(), kMaxStringCodePoints), out);
      return true;
    case element_type::INT64:
      AppendJsonInt(value.get_int64().value_unsafe(), out);
      return true;
    case element_type::UINT64:
      AppendJsonUint(value.get_uint64().value_unsafe(), out);
      return true;
    case element_type::DOUBLE:
      AppendJsonDouble(value.get_double().value_unsafe(), out);
      return true;
    case element_type::BOOL:
      out->append(value.get_bool().value_unsafe() ? "true" : "false");
      return true;
    case element_type::NULL_VALUE:
      out->append("null");
      return true;
  }
  return false;
}

}  // namespace cohort::ingest::amplitude
