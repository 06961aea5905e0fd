#include "analytics/testing/describe.h"

#include <sstream>

#include "analytics/time/calendar.h"

namespace cohort::analytics::testing {

std::string Describe(const Number& n) {
  if (!n) return "null";
  std::ostringstream out;
  out.precision(17);
  out << *n;
  return out.str();
}

std::string Describe(const SegmentationQuery& q) {
  std::ostringstream out;
  out << "range [" << q.scope.from_ms << ", " << q.scope.to_ms << ") zone " << q.scope.time_zone
      << " interval " << IntervalName(q.interval) << " identity "
      << static_cast<int>(q.scope.identity) << " metric " << static_cast<int>(q.metric)
      << " inactive " << q.scope.inactive_event_types.size() << " limit " << q.limit;
  if (q.group_by) {
    out << " group-by " << static_cast<int>(q.group_by->scope) << ":" << q.group_by->key;
  }
  out << '\n';
  for (const EventSelector& e : q.events) {
    out << "  " << e.event_type;
    for (const PropertyFilter& f : e.filters) {
      out << " [" << static_cast<int>(f.property.scope) << ":" << f.property.key << " op "
          << static_cast<int>(f.op);
      for (const PropertyValue& v : f.values) out << ' ' << v.ToJson();
      out << ']';
    }
    out << '\n';
  }
  for (const std::string& f : q.formulas) out << "  " << f << '\n';
  return out.str();
}

std::string Describe(const SegmentationResult& r) {
  std::ostringstream out;
  for (const Series& s : r.series) {
    out << s.name << " [" << s.group << "] total=";
    out << (s.total ? std::to_string(*s.total) : "null") << " :";
    for (const Number& v : s.values) out << ' ' << (v ? std::to_string(*v) : "null");
    out << '\n';
  }
  return out.str();
}

std::string Describe(const ExperimentResult& r) {
  std::ostringstream out;
  out.precision(17);
  out << "{multiple " << r.multiple_exposures << " srm " << r.srm_chi_squared << "/"
      << r.srm_p_value << "/" << r.sample_ratio_mismatch;
  for (const VariantResult& v : r.variants) {
    out << "\n  [" << v.variant << " n " << v.actors << " x " << v.conversions << " mean " << v.mean
        << " var " << v.variance << " p " << Describe(v.p_value) << " adj "
        << Describe(v.p_value_adjusted) << " diff " << Describe(v.difference) << " ["
        << Describe(v.difference_low) << ", " << Describe(v.difference_high) << "] lift "
        << Describe(v.lift) << " [" << Describe(v.lift_low) << ", " << Describe(v.lift_high)
        << "] avp " << Describe(v.always_valid_p_value) << " degenerate " << v.degenerate << "]";
  }
  return out.str() + "}";
}

}  // namespace cohort::analytics::testing
