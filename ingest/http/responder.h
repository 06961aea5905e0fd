// How a route handler answers: a Responder, completed exactly once, from any thread, possibly long
// after the handler returned (the WAL's group commit answers after fdatasync).
#pragma once

#include <memory>

#include "ingest/http/message.h"

namespace cohort::ingest::http {

class Responder {
 public:
  // The server's side of a pending response. Implementations are thread-safe.
  class Target {
   public:
    virtual ~Target() = default;
    // Sends `response`. Called at most once per Target.
    virtual void Complete(Response response) = 0;
    // The Responder was destroyed without answering; the server answers 500 and logs it.
    virtual void Dropped() = 0;
  };

  // `target` must not be null.
  explicit Responder(std::shared_ptr<Target> target);
  Responder(Responder&& other) noexcept = default;
  // Assigning over an unanswered Responder drops it (a 500, as the destructor does).
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  // An unanswered Responder answers 500 (a handler bug: it is logged), so no client hangs.
  ~Responder();

  // Sends the response. Thread-safe with respect to the connection; the Responder itself is not
  // (one thread at a time). Calling it twice, or on a moved-from Responder, is a bug: the process
  // aborts.
  void Respond(Response response);

  // Whether Respond was called (false for a moved-from Responder too).
  bool pending() const { return target_ != nullptr; }

 private:
  std::shared_ptr<Target> target_;
};

}  // namespace cohort::ingest::http
