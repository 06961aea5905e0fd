// A small Prometheus client: counters, gauges and histograms, optionally in families keyed by
// label values, kept in a Registry that renders them in the text exposition format 0.0.4 for a
// /metrics endpoint. Shared by cohort-operator (operator/metrics.h adds its runtime adapters) and
// cohort-ingest.
//
// Hot path: Counter::Inc, Gauge::Set/Add and Histogram::Observe are lock-free atomics. Looking a
// child up by label values (Family::WithLabels) takes the family's lock; keep the reference when
// the labels are known in advance.
//
// Misuse is a bug and aborts with a message: an invalid metric or label name, registering a name
// twice with a different type, help, label names or buckets, a wrong number of label values,
// unsorted buckets, a negative counter increment. Label values and help text may hold any bytes;
// they are escaped when rendered.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cohort {
// A value that only goes up (resets only when the process restarts). Thread-safe, lock-free.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // `delta` must be >= 0 (a negative or NaN delta is a bug and aborts).
  void Inc(double delta = 1);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down. Thread-safe, lock-free.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted in buckets by upper bound (a value v falls in the first bucket whose bound
// is >= v; above the last bound, in +Inf), with their sum. Thread-safe, lock-free. A snapshot read
// while observations land is consistent in its buckets and count (count is the +Inf bucket); the
// sum may miss observations still in flight.
class Histogram {
 public:
  // `bounds`: strictly increasing, finite (checked by the registry).
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);
  void Observe(absl::Duration d) { Observe(absl::ToDoubleSeconds(d)); }

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // bounds.size() + 1 entries; the last is +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  // Per bucket (not cumulative); bounds_.size() + 1 entries, the last for values above every bound.
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

namespace metrics_internal {

// What a Registry holds per metric name. Not for direct use.
class FamilyBase {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names,
             std::vector<double> bounds);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  Type type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_; }

  // Appends this family (HELP, TYPE and one sample line per child and suffix) to `out`; nothing
  // when it has no children.
  virtual void Render(std::string& out) const = 0;

 protected:
  // Aborts unless `values` has one value per label name.
  void CheckArity(size_t values) const;

 private:
  const std::string name_;
  const std::string help_;
  const Type type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;  // Histograms only.
};

}  // namespace metrics_internal

// The metrics of one name, one child per combination of label values. Thread-safe. Children are
// created at zero on first use and live as long as the registry.
template <typename T>
class Family final : public metrics_internal::FamilyBase {
 public:
  using FamilyBase::FamilyBase;

  // The child for `values`, one per label name, in the order the names were registered.
  T& WithLabels(const std::vector<std::string>& values);
  T& WithLabels(std::initializer_list<absl::string_view> values);

  void Render(std::string& out) const override;

 private:
  T& GetOrCreate(std::vector<std::string> values);

  mutable absl::Mutex mu_;
  // Ordered, so the rendering is stable.
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;
using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class Registry;

// Keeps a collect hook registered (Registry::AddCollectHook) until destroyed. Movable. The
// registry must outlive it.
class CollectHookHandle {
 public:
  CollectHookHandle() = default;
  CollectHookHandle(CollectHookHandle&& other) noexcept;
  CollectHookHandle& operator=(CollectHookHandle&& other) noexcept;
  ~CollectHookHandle();

 private:
  friend class Registry;
  CollectHookHandle(Registry* registry, uint64_t id) : registry_(registry), id_(id) {}
  void Reset();

  Registry* registry_ = nullptr;
  uint64_t id_ = 0;
};

// All metrics of a process, by name. Thread-safe: metrics may be registered, updated and rendered
// from any thread. Every reference it hands out stays valid as long as the registry.
//
// The Add* functions register a metric, or return the one already registered under `name` if it
// has the same type, help, label names and buckets (so adapters for several controllers share
// their families); anything else is a bug and aborts. Names follow Prometheus:
// [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, [a-zA-Z_][a-zA-Z0-9_]* for labels (no "__" prefix; "le"
// is reserved for histograms).
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Counter& AddCounter(absl::string_view name, absl::string_view help);
  Gauge& AddGauge(absl::string_view name, absl::string_view help);
  // `bounds`: strictly increasing and finite; a trailing +Inf is accepted and dropped.
  Histogram& AddHistogram(absl::string_view name, absl::string_view help,
                          std::vector<double> bounds);

  CounterFamily& AddCounterFamily(absl::string_view name, absl::string_view help,
                                  std::vector<std::string> label_names);
  GaugeFamily& AddGaugeFamily(absl::string_view name, absl::string_view help,
                              std::vector<std::string> label_names);
  HistogramFamily& AddHistogramFamily(absl::string_view name, absl::string_view help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> bounds);

  // Runs `hook` at the start of every Render(), until the handle is destroyed; once its destructor
  // has returned the hook never runs again. For values pushed on demand, such as
  // WorkQueue::UpdateUnfinishedWorkMetrics. Hooks run one at a time on the rendering thread; they
  // may update metrics but must not add or remove hooks, nor render.
  [[nodiscard]] CollectHookHandle AddCollectHook(std::function<void()> hook);

  // Every family with at least one child, sorted by name, children sorted by label values, in the
  // Prometheus text exposition format 0.0.4.
  std::string Render() const;

 private:
  friend class CollectHookHandle;

  metrics_internal::FamilyBase& Add(absl::string_view name, absl::string_view help,
                                    metrics_internal::FamilyBase::Type type,
                                    std::vector<std::string> label_names,
                                    std::vector<double> bounds);
  void RemoveCollectHook(uint64_t id);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<metrics_internal::FamilyBase>> families_
      ABSL_GUARDED_BY(mu_);

  // Held while hooks run, so that removing a hook waits for a render in progress.
  mutable absl::Mutex hooks_mu_;
  std::map<uint64_t, std::function<void()>> hooks_ ABSL_GUARDED_BY(hooks_mu_);
  uint64_t next_hook_id_ ABSL_GUARDED_BY(hooks_mu_) = 1;
};

}  // namespace cohort
