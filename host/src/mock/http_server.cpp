#include "mock/http_server.hpp"

#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "mock/gathering_stream.hpp"

namespace atlas::mock {

namespace {
thread_local DirectResponse* current_direct_response = nullptr;

// The status line's reason phrase (clients read the code; httplib 0.11 keeps its table private).
const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return status < 400 ? "OK" : "Error";
  }
}

bool same_name(const std::string& a, const char* b) {
  return ::strcasecmp(a.c_str(), b) == 0;
}

// A header's name or value that could end its line (and start one the peer did not send).
bool breaks_a_line(const std::string& text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos;
}
}  // namespace

void DirectResponse::begin(const httplib::Request& req, int status, const httplib::Headers& headers,
                           const std::string& content_type) {
  if (begun_) return;
  begun_ = true;
  stream_.discard_writes(true);
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  for (const auto& [name, value] : headers) {
    // The framing is this response's own.
    if (same_name(name, "Content-Length") || same_name(name, "Transfer-Encoding") || same_name(name, "Content-Type") ||
        same_name(name, "Connection") || breaks_a_line(name) || breaks_a_line(value))
      continue;
    head += name + ": " + value + "\r\n";
  }
  // The type comes from an upstream's reply: one that would split the head is not passed on.
  head += "Content-Type: " + (breaks_a_line(content_type) ? std::string("application/octet-stream") : content_type) +
          "\r\nTransfer-Encoding: chunked\r\n";
  if (last_ || req.get_header_value("Connection") == "close") head += "Connection: close\r\n";
  head += "\r\n";
  stream_.gather(head);
}

bool DirectResponse::append(std::string_view piece) {
  if (!begun_ || ended_ || failed_) return false;
  if (piece.empty()) return true;  // an empty chunk would end the stream
  char size[20];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
  stream_.gather(std::string_view(size, static_cast<size_t>(n)));
  stream_.gather(piece);
  stream_.gather("\r\n");
  return true;
}

bool DirectResponse::flush() {
  if (!begun_ || ended_ || failed_) return false;
  if (!stream_.flush()) failed_ = true;
  return !failed_;
}

bool DirectResponse::write(std::string_view piece) {
  return append(piece) && flush();
}

bool DirectResponse::end() {
  if (!begun_ || ended_ || failed_) return false;
  stream_.gather("0\r\n\r\n");
  if (!stream_.flush()) {
    failed_ = true;
    return false;
  }
  ended_ = true;
  return true;
}

DirectResponse* HttpServer::direct_response() {
  return current_direct_response;
}

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
    GatheringStream stream(sock, read_timeout_ms);
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
        stream.note_readable();
      }
      bool connection_closed = false;
      DirectResponse direct(stream, left == 1);
      current_direct_response = &direct;
      ok = process_request(stream, left == 1, connection_closed, nullptr);
      current_direct_response = nullptr;
      if (direct.begun()) {
        stream.discard_writes(false);
        if (!direct.ended()) break;  // cut short: closing is how the client learns it
      }
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
