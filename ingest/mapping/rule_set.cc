#include "ingest/mapping/rule_set.h"

#include <exception>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"

namespace cohort::ingest::mapping {

struct RuleSet::Rule {
  config::Action action = config::Action::kSet;
  // Match.
  std::optional<EventSource> source;
  std::optional<std::string> event_type;
  std::optional<EventPath> property;
  std::optional<std::string> equals;
  // StringDigest(equals) when only a JSON string can have it as its text (so the field's raw
  // text must hold that string); unset otherwise.
  std::optional<uint64_t> equals_digest;
  std::unique_ptr<RE2> property_regex;
  // Action.
  std::string rename_to;
  std::optional<EventPath> target;
  std::string value;
  std::optional<EventPath> from;
  std::optional<config::JsonPath> json_path;
  std::unique_ptr<RE2> extract_regex;
};

namespace {

using config::Action;

EventSource ToEventSource(config::Source source) {
  switch (source) {
    case config::Source::kAmplitude:
      return EventSource::kAmplitude;
    case config::Source::kDify:
      return EventSource::kDify;
    case config::Source::kNative:
      return EventSource::kNative;
  }
  return EventSource::kNative;
}

absl::StatusOr<std::unique_ptr<RE2>> CompileRegex(const std::string& pattern, bool needs_group) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, options);
  if (!re->ok()) return absl::InvalidArgumentError(absl::StrCat("invalid RE2: ", re->error()));
  if (needs_group && re->NumberOfCapturingGroups() < 1) {
    return absl::InvalidArgumentError("needs a capture group");
  }
  return re;
}

absl::StatusOr<EventPath> CompilePath(const std::string& text, bool property_path) {
  absl::StatusOr<config::JsonPath> parsed =
      property_path ? config::ParsePropertyPath(text) : config::ParseJsonPath(text);
  if (!parsed.ok()) return parsed.status();
  return ResolveEventPath(*parsed);
}

// Whether only a JSON string's text can be `text`: numbers start with a digit or '-', objects
// and arrays with a bracket, and the literals are spelled out. A string value without escapes
// appears verbatim in the JSON text that holds it.
bool OnlyAStringCanEqual(std::string_view text) {
  if (text.empty() || text == "true" || text == "false" || text == "null") return false;
  const char c = text.front();
  return !(c == '-' || (c >= '0' && c <= '9') || c == '{' || c == '[');
}

// A place rules may write: a string field or a member inside a JSON field.
absl::Status CheckTarget(const EventPath& path) {
  if (path.field.kind == FieldRef::Kind::kNumber) {
    return absl::InvalidArgumentError("numeric fields are read-only");
  }
  if (path.field.kind == FieldRef::Kind::kJson && path.inside.empty()) {
    return absl::InvalidArgumentError("name a member inside the object (\"event_properties.x\")");
  }
  return absl::OkStatus();
}

class RuleError {
 public:
  RuleError(size_t index, const std::string& name) : index_(index), name_(name) {}
  absl::Status operator()(std::string_view field, const absl::Status& status) const {
    return absl::InvalidArgumentError(absl::StrCat("mapping[", index_, "] (rule \"", name_, "\"): ",
                                                   std::string(field), ": ", status.message()));
  }

 private:
  size_t index_;
  const std::string& name_;
};

bool Matches(const RuleSet::Rule&, EventView&);

}  // namespace

RuleSet::RuleSet(std::vector<Rule> rules) : rules_(std::move(rules)) {}
RuleSet::RuleSet(RuleSet&&) noexcept = default;
RuleSet& RuleSet::operator=(RuleSet&&) noexcept = default;
RuleSet::~RuleSet() = default;
size_t RuleSet::size() const { return rules_.size(); }

