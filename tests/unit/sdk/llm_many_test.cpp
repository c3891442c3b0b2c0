// atlas::sdk::Host::llm_complete_many over the C services table: results land at their index
// whatever order the host reports them in, a refused batch is an Error, and with a services
// table from before ABI 1.2 (no llm_complete_many) the SDK falls back to llm_complete.
#include <gtest/gtest.h>

#include <atlas/sdk.hpp>
#include <string>
#include <vector>

namespace {

// llm_complete of the fake host: echoes the request, fails for "bad".
atlas_status fake_complete(void*, const atlas_call_v1*, atlas_str request, const atlas_sink* out,
                           const atlas_sink* err) {
  std::string r(request.ptr, request.len);
  if (r == "bad") {
    err->write(err->ctx, "no such model", 13);
    return ATLAS_NOT_FOUND;
  }
  std::string reply = "reply to " + r;
  out->write(out->ctx, reply.data(), reply.size());
  return ATLAS_OK;
}

// llm_complete_many of the fake host: reports the outcomes last to first.
atlas_status fake_many(void* host_ctx, const atlas_call_v1*, const atlas_str* requests, size_t count,
                       const atlas_batch_sink* out, const atlas_sink* err) {
  ++*static_cast<int*>(host_ctx);
  if (count > 3) {
    err->write(err->ctx, "batch too large", 15);
    return ATLAS_RESOURCE_EXHAUSTED;
  }
  for (size_t i = count; i-- > 0;) {
    std::string r(requests[i].ptr, requests[i].len);
    std::string text = r == "bad" ? "no such model" : "batched " + r;
    out->result(out->ctx, i, r == "bad" ? ATLAS_NOT_FOUND : ATLAS_OK, text.data(), text.size());
  }
  return ATLAS_OK;
}

// A services table of `size` bytes with both fake services; `batches` counts llm_complete_many calls.
atlas_host_services_v1 fake_table(int* batches, uint32_t size = sizeof(atlas_host_services_v1)) {
  atlas_host_services_v1 table{};
  table.struct_size = size;
  table.host_ctx = batches;
  table.llm_complete = &fake_complete;
  table.llm_complete_many = &fake_many;
  return table;
}

TEST(SdkLlmMany, ResultsLandAtTheirIndexAndFailuresAreResults) {
  int batches = 0;
  atlas_host_services_v1 table = fake_table(&batches);
  atlas::sdk::Host host(&table);
  auto results = host.llm_complete_many({"a", "bad", "c"});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(batches, 1);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[0].text, "batched a");
  EXPECT_EQ(results[1].status, ATLAS_NOT_FOUND);
  EXPECT_EQ(results[1].text, "no such model");
  EXPECT_EQ(results[2].text, "batched c");
  EXPECT_STREQ(atlas::sdk::status_name(results[1].status), "NOT_FOUND");
}

TEST(SdkLlmMany, ARefusedBatchThrowsTheHostsStatus) {
  int batches = 0;
  atlas_host_services_v1 table = fake_table(&batches);
  atlas::sdk::Host host(&table);
  try {
    host.llm_complete_many({"1", "2", "3", "4"});
    FAIL() << "expected an Error";
  } catch (const atlas::sdk::Error& e) {
    EXPECT_EQ(e.status(), ATLAS_RESOURCE_EXHAUSTED);
    EXPECT_STREQ(e.what(), "batch too large");
  }
}

TEST(SdkLlmMany, AnOlderHostGetsOneLlmCompleteAfterAnother) {
  int batches = 0;
  // Written by an ABI 1.1 host: llm_complete_many lies beyond struct_size and must not be used.
  atlas_host_services_v1 table = fake_table(&batches, ATLAS_HOST_SERVICES_V1_1_SIZE);
  atlas::sdk::Host host(&table);
  auto results = host.llm_complete_many({"a", "bad"});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(batches, 0);
  EXPECT_EQ(results[0].text, "reply to a");
  EXPECT_EQ(results[1].status, ATLAS_NOT_FOUND);
  EXPECT_EQ(results[1].text, "no such model");
}

}  // namespace
