#include "common/metrics.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

namespace cohort {
namespace {

using metrics_internal::FamilyBase;

[[noreturn]] void Fatal(const std::string& message) {
  spdlog::critical("metrics: {}", message);
  spdlog::default_logger()->flush();
  // Also straight to stderr: the process is about to abort, whatever the logger's sinks buffer.
  std::fprintf(stderr, "metrics: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

// As Go's strconv.FormatFloat(v, 'g', -1, 64), which Prometheus clients print with: the shortest
// digits that read back as `v`, in exponent form below 1e-4 and from 1e6 on ("1e-08", "0.005",
// "123456", "1.5e+06"); "+Inf", "-Inf", "NaN".
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto sci = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  const std::string_view s(buf, sci.ptr - buf);
  // "d[.ddd]e±XX"
  const size_t e = s.find('e');
  int exponent = 0;
  std::from_chars(s.data() + e + 2, s.data() + s.size(), exponent);
  if (s[e + 1] == '-') exponent = -exponent;
  if (exponent < -4 || exponent >= 6) return std::string(s);
  const auto fixed = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, fixed.ptr);
}

// Label values escape backslash, double quote and newline; help text backslash and newline.
void AppendEscaped(std::string& out, absl::string_view s, bool quote) {
  for (const char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '"':
        out += quote ? "\\\"" : "\"";
        break;
      default:
        out += c;
    }
  }
}

// {a="x",b="y"} (or {a="x",le="0.5"} with `le`), or "" without labels.
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     const std::string* le = nullptr) {
  if (names.empty() && le == nullptr) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    AppendEscaped(out, values[i], /*quote=*/true);
    out += '"';
  }
  if (le != nullptr) {
    if (!names.empty()) out += ',';
    absl::StrAppend(&out, "le=\"", *le, "\"");
  }
  out += '}';
  return out;
}

void AppendSample(std::string& out, absl::string_view name, absl::string_view suffix,
                  absl::string_view labels, double value) {
  absl::StrAppend(&out, name, suffix, labels, " ", FormatValue(value), "\n");
}