absl::StatusOr<RuleSet> RuleSet::Compile(const std::vector<config::MappingRule>& rules) {
  std::vector<Rule> out;
  out.reserve(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    const config::MappingRule& r = rules[i];
    const RuleError error(i, r.name);
    Rule rule;
    rule.action = r.action;
    if (r.match.source) rule.source = ToEventSource(*r.match.source);
    rule.event_type = r.match.event_type;
    if (r.match.property) {
      const config::PropertyMatch& pm = *r.match.property;
      absl::StatusOr<EventPath> path = CompilePath(pm.path, /*property_path=*/false);
      if (!path.ok()) return error("match.property.path", path.status());
      rule.property = *std::move(path);
      rule.equals = pm.equals;
      if (pm.equals && OnlyAStringCanEqual(*pm.equals))
        rule.equals_digest = StringDigest(*pm.equals);
      if (pm.regex) {
        absl::StatusOr<std::unique_ptr<RE2>> re = CompileRegex(*pm.regex, false);
        if (!re.ok()) return error("match.property.regex", re.status());
        rule.property_regex = *std::move(re);
      }
    }
    const auto needs = [&](std::string_view field) {
      return error(field, absl::InvalidArgumentError(
                              absl::StrCat("required by ", std::string(ActionName(r.action)))));
    };
    const auto compile_target = [&]() -> absl::Status {
      if (r.target.empty()) return needs("target");
      absl::StatusOr<EventPath> target = CompilePath(r.target, /*property_path=*/true);
      if (!target.ok()) return error("target", target.status());
      if (r.action != Action::kDrop) {
        if (absl::Status s = CheckTarget(*target); !s.ok()) return error("target", s);
      } else if (target->field.kind == FieldRef::Kind::kNumber) {
        return error("target", absl::InvalidArgumentError("numeric fields are read-only"));
      } else if (target->field.kind == FieldRef::Kind::kString && target->field.index == 0) {
        return error("target", absl::InvalidArgumentError("event_type cannot be removed"));
      }
      rule.target = *std::move(target);
      return absl::OkStatus();
    };
    const auto compile_from = [&]() -> absl::Status {
      if (r.from.empty()) return needs("from");
      absl::StatusOr<EventPath> from = CompilePath(r.from, /*property_path=*/true);
      if (!from.ok()) return error("from", from.status());
      rule.from = *std::move(from);
      return absl::OkStatus();
    };
    switch (r.action) {
      case Action::kRename:
        if (r.target.empty()) return needs("target");
        rule.rename_to = r.target;
        break;
      case Action::kDrop:
        if (!r.target.empty()) {
          if (absl::Status s = compile_target(); !s.ok()) return s;
        }
        break;
      case Action::kSet:
        if (!r.value) return needs("value");
        rule.value = *r.value;
        if (absl::Status s = compile_target(); !s.ok()) return s;
        break;
      case Action::kCopy:
        if (absl::Status s = compile_from(); !s.ok()) return s;
        if (absl::Status s = compile_target(); !s.ok()) return s;
        break;
      case Action::kExtract: {
        if (absl::Status s = compile_from(); !s.ok()) return s;
        if (absl::Status s = compile_target(); !s.ok()) return s;
        if (r.json_path.empty() == r.regex.empty()) {
          return error("jsonPath", absl::InvalidArgumentError(
                                       "Extract needs exactly one of jsonPath and regex"));
        }
        if (!r.json_path.empty()) {
          absl::StatusOr<config::JsonPath> path = config::ParseJsonPath(r.json_path);
          if (!path.ok()) return error("jsonPath", path.status());
          rule.json_path = *std::move(path);
        } else {
          absl::StatusOr<std::unique_ptr<RE2>> re = CompileRegex(r.regex, true);
          if (!re.ok()) return error("regex", re.status());
          rule.extract_regex = *std::move(re);
        }
        break;
      }
    }
    out.push_back(std::move(rule));
  }
  return RuleSet(std::move(out));
}

namespace {

bool Matches(const RuleSet::Rule& rule, EventView& view) {
  if (rule.source && *rule.source != view.event().source) return false;
  if (rule.event_type && *rule.event_type != view.event().event_type) return false;
  if (!rule.property) return true;
  return view.AnyValue(
      *rule.property,
      [&rule](const Json& value) {
        if (!rule.equals && !rule.property_regex) return true;
        const std::string text = JsonText(value);
        if (rule.equals && text != *rule.equals) return false;
        return !rule.property_regex || RE2::PartialMatch(text, *rule.property_regex);
      },
      rule.equals_digest);
}

// The first node `path` selects in `value` (a string is parsed as JSON first).
std::optional<Json> SelectFirst(const Json& value, const config::JsonPath& path) {
  const Json* root = &value;
  Json parsed;
  if (value.is_string()) {
    parsed = Json::parse(value.get_ref<const std::string&>(), nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) return std::nullopt;
    root = &parsed;
  }
  std::vector<const Json*> frontier = {root};
  for (const config::PathSegment& segment : path.segments) {
    std::vector<const Json*> next;
    for (const Json* node : frontier) {
      if (segment.kind == config::PathSegment::Kind::kWildcard) {
        if (node->is_object() || node->is_array()) {
          for (const Json& child : *node) next.push_back(&child);
        }
      } else if (segment.kind == config::PathSegment::Kind::kName) {
        if (!node->is_object()) continue;
        auto it = node->find(segment.name);
        if (it != node->end()) next.push_back(&*it);
      } else {
        if (!node->is_array()) continue;
        const int64_t size = static_cast<int64_t>(node->size());
        const int64_t i = segment.index < 0 ? size + segment.index : segment.index;
        if (i >= 0 && i < size) next.push_back(&(*node)[static_cast<size_t>(i)]);
      }
    }
    frontier = std::move(next);
    if (frontier.empty()) return std::nullopt;
  }
  return *frontier.front();
}

}  // namespace

bool RuleSet::Apply(Event& event) const {
  EventView view(event);
  try {
    for (const Rule& rule : rules_) {
      if (!Matches(rule, view)) continue;
      switch (rule.action) {
        case Action::kRename:
          event.event_type = rule.rename_to;
          break;
        case Action::kDrop:
          if (!rule.target) return false;
          view.Remove(*rule.target);
          break;
        case Action::kSet:
          view.Write(*rule.target, Json(rule.value));
          break;
        case Action::kCopy:
          if (std::optional<Json> value = view.First(*rule.from)) {
            view.Write(*rule.target, *std::move(value));
          }
          break;
        case Action::kExtract: {
          std::optional<Json> value = view.First(*rule.from);
          if (!value) break;
          if (rule.json_path) {
            if (std::optional<Json> node = SelectFirst(*value, *rule.json_path)) {
              view.Write(*rule.target, *std::move(node));
            }
          } else {
            const std::string text = JsonText(*value);
            re2::StringPiece group[2];
            if (rule.extract_regex->Match(text, 0, text.size(), RE2::UNANCHORED, group, 2) &&
                group[1].data() != nullptr) {
              view.Write(*rule.target, Json(group[1].as_string()));
            }
          }
          break;
        }
      }
    }
  } catch (const std::exception&) {
    // nlohmann throws only on misuse the code above avoids (type checks precede every access);
    // should it ever, the event keeps what the rules before changed and is not dropped.
  }
  view.Commit();
  return true;
}

}  // namespace cohort::ingest::mapping
