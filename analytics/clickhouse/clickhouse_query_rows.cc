#include "analytics/clickhouse/clickhouse_query_rows.h"

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "analytics/clickhouse/clickhouse_user_properties_sql.h"
#include "analytics/model/result.h"

namespace cohort::analytics::clickhouse {
namespace {

std::string Unescape(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (c != '\\' || i + 1 == field.size()) {
      out.push_back(c);
      continue;
    }
    char e = field[++i];
    switch (e) {
      case 't':
        out.push_back('\t');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case '0':
        out.push_back('\0');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      default:
        out.push_back(e);
        break;  // \\ \' \" and anything else stands for itself
    }
  }
  return out;
}

// `text` cut at every `separator` (Debian's absl::StrSplit takes no std::string_view).
std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t end; (end = text.find(separator, start)) != std::string_view::npos; start = end + 1) {
    parts.push_back(text.substr(start, end - start));
  }
  parts.push_back(text.substr(start));
  return parts;
}

}  // namespace

absl::StatusOr<std::vector<std::vector<std::string>>> ParseTsvRows(std::string_view tsv,
                                                                   size_t columns) {
  std::vector<std::vector<std::string>> rows;
  for (std::string_view line : Split(tsv, '\n')) {
    if (line.empty()) continue;
    std::vector<std::string> fields;
    for (std::string_view field : Split(line, '\t')) fields.push_back(Unescape(field));
    if (fields.size() != columns) {
      return absl::InternalError(absl::StrCat("ClickHouse answered a row of ", fields.size(),
                                              " fields, expected ", columns, ": ",
                                              std::string(line.substr(0, 200))));
    }
    rows.push_back(std::move(fields));
  }
  return rows;
}

absl::StatusOr<int64_t> ParseInt(std::string_view field) {
  int64_t value = 0;
  if (!absl::SimpleAtoi(std::string(field), &value)) {
    return absl::InternalError(
        absl::StrCat("not an integer from ClickHouse: ", std::string(field)));
  }
  return value;
}

absl::StatusOr<double> ParseDouble(std::string_view field) {
  double value = 0;
  if (!absl::SimpleAtod(std::string(field), &value)) {
    return absl::InternalError(absl::StrCat("not a number from ClickHouse: ", std::string(field)));
  }
  return value;
}

absl::StatusOr<std::vector<int64_t>> ParseIntList(std::string_view field) {
  std::vector<int64_t> values;
  if (field.empty()) return values;
  for (std::string_view part : Split(field, ',')) {
    absl::StatusOr<int64_t> value = ParseInt(part);
    if (!value.ok()) return value.status();
    values.push_back(*value);
  }
  return values;
}

std::string PropertyKindSql(std::string_view key_index) {
  return absl::StrCat("if(", std::string(key_index), " = 0, 255, prop_kinds[",
                      std::string(key_index), "])");
}
std::string PropertyStringSql(std::string_view key_index) {
  return absl::StrCat("prop_strings[", std::string(key_index), "]");
}
std::string PropertyNumberSql(std::string_view key_index) {
  return absl::StrCat("prop_numbers[", std::string(key_index), "]");
}

absl::StatusOr<std::string> LabelFromColumns(std::string_view kind, std::string_view text,
                                             std::string_view number) {
  absl::StatusOr<int64_t> code = ParseInt(kind);
  if (!code.ok()) return code.status();
  switch (*code) {
    case 255:
      return std::string(kNoneGroup);
    case 0:
      return PropertyValue::Null().Label();
    case 1:
      return PropertyValue::Bool(text == "true").Label();
    case 2: {
      absl::StatusOr<double> value = ParseDouble(number);
      if (!value.ok()) return value.status();
      return PropertyValue::Number(*value).Label();
    }
    case 3:
      return PropertyValue::String(std::string(text)).Label();
    case 4:
      return PropertyValue::Json(std::string(text)).Label();
    default:
      return absl::InternalError(absl::StrCat("unknown property kind ", *code));
  }
}

ValueSql PropertyValueSql(const PropertyRef& property, std::string_view event_key_index) {
  if (property.scope == PropertyRef::Scope::kUser) {
    const UserPropertyColumns u = UserPropertyColumnsOf(property.key);
    return {absl::StrCat("if(", u.set, " = 0, 255, ", u.kind, ")"), u.text, u.number};
  }
  return {PropertyKindSql(event_key_index), PropertyStringSql(event_key_index),
          PropertyNumberSql(event_key_index)};
}

}  // namespace cohort::analytics::clickhouse
