#include "nodefs/fault_node.h"

#include <errno.h>

#include "absl/time/clock.h"

namespace fusekit {
namespace {

// How often a waiting call looks at its gate and at Context::Interrupted():
// interrupts can only be polled from a node (the reply's callback is the
// core's), and the project's CondVar has no timed wait.
constexpr absl::Duration kPoll = absl::Milliseconds(1);

}  // namespace

FaultPlan::~FaultPlan() = default;

int FaultPlan::Add(Fault fault) {
  MutexLock lock(&mu_);
  int id = next_id_++;
  auto rule = std::make_shared<Rule>();
  rule->fault = std::move(fault);
  rules_[id] = std::move(rule);
  return id;
}

void FaultPlan::Remove(int id) {
  MutexLock lock(&mu_);
  auto it = rules_.find(id);
  if (it == rules_.end()) return;
  it->second->released = true;
  rules_.erase(it);
}

void FaultPlan::Clear() {
  MutexLock lock(&mu_);
  for (auto& [id, rule] : rules_) rule->released = true;
  rules_.clear();
}

void FaultPlan::Release(int id) {
  MutexLock lock(&mu_);
  auto it = rules_.find(id);
  if (it != rules_.end()) it->second->released = true;
}

int FaultPlan::hits(int id) {
  MutexLock lock(&mu_);
  auto it = rules_.find(id);
  return it == rules_.end() ? 0 : it->second->hits;
}

int FaultPlan::blocked(int id) {
  MutexLock lock(&mu_);
  auto it = rules_.find(id);
  return it == rules_.end() ? 0 : it->second->blocked;
}

bool FaultPlan::WaitForBlocked(int id, int n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (blocked(id) < n) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(kPoll);
  }
  return true;
}

Errno FaultPlan::Enter(FaultOp op, uint64_t ino, absl::string_view name, const Context& ctx) {
  std::shared_ptr<Rule> taken;
  {
    MutexLock lock(&mu_);
    for (auto& [id, rule] : rules_) {
      const Fault& f = rule->fault;
      if (!Includes(f.ops, op)) continue;
      if (f.ino != 0 && f.ino != ino) continue;
      if (!f.name.empty() && f.name != name) continue;
      if (rule->skipped < f.skip) {
        ++rule->skipped;
        continue;
      }
      if (f.times >= 0 && rule->hits >= f.times) continue;
      ++rule->hits;
      taken = rule;
      break;
    }
    if (taken == nullptr) return kOk;
    if (!taken->fault.block) return taken->fault.error;
    ++taken->blocked;
  }
  // Held: wait for the gate, or give up when the caller no longer waits.
  bool interrupted = false;
  for (;;) {
    {
      MutexLock lock(&mu_);
      if (taken->released) break;
    }
    if (taken->fault.honour_interrupts && ctx.Interrupted()) {
      interrupted = true;
      break;
    }
    absl::SleepFor(kPoll);
  }
  MutexLock lock(&mu_);
  --taken->blocked;
  return interrupted ? Errno(EINTR) : taken->fault.error;
}

}  // namespace fusekit
