#include "mock/gathering_stream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace atlas::mock {

namespace {

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

thread_local BeforeWaitingForInput* current_before_waiting = nullptr;

}  // namespace

BeforeWaitingForInput::BeforeWaitingForInput(std::function<void()> before_waiting)
    : before_waiting_(std::move(before_waiting)), replaced_(current_before_waiting) {
  current_before_waiting = this;
}

BeforeWaitingForInput::~BeforeWaitingForInput() {
  current_before_waiting = replaced_;
}

void BeforeWaitingForInput::notify() {
  if (current_before_waiting && current_before_waiting->before_waiting_) current_before_waiting->before_waiting_();
}

bool wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int n;
  do n = ::poll(&p, 1, timeout_ms);
  while (n < 0 && errno == EINTR);
  return n > 0;
}

GatheringStream::GatheringStream(int fd, int read_timeout_ms) : fd_(fd), read_timeout_ms_(read_timeout_ms) {}

bool GatheringStream::wait_for_input() const {
  BeforeWaitingForInput::notify();
  return wait_readable(fd_, read_timeout_ms_);
}

bool GatheringStream::is_readable() const {
  return has_buffered_input() || wait_for_input();
}

ssize_t GatheringStream::read(char* ptr, size_t size) {
  if (!has_buffered_input()) {
    // The peer may be waiting for what was gathered (a request's body, a "100 Continue").
    if (!flush()) return -1;
    if (!known_readable_ && !wait_for_input()) return -1;
    known_readable_ = false;
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

ssize_t GatheringStream::write(const char* ptr, size_t size) {
  if (discard_writes_) return static_cast<ssize_t>(size);
  out_.append(ptr, size);
  if (out_.size() >= kFlushAt && !flush()) return -1;  // bounded memory for long replies
  return static_cast<ssize_t>(size);
}

bool GatheringStream::flush() {
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

void GatheringStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  if (!addresses_known_) know_addresses();
  ip = remote_ip_;
  port = remote_port_;
}

void GatheringStream::get_local_ip_and_port(std::string& ip, int& port) const {
  if (!addresses_known_) know_addresses();
  ip = local_ip_;
  port = local_port_;
}

void GatheringStream::know_addresses() const {
  address_of(fd_, true, remote_ip_, remote_port_);
  address_of(fd_, false, local_ip_, local_port_);
  addresses_known_ = true;
}

}  // namespace atlas::mock
