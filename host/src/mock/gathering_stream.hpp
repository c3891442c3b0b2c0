// An httplib::Stream over a connected socket that gathers writes and buffers reads, for both
// ends of a connection: the HTTP server under mock-llm and the gateway (http_server.hpp) and the
// gateway's upstream client (serve/upstream_client.hpp). httplib 0.11's own SocketStream polls
// before every read and every write and sends a request's or response's head and body as two
// TCP segments, so the peer wakes twice; here a message goes out in one send when the writer
// is done with it (or must wait for the peer), and a read polls only when nothing is buffered.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>
#include <string_view>

namespace atlas::mock {

// true when `fd` has input (or EOF/error, which the next read reports) within `timeout_ms`.
bool wait_readable(int fd, int timeout_ms);

// While one lives, a GatheringStream read on this thread that is about to wait for input first
// calls `before_waiting`. A relay sends what it gathered for its own client then: pieces that
// arrived together leave in one send, and none is held back while the relay waits for more.
class BeforeWaitingForInput {
 public:
  explicit BeforeWaitingForInput(std::function<void()> before_waiting);
  ~BeforeWaitingForInput();  // the one it replaced (if any) applies again
  BeforeWaitingForInput(const BeforeWaitingForInput&) = delete;
  BeforeWaitingForInput& operator=(const BeforeWaitingForInput&) = delete;
  // Calls this thread's current one, if any.
  static void notify();

 private:
  std::function<void()> before_waiting_;
  BeforeWaitingForInput* replaced_;
};

class GatheringStream final : public httplib::Stream {
 public:
  // Writes wait for flush(), for a read, or for 64 KiB gathered.
  GatheringStream(int fd, int read_timeout_ms);

  bool has_buffered_input() const { return in_pos_ < in_len_; }
  // The caller has just seen the socket readable (wait_readable): the next read receives without
  // polling again (a poll is a system call per request, and on a VM not a cheap one).
  void note_readable() { known_readable_ = true; }

  bool is_readable() const override;
  // Writes only append to memory; a dead peer shows when flush() sends.
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  // Sends everything gathered; false when the peer is gone or the send timeout expired.
  bool flush();
  // While on, write() drops what it is given (reporting it written): the response a handler
  // already wrote itself (http_server.hpp, DirectResponse) is not followed by httplib's.
  void discard_writes(bool on) { discard_writes_ = on; }
  // Gathers `bytes` even while writes are discarded (the direct response's own).
  void gather(std::string_view bytes) { out_.append(bytes); }

  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  static constexpr size_t kFlushAt = 64 * 1024;
  int fd_;
  int read_timeout_ms_;
  bool discard_writes_ = false;
  bool known_readable_ = false;
  char in_[16384];
  size_t in_pos_ = 0, in_len_ = 0;
  std::string out_;
  // Tells this thread's BeforeWaitingForInput, then waits up to the read timeout for input.
  bool wait_for_input() const;
  // Asked of the kernel on first use (the server asks once per connection; clients never).
  void know_addresses() const;
  mutable bool addresses_known_ = false;
  mutable std::string remote_ip_, local_ip_;
  mutable int remote_port_ = 0, local_port_ = 0;
};

}  // namespace atlas::mock
