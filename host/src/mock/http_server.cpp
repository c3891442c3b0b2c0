#include "mock/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

namespace atlas::mock {
namespace {

// true when `fd` has input (or EOF/error, which the next read reports) within `timeout_ms`.
bool wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int n;
  do n = ::poll(&p, 1, timeout_ms);
  while (n < 0 && errno == EINTR);
  return n > 0;
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc != 0) return;
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

// One connection's stream. Reads are buffered (httplib reads the request line a byte at a
// time); writes are gathered until flush(), which the connection loop calls once the response
// is complete, and which read() calls before it has to wait for input.
class GatheringStream final : public httplib::Stream {
 public:
  GatheringStream(int fd, int read_timeout_ms, bool stream_writes)
      : fd_(fd), read_timeout_ms_(read_timeout_ms), stream_writes_(stream_writes) {
    address_of(fd, true, remote_ip_, remote_port_);
    address_of(fd, false, local_ip_, local_port_);
  }

  bool has_buffered_input() const { return in_pos_ < in_len_; }

  bool is_readable() const override { return has_buffered_input() || wait_readable(fd_, read_timeout_ms_); }
  // Writes only append to memory; a dead peer shows when flush() sends.
  bool is_writable() const override { return true; }

  ssize_t read(char* ptr, size_t size) override {
    if (!has_buffered_input()) {
      if (!flush()) return -1;  // e.g. "100 Continue": the client waits for it before sending the body
      if (!wait_readable(fd_, read_timeout_ms_)) return -1;
      ssize_t n;
      do n = ::recv(fd_, in_, sizeof in_, 0);
      while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      in_pos_ = 0;
      in_len_ = static_cast<size_t>(n);
    }
    size_t take = std::min(size, in_len_ - in_pos_);
    std::memcpy(ptr, in_ + in_pos_, take);
    in_pos_ += take;
    return static_cast<ssize_t>(take);
  }

  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    ++writes_since_flush_;
    // Streaming: the head waits for the first body write (one segment for a whole small
    // reply), every later write (a chunk of a stream) goes out at once.
    bool send_now = out_.size() >= kFlushAt || (stream_writes_ && writes_since_flush_ > 1);
    if (send_now && !flush()) return -1;  // bounded memory for long streams
    return static_cast<ssize_t>(size);
  }

  // Sends everything gathered; false when the peer is gone or the send timeout expired.
  bool flush() {
    writes_since_flush_ = 0;
    size_t sent = 0;
    while (sent < out_.size()) {
      ssize_t n = ::send(fd_, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        out_.clear();
        return false;
      }
      sent += static_cast<size_t>(n);
    }
    out_.clear();
    return true;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = remote_ip_;
    port = remote_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return fd_; }

 private:
  static constexpr size_t kFlushAt = 64 * 1024;
  int fd_;
  int read_timeout_ms_;
  bool stream_writes_;
  int writes_since_flush_ = 0;
  char in_[4096];
  size_t in_pos_ = 0, in_len_ = 0;
  std::string out_;
  std::string remote_ip_, local_ip_;  // asked once per connection, not once per request
  int remote_port_ = 0, local_port_ = 0;
};

}  // namespace

// httplib's thread pool, counting the connections it holds (running or queued for a thread).
class HttpServer::Workers : public httplib::TaskQueue {
 public:
  Workers(HttpServer& server, size_t threads) : server_(server), threads_(threads), pool_(threads) {}
  // `fn` serves one connection (process_and_close_socket, which counts it off at its end).
  void enqueue(std::function<void()> fn) override {
    if (server_.held_.fetch_add(1) + 1 > threads_) server_.make_room();
    pool_.enqueue(std::move(fn));
  }
  void shutdown() override { pool_.shutdown(); }

 private:
  HttpServer& server_;
  const size_t threads_;
  httplib::ThreadPool pool_;
};

void HttpServer::set_worker_threads(size_t threads) {
  worker_threads_ = threads;
  new_task_queue = [this, threads] { return new Workers(*this, threads); };
}

bool HttpServer::connection_waiting_for_a_worker_locked() const {
  // Connections already told to make room are not counted: each waiting one evicts one.
  return worker_threads_ > 0 && held_.load() - evicted_.size() > worker_threads_;
}

bool HttpServer::evict_longest_idle_locked() {
  if (idle_.empty()) return false;
  auto oldest = idle_.begin();
  for (auto it = idle_.begin(); it != idle_.end(); ++it)
    if (it->second < oldest->second) oldest = it;
  ::shutdown(oldest->first, SHUT_RDWR);  // its worker wakes, sees the end and closes it
  evicted_.insert(oldest->first);
  idle_.erase(oldest);
  return true;
}

void HttpServer::make_room() {
  std::lock_guard<std::mutex> lock(mu_);
  if (connection_waiting_for_a_worker_locked()) (void)evict_longest_idle_locked();
}

bool HttpServer::park_idle(socket_t sock) {
  // Under one lock with make_room(): a connection arriving now either finds this one parked,
  // or this one sees it waiting (held_ is counted before that lock is taken).
  std::lock_guard<std::mutex> lock(mu_);
  if (connection_waiting_for_a_worker_locked() && !evict_longest_idle_locked()) {
    evicted_.insert(sock);  // none idle: this one closes and gives its worker away
    return false;
  }
  idle_[sock] = std::chrono::steady_clock::now();
  return true;
}

void HttpServer::raise_listen_backlog() {
  socket_t s = svr_sock_;
  if (s != INVALID_SOCKET) ::listen(s, SOMAXCONN);
}

void HttpServer::shutdown_connections() {
  std::lock_guard<std::mutex> lock(mu_);
  shut_down_ = true;
  for (socket_t s : open_) ::shutdown(s, SHUT_RDWR);
}

bool HttpServer::stopped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return shut_down_ || svr_sock_ == INVALID_SOCKET;
}

bool HttpServer::process_and_close_socket(socket_t sock) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shut_down_) open_.insert(sock);
  }
  bool ok = false;
  if (!stopped()) {
    timeval send_timeout{static_cast<time_t>(write_timeout_sec_), static_cast<suseconds_t>(write_timeout_usec_)};
    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    const int read_timeout_ms = static_cast<int>(read_timeout_sec_ * 1000 + read_timeout_usec_ / 1000);
    const int keep_alive_ms = static_cast<int>(keep_alive_timeout_sec_ * 1000);
    GatheringStream stream(sock, read_timeout_ms, stream_writes_);
    ok = true;
    for (size_t left = keep_alive_max_count_; left > 0 && !stopped(); --left) {
      // Waiting for a request: one poll for the whole keep-alive timeout (stop() wakes it).
      // Between requests (not before the first: its client is sending it) the connection is
      // idle, and gives its worker up when another connection needs one.
      const bool between_requests = left != keep_alive_max_count_;
      if (!stream.has_buffered_input()) {
        // Another connection waits for a worker: the longest idle one (this one if none) makes room.
        if (between_requests && !park_idle(sock)) break;
        const bool readable = wait_readable(sock, keep_alive_ms);
        if (between_requests) {
          std::lock_guard<std::mutex> lock(mu_);
          idle_.erase(sock);
        }
        if (!readable) break;
      }
      bool connection_closed = false;
      ok = process_request(stream, left == 1, connection_closed, nullptr);
      if (!stream.flush()) ok = false;
      if (!ok || connection_closed) break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_.erase(sock);  // not in idle_: the loop takes it out before reading or leaving
    evicted_.erase(sock);
    if (worker_threads_ > 0) held_.fetch_sub(1);
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

}  // namespace atlas::mock
