// The HTTP server under mock-llm: cpp-httplib's routing and request parsing, with the
// connection loop owned here instead of by httplib 0.11, for three reasons:
//   - one send per response: httplib writes the status line and headers, then the body, as two
//     TCP segments (two wake-ups for every client waiting on the reply). Here the writes of a
//     response are gathered and sent together when the response is complete, or earlier when
//     the server must read again (a "100 Continue" goes out before the body is read);
//   - no idle polling: httplib's keep-alive wait polls every 10 ms and sleeps 1 ms in between,
//     so a request arriving on a kept-alive connection waits up to 1 ms; here it is one poll;
//   - the server knows its connections, so stop() wakes them at once (shutdown) and the
//     listen backlog is raised on the socket it bound (httplib 0.11 listens with a backlog of 5);
//   - a connection holds a worker thread while it is open, idle ones included: when every
//     worker holds one and another arrives, the one idle longest is closed so the newcomer is
//     served at once, and while one waits a connection that goes idle closes instead of
//     waiting for its next request (with httplib's queue the newcomer waited for a keep-alive
//     timeout, 5 s, or forever while the idle clients kept sending).
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace atlas::mock {

class GatheringStream;

// A response its handler writes itself while it runs, chunked, piece by piece: a relayed stream
// goes out from the thread that reads it, with no hand-over to the thread httplib would write a
// content provider's pieces from. Only for handlers running on an HttpServer's connection
// (HttpServer::direct_response()); once begun, whatever the handler leaves in its
// httplib::Response is not sent.
class DirectResponse {
 public:
  // Gathers the head (status line, `headers`, Content-Type, chunked transfer); it goes out with
  // the first piece sent, or with the end.
  // `req` says whether the client asked to close the connection after it.
  void begin(const httplib::Request& req, int status, const httplib::Headers& headers, const std::string& content_type);
  bool begun() const { return begun_; }
  // Sends one piece as one chunk at once; false when the client is gone (nothing more is sent).
  bool write(std::string_view piece);
  // Gathers one piece as one chunk, sent by the next flush(), write() or end(); false when the
  // client is gone (a flush failed) or the response is not open.
  bool append(std::string_view piece);
  // Sends what was gathered (the head too, if not sent yet); false when the client is gone.
  bool flush();
  // Sends the stream's end. A response begun and not ended closes its connection when the
  // handler returns: the client sees the stream cut short, not a complete reply.
  bool end();
  bool ended() const { return ended_; }

 private:
  friend class HttpServer;
  DirectResponse(GatheringStream& stream, bool last_on_connection) : stream_(stream), last_(last_on_connection) {}
  GatheringStream& stream_;
  bool last_;  // the connection closes after this request (its keep-alive count is used up)
  bool begun_ = false, ended_ = false, failed_ = false;
};

class HttpServer : public httplib::Server {
 public:
  // listen() again on the bound socket with SOMAXCONN: a burst of 64 connects overflows a
  // backlog of 5 and the kernel drops SYNs (clients wait 1-7 s to retransmit).
  void raise_listen_backlog();
  // Shuts down every open connection (workers blocked in a read return at once). Call after
  // stop(); connections accepted later see the server stopped and close themselves.
  void shutdown_connections();
  // Serves connections on `threads` worker threads (instead of setting new_task_queue); set
  // before listening.
  void set_worker_threads(size_t threads);
  // The direct response of the request the calling thread's handler serves; nullptr when the
  // thread is not serving a request of an HttpServer.
  static DirectResponse* direct_response();

 private:
  // Called by httplib's worker thread for each accepted connection (a private virtual of
  // httplib::Server, overridable by design of C++ access rules).
  bool process_and_close_socket(socket_t sock) override;
  bool stopped() const;
  // Every worker holds a connection and one more is waiting: closes the connection idle longest.
  void make_room();
  bool evict_longest_idle_locked();  // false when none is idle
  // Marks a connection idle between requests; false when it must close instead, to give its
  // worker to a connection waiting for one.
  bool park_idle(socket_t sock);
  bool connection_waiting_for_a_worker_locked() const;
  class Workers;

  mutable std::mutex mu_;
  std::set<socket_t> open_;
  std::map<socket_t, std::chrono::steady_clock::time_point> idle_;  // waiting between requests
  size_t worker_threads_ = 0;                                       // 0 = not set (httplib's pool)
  std::atomic<size_t> held_{0};  // connections accepted and not yet closed (set_worker_threads)
  std::set<socket_t> evicted_;   // told to close to make room, not yet closed
  bool shut_down_ = false;
};

}  // namespace atlas::mock
