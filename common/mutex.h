// absl::Mutex, visible to ThreadSanitizer.
//
// Debian's Abseil is a shared library built without ThreadSanitizer, so a
// TSan build of the project cannot see that absl::Mutex orders the threads
// it serialises (it parks threads on futexes, which TSan does not model) and
// reports every access it guards as a race. common::Mutex forwards to
// absl::Mutex and, in TSan builds only, tells TSan about each acquire and
// release; in other builds it compiles to absl::Mutex calls. It carries the
// same lock annotations, so clang's -Wthread-safety checks code that uses it
// (tools/check_thread_safety.sh).
//
// Use common::Mutex, common::MutexLock and absl::Condition in concurrent
// code that TSan should check: every lock in server/, client/ and clip/ is
// one.
#ifndef COMMON_MUTEX_H_
#define COMMON_MUTEX_H_

#include "absl/base/config.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#ifdef ABSL_HAVE_THREAD_SANITIZER
#include <sanitizer/tsan_interface.h>
#endif

namespace common {

class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    mu_.Lock();
    Acquired();
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() {
    Released();
    mu_.Unlock();
  }
  // Releases the lock until `condition` holds, then holds it again.
  void Await(const absl::Condition& condition)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
#ifdef ABSL_HAVE_THREAD_SANITIZER
    Watched watched{this, &condition};
    const absl::Condition watching = watched.condition();
    Released();
    mu_.Await(watching);
    Acquired();
#else
    mu_.Await(condition);
#endif
  }
  // As Await, giving up after `timeout`; returns whether `condition` holds.
  bool AwaitWithTimeout(const absl::Condition& condition,
                        absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
#ifdef ABSL_HAVE_THREAD_SANITIZER
    Watched watched{this, &condition};
    const absl::Condition watching = watched.condition();
    Released();
    const bool met = mu_.AwaitWithTimeout(watching, timeout);
    Acquired();
    return met;
#else
    return mu_.AwaitWithTimeout(condition, timeout);
#endif
  }
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() { mu_.AssertHeld(); }

 private:
  // absl::Mutex evaluates a waiter's condition while the lock is held, in
  // the waiting thread or in whichever thread releases the lock: the
  // evaluation is marked as an acquire and a release, like every other
  // hold. Both the Watched and its absl::Condition are built before the
  // release, so that the other thread's reads of them (absl reads the
  // Condition before it calls Eval) are ordered after their construction.
#ifdef ABSL_HAVE_THREAD_SANITIZER
  struct Watched {
    Mutex* mutex;
    const absl::Condition* inner;
    static bool Eval(Watched* w) {
      Mutex* const mutex = w->mutex;
      mutex->Acquired();
      const bool met = w->inner->Eval();
      // The evaluating thread may be another than the waiter, and reads the
      // waiter's stack (this Watched, the Condition): released here, so the
      // waiter's acquire when it wakes orders those reads before whatever it
      // then writes over that stack.
      mutex->Released();
      return met;
    }
    absl::Condition condition() {
      return absl::Condition(&Watched::Eval, this);
    }
  };
#endif

  void Acquired() {
#ifdef ABSL_HAVE_THREAD_SANITIZER
    __tsan_acquire(this);
#endif
  }
  void Released() {
#ifdef ABSL_HAVE_THREAD_SANITIZER
    __tsan_release(this);
#endif
  }

  absl::Mutex mu_;
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// absl::Notification on common::Mutex: Notify() once, and any number of
// threads wait for it.
class Notification {
 public:
  void Notify() {
    MutexLock lock(&mu_);
    notified_ = true;
  }
  void WaitForNotification() {
    MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&notified_));
  }
  bool HasBeenNotified() {
    MutexLock lock(&mu_);
    return notified_;
  }

 private:
  Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace common

#endif  // COMMON_MUTEX_H_
