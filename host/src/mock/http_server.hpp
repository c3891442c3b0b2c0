// The HTTP server under mock-llm: cpp-httplib's routing and request parsing, with the
// connection loop owned here instead of by httplib 0.11, for three reasons:
//   - one send per response: httplib writes the status line and headers, then the body, as two
//     TCP segments (two wake-ups for every client waiting on the reply). Here the writes of a
//     response are gathered and sent together when the response is complete, or earlier when
//     the server must read again (a "100 Continue" goes out before the body is read);
//   - no idle polling: httplib's keep-alive wait polls every 10 ms and sleeps 1 ms in between,
//     so a request arriving on a kept-alive connection waits up to 1 ms; here it is one poll;
//   - the server knows its connections, so stop() wakes them at once (shutdown) and the
//     listen backlog is raised on the socket it bound (httplib 0.11 listens with a backlog of 5).
#pragma once

#include <httplib.h>

#include <mutex>
#include <set>

namespace atlas::mock {

class HttpServer : public httplib::Server {
 public:
  // listen() again on the bound socket with SOMAXCONN: a burst of 64 connects overflows a
  // backlog of 5 and the kernel drops SYNs (clients wait 1-7 s to retransmit).
  void raise_listen_backlog();
  // Shuts down every open connection (workers blocked in a read return at once). Call after
  // stop(); connections accepted later see the server stopped and close themselves.
  void shutdown_connections();
  // Streamed replies (a chunked content provider) go out piece by piece instead of gathered
  // until complete; set before listening.
  void set_stream_writes(bool on) { stream_writes_ = on; }

 private:
  // Called by httplib's worker thread for each accepted connection (a private virtual of
  // httplib::Server, overridable by design of C++ access rules).
  bool process_and_close_socket(socket_t sock) override;
  bool stopped() const;

  mutable std::mutex mu_;
  std::set<socket_t> open_;
  bool shut_down_ = false;
  bool stream_writes_ = false;
};

}  // namespace atlas::mock