bool ValidName(absl::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

const char* TypeName(FamilyBase::Type type) {
  switch (type) {
    case FamilyBase::Type::kCounter:
      return "counter";
    case FamilyBase::Type::kGauge:
      return "gauge";
    case FamilyBase::Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void Counter::Inc(double delta) {
  if (!(delta >= 0)) Fatal(absl::StrCat("a counter cannot decrease (delta ", delta, ")"));
  value_.fetch_add(delta, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double value) {
  // NaN compares false with every bound: it lands in +Inf (and makes the sum NaN).
  const size_t bucket =
      std::isnan(value) ? bounds_.size()
                        : std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  snapshot.cumulative.reserve(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative.push_back(total);
  }
  snapshot.count = total;
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

namespace metrics_internal {

FamilyBase::FamilyBase(std::string name, std::string help, Type type,
                       std::vector<std::string> label_names, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(std::move(bounds)) {}

void FamilyBase::CheckArity(size_t values) const {
  if (values != label_names_.size()) {
    Fatal(absl::StrCat(name_, " has ", label_names_.size(), " labels (",
                       absl::StrJoin(label_names_, ","), "), got ", values, " values"));
  }
}

}  // namespace metrics_internal

template <typename T>
T& Family<T>::WithLabels(const std::vector<std::string>& values) {
  CheckArity(values.size());
  return GetOrCreate(values);
}

template <typename T>
T& Family<T>::WithLabels(std::initializer_list<absl::string_view> values) {
  CheckArity(values.size());
  std::vector<std::string> copy;
  copy.reserve(values.size());
  for (absl::string_view v : values) copy.emplace_back(v);
  return GetOrCreate(std::move(copy));
}

template <typename T>
T& Family<T>::GetOrCreate(std::vector<std::string> values) {
  absl::MutexLock lock(&mu_);
  auto it = children_.find(values);
  if (it == children_.end()) {
    std::unique_ptr<T> child;
    if constexpr (std::is_same_v<T, Histogram>) {
      child = std::make_unique<Histogram>(bounds());
    } else {
      child = std::make_unique<T>();
    }
    it = children_.emplace(std::move(values), std::move(child)).first;
  }
  return *it->second;
}

template <typename T>
void Family<T>::Render(std::string& out) const {
  absl::MutexLock lock(&mu_);
  if (children_.empty()) return;
  absl::StrAppend(&out, "# HELP ", name(), " ");
  AppendEscaped(out, help(), /*quote=*/false);
  absl::StrAppend(&out, "\n# TYPE ", name(), " ", TypeName(type()), "\n");
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<T, Histogram>) {
      const Histogram::Snapshot snapshot = child->Read();
      for (size_t i = 0; i <= snapshot.bounds.size(); ++i) {
        const std::string le =
            i < snapshot.bounds.size() ? FormatValue(snapshot.bounds[i]) : std::string("+Inf");
        AppendSample(out, name(), "_bucket", LabelSet(label_names(), values, &le),
                     static_cast<double>(snapshot.cumulative[i]));
      }
      const std::string labels = LabelSet(label_names(), values);
      AppendSample(out, name(), "_sum", labels, snapshot.sum);
      AppendSample(out, name(), "_count", labels, static_cast<double>(snapshot.count));
    } else {
      AppendSample(out, name(), "", LabelSet(label_names(), values), child->Value());
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

CollectHookHandle::CollectHookHandle(CollectHookHandle&& other) noexcept
    : registry_(std::exchange(other.registry_, nullptr)), id_(other.id_) {}

CollectHookHandle& CollectHookHandle::operator=(CollectHookHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

CollectHookHandle::~CollectHookHandle() { Reset(); }

void CollectHookHandle::Reset() {
  if (registry_ != nullptr) registry_->RemoveCollectHook(id_);
  registry_ = nullptr;
}

FamilyBase& Registry::Add(absl::string_view name, absl::string_view help, FamilyBase::Type type,
                          std::vector<std::string> label_names, std::vector<double> bounds) {
  if (!ValidName(name, /*allow_colon=*/true)) {
    Fatal(absl::StrCat("invalid metric name \"", name, "\""));
  }
  for (size_t i = 0; i < label_names.size(); ++i) {
    const std::string& label = label_names[i];
    if (!ValidName(label, /*allow_colon=*/false) || absl::StartsWith(label, "__") ||
        (type == FamilyBase::Type::kHistogram && label == "le")) {
      Fatal(absl::StrCat(name, ": invalid label name \"", label, "\""));
    }
    if (std::find(label_names.begin(), label_names.begin() + i, label) != label_names.begin() + i) {
      Fatal(absl::StrCat(name, ": label \"", label, "\" given twice"));
    }
  }
  if (type == FamilyBase::Type::kHistogram) {
    if (!bounds.empty() && bounds.back() == std::numeric_limits<double>::infinity())
      bounds.pop_back();
    for (size_t i = 0; i < bounds.size(); ++i) {
      if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
        Fatal(absl::StrCat(name, ": histogram bounds must be finite and strictly increasing"));
      }
    }
  }

  absl::MutexLock lock(&mu_);
  auto it = families_.find(std::string(name));
  if (it != families_.end()) {
    const FamilyBase& old = *it->second;
    if (old.type() != type || old.help() != help || old.label_names() != label_names ||
        old.bounds() != bounds) {
      Fatal(absl::StrCat(name, " is registered already with another type, help, labels or bounds"));
    }
    return *it->second;
  }
  std::unique_ptr<FamilyBase> family;
  switch (type) {
    case FamilyBase::Type::kCounter:
      family = std::make_unique<CounterFamily>(std::string(name), std::string(help), type,
                                               std::move(label_names), std::vector<double>());
      break;
    case FamilyBase::Type::kGauge:
      family = std::make_unique<GaugeFamily>(std::string(name), std::string(help), type,
                                             std::move(label_names), std::vector<double>());
      break;
    case FamilyBase::Type::kHistogram:
      family = std::make_unique<HistogramFamily>(std::string(name), std::string(help), type,
                                                 std::move(label_names), std::move(bounds));
      break;
  }
  return *families_.emplace(std::string(name), std::move(family)).first->second;
}

Counter& Registry::AddCounter(absl::string_view name, absl::string_view help) {
  return AddCounterFamily(name, help, {}).WithLabels(std::vector<std::string>());
}

Gauge& Registry::AddGauge(absl::string_view name, absl::string_view help) {
  return AddGaugeFamily(name, help, {}).WithLabels(std::vector<std::string>());
}

Histogram& Registry::AddHistogram(absl::string_view name, absl::string_view help,
                                  std::vector<double> bounds) {
  return AddHistogramFamily(name, help, {}, std::move(bounds))
      .WithLabels(std::vector<std::string>());
}

CounterFamily& Registry::AddCounterFamily(absl::string_view name, absl::string_view help,
                                          std::vector<std::string> label_names) {
  return static_cast<CounterFamily&>(
      Add(name, help, FamilyBase::Type::kCounter, std::move(label_names), {}));
}

GaugeFamily& Registry::AddGaugeFamily(absl::string_view name, absl::string_view help,
                                      std::vector<std::string> label_names) {
  return static_cast<GaugeFamily&>(
      Add(name, help, FamilyBase::Type::kGauge, std::move(label_names), {}));
}

HistogramFamily& Registry::AddHistogramFamily(absl::string_view name, absl::string_view help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> bounds) {
  return static_cast<HistogramFamily&>(
      Add(name, help, FamilyBase::Type::kHistogram, std::move(label_names), std::move(bounds)));
}

CollectHookHandle Registry::AddCollectHook(std::function<void()> hook) {
  absl::MutexLock lock(&hooks_mu_);
  const uint64_t id = next_hook_id_++;
  hooks_.emplace(id, std::move(hook));
  return CollectHookHandle(this, id);
}

void Registry::RemoveCollectHook(uint64_t id) {
  absl::MutexLock lock(&hooks_mu_);
  hooks_.erase(id);
}

std::string Registry::Render() const {
  {
    absl::MutexLock lock(&hooks_mu_);
    for (const auto& [id, hook] : hooks_) hook();
  }
  // Families are never removed: their addresses outlive the lock.
  std::vector<const FamilyBase*> families;
  {
    absl::MutexLock lock(&mu_);
    families.reserve(families_.size());
    for (const auto& [name, family] : families_) families.push_back(family.get());
  }
  std::string out;
  for (const FamilyBase* family : families) family->Render(out);
  return out;
}

}  // namespace cohort
