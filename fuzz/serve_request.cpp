// The capture gateway's parser of client requests (ATLAS_FUZZ_SERVE_WIRE): whatever a client
// sends is read, and a request that was accepted must still be accepted after the gateway adds
// the playbook and a retry's guidance to it (what it forwards upstream), with the client's turns
// still there in the same order.
#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "serve/wire_capture.hpp"

namespace {

using atlas::serve::ClientWire;

ClientWire wire_named(std::string_view name) {
  if (name == "openai") return ClientWire::kOpenAIChat;
  if (name == "responses") return ClientWire::kOpenAIResponses;
  if (name == "anthropic") return ClientWire::kAnthropicMessages;
  return ClientWire::kGeminiGenerate;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ClientWire wire = wire_named(ATLAS_FUZZ_SERVE_WIRE);
  std::string_view body = atlas::fuzz::input(data, size);
  auto req = atlas::serve::read_client_request(wire, body, "fuzz-model", false);
  if (!req) return 0;
  (void)atlas::serve::first_user_text(req->messages);
  auto turn_roles = [](const std::vector<atlas::llm::Message>& messages) {
    std::vector<std::string> roles;
    for (const auto& m : messages)
      if (m.role != "system") roles.push_back(m.role);
    return roles;
  };
  const std::vector<std::string> before = turn_roles(req->messages);
  atlas::serve::prepend_system_text(*req, "playbook <<>> \"quoted\"");
  atlas::serve::append_guidance(*req, "draft", "guidance");
  atlas::serve::append_guidance_before_call(*req, "coach guidance");
  const std::string forwarded = atlas::json::dump(req->body);
  auto again = atlas::serve::read_client_request(wire, forwarded, "fuzz-model", false);
  if (!again) abort();  // the gateway would forward a request it refuses itself
  const std::vector<std::string> after = turn_roles(again->messages);
  if (after.size() < before.size() || !std::equal(before.begin(), before.end(), after.begin())) abort();
  (void)atlas::serve::error_body(wire, 400, "invalid_request_error", body.substr(0, 64));
  return 0;
}
