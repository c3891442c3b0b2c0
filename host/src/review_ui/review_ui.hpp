// The review web UI (docs/review-ui.md): a browser front end (plain HTML/CSS/JS embedded in the
// binary) and its JSON API under /ui, served by `atlas-host serve` next to the gateway
// ([serve] ui = true) or alone (`atlas-host serve --ui-only`). Every decision goes through the
// same data-layer functions as `atlas-host review` (data/review.hpp), so it writes the same
// review_events rows, with the logged-in reviewer as the actor.
//
//   auto ui = review_ui::ReviewUi::create(store, {.listen_host = "127.0.0.1", ...});
//   (*ui)->mount(server);   // before the server's catch-all routes
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/status.hpp"
#include "config/config.hpp"
#include "data/store.hpp"

namespace httplib {
class Server;
}

namespace atlas::review_ui {

struct UiOptions {
  // The address the server listens on: a non-loopback address requires reviewer tokens.
  std::string listen_host = "127.0.0.1";
  // [serve] ui_tokens_env: the variable with "name=TOKEN,..." ("" = none: loopback only, and
  // every browser on this machine acts as `local_actor`).
  std::string tokens_env;
  std::string local_actor;  // "" = $USER (data::default_actor)
  int login_ttl_seconds = 12 * 3600;
  // Export files made in the UI wait here for their download ("" = a fresh folder under the
  // system temp dir, removed when the UI closes).
  std::filesystem::path export_dir;
  // [review] policy: the default review filter of an export, like `atlas-host export`.
  const config::ReviewConfig* review = nullptr;
};

class ReviewUi {
 public:
  // Reads the reviewer tokens; refuses a non-loopback address without them.
  static Result<std::unique_ptr<ReviewUi>> create(data::Store& store, UiOptions options);
  ~ReviewUi();
  ReviewUi(const ReviewUi&) = delete;
  ReviewUi& operator=(const ReviewUi&) = delete;

  // Adds the /ui routes. The ReviewUi must outlive the server.
  void mount(httplib::Server& server);

  class Impl;

 private:
  explicit ReviewUi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `atlas-host serve --ui-only`: an HTTP server with the UI routes only.
class UiServer {
 public:
  explicit UiServer(ReviewUi& ui);
  ~UiServer();
  // Binds host:port (0 = any free port) and serves in a background thread; returns the port.
  Result<int> start(const std::string& host, int port);
  void stop();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace atlas::review_ui
