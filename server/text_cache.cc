#include "server/text_cache.h"

#include "absl/strings/str_cat.h"

namespace server {

std::string TextCache::Key(int64_t version, const std::string& text) {
  return absl::StrCat(version, "\x1f", text);
}

bool TextCache::Get(int64_t version, const std::string& text,
                    std::vector<float>* out) {
  if (capacity_ == 0) return false;
  common::MutexLock lock(&mu_);
  auto it = index_.find(Key(version, text));
  if (it == index_.end()) return false;
  lru_.splice(lru_.begin(), lru_, it->second);
  *out = it->second->value;
  return true;
}

void TextCache::Put(int64_t version, const std::string& text,
                    const float* embedding, size_t dim) {
  if (capacity_ == 0) return;
  std::string key = Key(version, text);
  common::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Entry{key, std::vector<float>(embedding, embedding + dim)});
  index_.emplace(std::move(key), lru_.begin());
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

void TextCache::Clear() {
  common::MutexLock lock(&mu_);
  lru_.clear();
  index_.clear();
}

size_t TextCache::size() const {
  common::MutexLock lock(&mu_);
  return lru_.size();
}

}  // namespace server
