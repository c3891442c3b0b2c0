// One provider's wire parsers (ATLAS_FUZZ_WIRE): reply body, SSE stream, error body; what was
// parsed is written back through the llm_complete JSON form and the provider's request builder.
#include "llm/wire.hpp"

#include "config/model_config.hpp"
#include "fuzz_support.hpp"
#include "llm/llm_json.hpp"

namespace {

void round_trip(atlas::llm::WireKind w, const atlas::llm::Response& r) {
  (void)atlas::llm::response_to_json(r);
  atlas::llm::Request req;
  req.messages.push_back({"user", "hi", {}, {}, {}});
  atlas::llm::Message assistant{"assistant", r.content, {}, {}, {}};
  assistant.tool_calls = r.tool_calls;
  req.messages.push_back(assistant);
  for (const auto& tc : r.tool_calls) req.messages.push_back({"tool", r.content, {}, tc.id, tc.name});
  atlas::config::ModelConfig model;
  model.model = "m";
  (void)atlas::llm::build_request(w, model, req, "http://127.0.0.1:1", std::nullopt);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const atlas::llm::WireKind wire = *atlas::llm::wire_for_provider(ATLAS_FUZZ_WIRE);
  std::string_view body = atlas::fuzz::input(data, size);
  if (auto r = atlas::llm::parse_reply(wire, body)) round_trip(wire, *r);
  if (auto r = atlas::llm::parse_stream(wire, body)) round_trip(wire, *r);
  (void)atlas::llm::parse_error_body(wire, body);
  return 0;
}
