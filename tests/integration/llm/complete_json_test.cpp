// The llm_complete JSON service against the mock: model_ref resolution, inline model blocks,
// tool calls as objects, accounting, clear errors.
#include <gtest/gtest.h>

#include "llm/llm_json.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::llm {
namespace {

class CompleteJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = std::make_unique<testing::MockLlm>(R"({"rules":[
        {"match":{"model":"judge-model"},"response":{"json":{"score":0.9}}},
        {"match":{"has_tools":true},"response":{"tool_calls":[{"id":"c1","name":"read_file","arguments":{"path":"a.txt"}}],
          "usage":{"prompt_tokens":10,"completion_tokens":5}}},
        {"response":{"text":"plain"}}]})");
    ASSERT_TRUE(mock_->ok());
    resolver_ = [this](std::string_view ref) -> Result<config::ModelConfig> {
      if (ref == "student") return mock_->model("openai", "student-model");
      if (ref == "rewards.small_model") return mock_->model("anthropic", "judge-model");
      return not_found("no model configured for \"" + std::string(ref) + "\"");
    };
  }
  std::unique_ptr<testing::MockLlm> mock_;
  ModelResolver resolver_;
  std::shared_ptr<Client> client_ = make_client();
};

TEST_F(CompleteJsonTest, ModelRefToolCallsComeBackAsObjects) {
  CallRecord rec;
  auto out = complete_json(*client_, resolver_, R"({"model_ref":"student","role":"student","session_id":"42",
      "messages":[{"role":"user","content":"read a.txt"}],
      "tools":[{"name":"read_file","description":"Read","parameters":{"type":"object","properties":{"path":{"type":"string"}}}}]})",
                           &rec);
  ASSERT_TRUE(out) << out.status().to_string();
  auto doc = json::parse(*out);
  ASSERT_TRUE(doc);
  const auto& tc = (*doc)["tool_calls"][0];
  EXPECT_STREQ(tc["name"].GetString(), "read_file");
  ASSERT_TRUE(tc["arguments"].IsObject());
  EXPECT_STREQ(tc["arguments"]["path"].GetString(), "a.txt");
  EXPECT_EQ((*doc)["usage"]["total_tokens"].GetInt64(), 15);
  EXPECT_STREQ((*doc)["finish_reason"].GetString(), "tool_calls");
  EXPECT_EQ(rec.role, "student");
  EXPECT_EQ(rec.session_id, "42");
  EXPECT_EQ(rec.model, "student-model");
  EXPECT_EQ(rec.usage.total_tokens, 15);
  EXPECT_EQ(mock_->requests()[0].model, "student-model");
}

TEST_F(CompleteJsonTest, JudgeRefAndToolHistoryRoundTrip) {
  CallRecord rec;
  auto out = complete_json(*client_, resolver_, R"({"model_ref":"rewards.small_model","role":"judge",
      "response_format":{"type":"json_object"},
      "messages":[{"role":"system","content":"grade"},{"role":"user","content":"task"},
        {"role":"assistant","content":"","tool_calls":[{"id":"c1","name":"read_file","arguments":{"path":"a.txt"}}]},
        {"role":"tool","tool_call_id":"c1","name":"read_file","content":"file text"}]})",
                           &rec);
  ASSERT_TRUE(out) << out.status().to_string();
  auto doc = json::parse(*out);
  ASSERT_TRUE(doc);
  auto content = json::parse((*doc)["content"].GetString());
  ASSERT_TRUE(content);
  EXPECT_DOUBLE_EQ(json::get_double(*content, "score"), 0.9);
  EXPECT_EQ(rec.provider, "anthropic");
  auto body = mock_->body(0);
  EXPECT_STREQ(body["messages"][1]["content"][0]["input"]["path"].GetString(), "a.txt");
  EXPECT_STREQ(body["messages"][2]["content"][0]["content"].GetString(), "file text");
  EXPECT_EQ(mock_->requests()[0].headers["x-atlas-role"], "judge");
}

TEST_F(CompleteJsonTest, InlineModelBlock) {
  std::string req = R"({"model":{"provider":"gemini","model":"gemini-test","api_base":")" + mock_->base_url() +
                    R"(","api_key_env":"ATLAS_MOCK_LLM_UNSET_KEY"},"messages":[{"role":"user","content":"hi"}]})";
  auto out = complete_json(*client_, nullptr, req);
  ASSERT_TRUE(out) << out.status().to_string();
  EXPECT_NE(out->find("\"content\":\"plain\""), std::string::npos) << *out;
  EXPECT_EQ(mock_->requests()[0].route, "gemini.generate");
}

TEST_F(CompleteJsonTest, ClearErrors) {
  CallRecord rec;
  auto unknown = complete_json(*client_, resolver_, R"({"model_ref":"teacher","messages":[{"role":"user","content":"x"}]})", &rec);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.status().message().find("teacher"), std::string::npos);
  EXPECT_EQ(rec.outcome, "NOT_FOUND");

  auto no_model = complete_json(*client_, resolver_, R"({"messages":[{"role":"user","content":"x"}]})");
  ASSERT_FALSE(no_model);
  EXPECT_NE(no_model.status().message().find("model_ref"), std::string::npos);

  auto bad_json = complete_json(*client_, resolver_, R"({"model_ref":"student", "messages": [)");
  ASSERT_FALSE(bad_json);
  EXPECT_EQ(bad_json.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_json.status().message().find("line 1"), std::string::npos);

  auto bad_role = complete_json(*client_, resolver_, R"({"model_ref":"student","messages":[{"role":"robot","content":"x"}]})");
  ASSERT_FALSE(bad_role);
  EXPECT_NE(bad_role.status().message().find("messages[0].role"), std::string::npos);

  auto literal_key = complete_json(*client_, resolver_,
      R"({"model":{"provider":"openai","model":"m","api_key":"sk-abc"},"messages":[{"role":"user","content":"x"}]})");
  ASSERT_FALSE(literal_key);
  EXPECT_NE(literal_key.status().message().find("api_key_env"), std::string::npos);
  EXPECT_TRUE(mock_->requests().empty()) << "bad requests must not reach the provider";
}

}  // namespace
}  // namespace atlas::llm
