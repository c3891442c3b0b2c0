// The wire format between the host and a plugin worker process (`atlas-host plugin-worker`):
// length-prefixed frames over a socketpair. A frame is
//
//   u32 length (little endian, of what follows) | u8 type | fields...
//
// where a field is a u64/i64 (8 bytes, little endian), an i32 (4 bytes) or a string (u32
// length + bytes). The host sends kCreate once, then kCall/kCancel; the worker answers
// kCreated/kResult, and while a call runs it may ask the host for services (kLog, kEmit,
// kLlm, kLlmMany, kIsCancelled) which the host answers with kServiceReply. One call runs at
// a time per worker; service requests carry an id so plugin threads may ask concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace atlas::plugin::wire {

enum class Type : uint8_t {
  // host -> worker
  kCreate = 1,        // str config
  kCall = 2,          // u64 seq, str session, str step, i64 deadline, u64 max output bytes (0 = none),
                      // str op ("" = invoke/judge/probe), str request
  kCancel = 3,        // u64 seq, str session, str step, i64 deadline
  kServiceReply = 4,  // u64 id, i32 status, str payload | u64 id, i32 status, u64 n, n x (i32 status, str payload)
  // worker -> host
  kCreated = 10,      // i32 status, str message
  kResult = 11,       // u64 seq, i32 status, str output-or-message
  kLog = 12,          // u64 seq (0 = outside a call), i32 level, str message (no reply)
  kEmit = 13,         // u64 id, u64 seq, str event json
  kLlm = 14,          // u64 id, u64 seq, str request json
  kLlmMany = 15,      // u64 id, u64 seq, u64 n, n x str
  kIsCancelled = 16,  // u64 id, u64 seq
};

// Largest frame either side accepts; a bigger length means a broken or hostile peer.
inline constexpr uint32_t kMaxFrameBytes = 512u << 20;

class Writer {
 public:
  explicit Writer(Type type);
  Writer& u64(uint64_t v);
  Writer& i64(int64_t v) { return u64(static_cast<uint64_t>(v)); }
  Writer& i32(int32_t v);
  Writer& str(std::string_view s);
  // The finished frame, length prefix included.
  const std::string& bytes();

 private:
  std::string buf_;
};

// Reads the fields of one frame in order; any read past the end sets failed().
class Reader {
 public:
  Reader(Type type, std::string body) : type_(type), body_(std::move(body)) {}
  Type type() const { return type_; }
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  int32_t i32();
  std::string str();
  bool failed() const { return failed_; }

 private:
  Type type_;
  std::string body_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// Writes all bytes (EINTR retried, no SIGPIPE). False when the peer is gone.
bool write_frame(int fd, std::string_view frame);

// Blocks for the next frame. UNAVAILABLE at end of stream or on a read error,
// INTERNAL for a frame longer than kMaxFrameBytes.
Result<Reader> read_frame(int fd);

}  // namespace atlas::plugin::wire
