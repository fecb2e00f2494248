// A bounded LRU map from query text to its embedding. Repeated queries are
// common (the competition's 17k queries hold ~5k distinct texts), and an
// embedding costs a full text-tower pass. Entries belong to one model
// version; Clear() runs when the served version changes.
//
// Thread safety: all methods are thread-safe.
#ifndef SERVER_TEXT_CACHE_H_
#define SERVER_TEXT_CACHE_H_

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"

namespace server {

class TextCache {
 public:
  // capacity 0 disables the cache.
  explicit TextCache(size_t capacity) : capacity_(capacity) {}

  // Copies the embedding of (version, text) into `out` and marks it recently
  // used; false when absent.
  bool Get(int64_t version, const std::string& text, std::vector<float>* out);
  void Put(int64_t version, const std::string& text, const float* embedding,
           size_t dim);
  void Clear();
  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  struct Entry {
    std::string key;
    std::vector<float> value;
  };
  static std::string Key(int64_t version, const std::string& text);
  const size_t capacity_;
  mutable common::Mutex mu_;
  std::list<Entry> lru_ ABSL_GUARDED_BY(mu_);  // front = most recent
  std::unordered_map<std::string, std::list<Entry>::iterator> index_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace server

#endif  // SERVER_TEXT_CACHE_H_
