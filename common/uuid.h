// Random (version 4) UUIDs, for identities that must be unique across processes: leader-election
// candidates, reconcile ids.
#pragma once

#include <string>

namespace cohort {

// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" in lower-case hex (y in 8..b). Thread-safe.
std::string NewRandomUuid();

}  // namespace cohort
