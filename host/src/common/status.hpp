// Status and Result<T>: the host's error vocabulary. Codes are the plugin ABI's status codes
// (atlas/plugin_abi.h), so a plugin's failure maps onto a host Status without translation.
#pragma once

#include <atlas/plugin_abi.h>

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace atlas {

enum class StatusCode : int32_t {
  kOk = ATLAS_OK,
  kCancelled = ATLAS_CANCELLED,
  kUnknown = ATLAS_UNKNOWN,
  kInvalidArgument = ATLAS_INVALID_ARGUMENT,
  kDeadlineExceeded = ATLAS_DEADLINE_EXCEEDED,
  kNotFound = ATLAS_NOT_FOUND,
  kAlreadyExists = ATLAS_ALREADY_EXISTS,
  kPermissionDenied = ATLAS_PERMISSION_DENIED,
  kResourceExhausted = ATLAS_RESOURCE_EXHAUSTED,
  kFailedPrecondition = ATLAS_FAILED_PRECONDITION,
  kAborted = ATLAS_ABORTED,
  kUnimplemented = ATLAS_UNIMPLEMENTED,
  kInternal = ATLAS_INTERNAL,
  kUnavailable = ATLAS_UNAVAILABLE,
};

std::string_view status_code_name(StatusCode code);
StatusCode status_code_from_abi(atlas_status s);  // unknown values map to kUnknown
StatusCode status_code_from_name(std::string_view name);  // "UNAVAILABLE" -> kUnavailable; unknown -> kUnknown

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "INVALID_ARGUMENT: message"
  std::string to_string() const;
  // Retryable per the ABI's retry semantics (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED).
  bool retryable() const;
  // Returns a copy with `context` prepended ("context: message").
  Status with_context(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalid_argument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status not_found(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status internal_error(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
inline Status unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status failed_precondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
inline Status deadline_exceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
inline Status unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
inline Status permission_denied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status aborted(std::string m) { return {StatusCode::kAborted, std::move(m)}; }
inline Status resource_exhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }

// A value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : data_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(data_).is_ok() && "Result constructed from an OK status");
  }

  bool is_ok() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const {
    static const Status kOk;
    return is_ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T value_or(T fallback) const { return is_ok() ? value() : std::move(fallback); }

 private:
  std::variant<Status, T> data_;
};

}  // namespace atlas

// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` is a declaration and `tmp` a name; neither can be parenthesised.
// Propagates a non-OK Status from an expression returning Status.
#define ATLAS_RETURN_IF_ERROR(expr)            \
  do {                                         \
    ::atlas::Status _atlas_st = (expr);        \
    if (!_atlas_st.is_ok()) return _atlas_st;  \
  } while (0)

#define ATLAS_CONCAT_INNER(a, b) a##b
#define ATLAS_CONCAT(a, b) ATLAS_CONCAT_INNER(a, b)
// ATLAS_ASSIGN_OR_RETURN(auto x, expr_returning_result);
#define ATLAS_ASSIGN_OR_RETURN(lhs, expr) ATLAS_ASSIGN_OR_RETURN_IMPL(ATLAS_CONCAT(_atlas_r, __LINE__), lhs, expr)
#define ATLAS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.is_ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
