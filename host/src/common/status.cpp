#include "common/status.hpp"

namespace atlas {

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kCancelled: return "CANCELLED";
    case StatusCode::kUnknown: return "UNKNOWN";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kAborted: return "ABORTED";
    case StatusCode::kUnimplemented: return "UNIMPLEMENTED";
    case StatusCode::kInternal: return "INTERNAL";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
  }
  return "UNKNOWN";
}

StatusCode status_code_from_name(std::string_view name) {
  for (int c = ATLAS_OK; c <= ATLAS_UNAVAILABLE; ++c) {
    StatusCode code = status_code_from_abi(static_cast<atlas_status>(c));
    if (status_code_name(code) == name) return code;
  }
  return StatusCode::kUnknown;
}

StatusCode status_code_from_abi(atlas_status s) {
  switch (s) {
    case ATLAS_OK: case ATLAS_CANCELLED: case ATLAS_UNKNOWN: case ATLAS_INVALID_ARGUMENT:
    case ATLAS_DEADLINE_EXCEEDED: case ATLAS_NOT_FOUND: case ATLAS_ALREADY_EXISTS:
    case ATLAS_PERMISSION_DENIED: case ATLAS_RESOURCE_EXHAUSTED: case ATLAS_FAILED_PRECONDITION:
    case ATLAS_ABORTED: case ATLAS_UNIMPLEMENTED: case ATLAS_INTERNAL: case ATLAS_UNAVAILABLE:
      return static_cast<StatusCode>(s);
    default:
      return StatusCode::kUnknown;
  }
}

std::string Status::to_string() const {
  if (is_ok()) return "OK";
  std::string out(status_code_name(code_));
  out += ": ";
  out += message_;
  return out;
}

bool Status::retryable() const {
  return code_ == StatusCode::kUnavailable || code_ == StatusCode::kResourceExhausted ||
         code_ == StatusCode::kAborted;
}

Status Status::with_context(std::string_view context) const {
  if (is_ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_);
}

}  // namespace atlas
