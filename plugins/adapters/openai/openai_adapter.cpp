// openai adapter: the student is a openai model called through the host's llm_complete
// service. The mapping lives in ../openai/llm_adapter.hpp (shared by openai, anthropic, gemini).
#include "llm_adapter.hpp"

namespace {

class OpenAiAdapter : public llm_adapter::LlmAdapter {
 public:
  static constexpr atlas::sdk::Info info{"openai", "1.0.0", "atlas-host", "Apache-2.0",
                                         "OpenAI-compatible chat models (OpenAI, vLLM, Ollama, llama.cpp, TGI) through the host's LLM clients",
                                         ATLAS_CAP_THREAD_SAFE | ATLAS_CAP_TOOLS | ATLAS_CAP_USES_LLM,
                                         llm_adapter::kSchema};
  OpenAiAdapter(const atlas::sdk::Host& host, std::string_view config_json)
      : LlmAdapter(host, config_json, "openai", "openai") {}
};

}  // namespace

ATLAS_PLUGIN(OpenAiAdapter)
