// Responder (responder.h).
#include "ingest/http/responder.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace cohort::ingest::http {

Responder::Responder(std::shared_ptr<Target> target) : target_(std::move(target)) {
  if (target_ == nullptr) {
    std::fputs("http: Responder made with a null target\n", stderr);
    std::abort();
  }
}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    if (target_ != nullptr) target_->Dropped();
    target_ = std::move(other.target_);
  }
  return *this;
}

Responder::~Responder() {
  if (target_ != nullptr) target_->Dropped();
}

void Responder::Respond(Response response) {
  if (target_ == nullptr) {
    // A bug in the caller: an answer would go to whatever request the connection serves next.
    std::fputs("http: Responder::Respond called twice or after a move\n", stderr);
    std::abort();
  }
  std::shared_ptr<Target> target = std::move(target_);
  target->Complete(std::move(response));
}

}  // namespace cohort::ingest::http
