#include "plugin/worker_protocol.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace atlas::plugin::wire {

namespace {

void put_le(std::string& buf, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) buf.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Reads exactly `n` bytes; false at end of stream or on error.
bool read_exact(int fd, char* out, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, out, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    out += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

Writer::Writer(Type type) {
  buf_.resize(4);  // length, filled in by bytes()
  buf_.push_back(static_cast<char>(type));
}

Writer& Writer::u64(uint64_t v) {
  put_le(buf_, v, 8);
  return *this;
}

Writer& Writer::i32(int32_t v) {
  put_le(buf_, static_cast<uint32_t>(v), 4);
  return *this;
}

Writer& Writer::str(std::string_view s) {
  put_le(buf_, s.size(), 4);
  buf_.append(s.data(), s.size());
  return *this;
}

const std::string& Writer::bytes() {
  uint64_t len = buf_.size() - 4;
  for (int i = 0; i < 4; ++i) buf_[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  return buf_;
}

uint64_t Reader::u64() {
  if (failed_ || body_.size() - pos_ < 8) {
    failed_ = true;
    return 0;
  }
  uint64_t v = get_le(body_.data() + pos_, 8);
  pos_ += 8;
  return v;
}

int32_t Reader::i32() {
  if (failed_ || body_.size() - pos_ < 4) {
    failed_ = true;
    return 0;
  }
  auto v = static_cast<int32_t>(static_cast<uint32_t>(get_le(body_.data() + pos_, 4)));
  pos_ += 4;
  return v;
}

std::string Reader::str() {
  if (failed_ || body_.size() - pos_ < 4) {
    failed_ = true;
    return {};
  }
  uint64_t len = get_le(body_.data() + pos_, 4);
  pos_ += 4;
  if (body_.size() - pos_ < len) {
    failed_ = true;
    return {};
  }
  std::string out = body_.substr(pos_, len);
  pos_ += len;
  return out;
}

bool write_frame(int fd, std::string_view frame) {
  while (!frame.empty()) {
    ssize_t n = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    frame.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

Result<Reader> read_frame(int fd) {
  char header[5];
  if (!read_exact(fd, header, sizeof header)) return unavailable("the plugin worker's connection closed");
  uint64_t len = get_le(header, 4);
  if (len < 1 || len > kMaxFrameBytes) {
    return internal_error("plugin worker protocol: a frame of " + std::to_string(len) + " bytes (at most " +
                          std::to_string(kMaxFrameBytes) + " allowed)");
  }
  std::string body(len - 1, '\0');
  if (!body.empty() && !read_exact(fd, body.data(), body.size())) {
    return unavailable("the plugin worker's connection closed in the middle of a frame");
  }
  return Reader(static_cast<Type>(static_cast<unsigned char>(header[4])), std::move(body));
}

}  // namespace atlas::plugin::wire
