// Pins the binary layout of every struct in atlas/plugin_abi.h on x86_64 (System V): a change
// here breaks every plugin already built, so it must be a deliberate, versioned decision.
// Also checks that the ABI 1.0 minimum sizes stay frozen when a later minor appends fields
// (future_abi.c is compiled against a copy of the header with a field appended everywhere).
#include <atlas/plugin_abi.h>
#include <gtest/gtest.h>

#include <cstddef>

#include "future_abi.h"

namespace {

#define EXPECT_FIELD(type, field, offset) EXPECT_EQ(offsetof(type, field), size_t{offset}) << #type "." #field

class AbiLayout : public ::testing::Test {
 protected:
  void SetUp() override {
#if !defined(__x86_64__)
    GTEST_SKIP() << "the pinned offsets are those of x86_64";
#endif
  }
};

TEST_F(AbiLayout, BorrowedStringsAndSinks) {
  EXPECT_FIELD(atlas_str, ptr, 0);
  EXPECT_FIELD(atlas_str, len, 8);
  EXPECT_EQ(sizeof(atlas_str), 16u);
  EXPECT_FIELD(atlas_sink, ctx, 0);
  EXPECT_FIELD(atlas_sink, write, 8);
  EXPECT_EQ(sizeof(atlas_sink), 16u);
  EXPECT_FIELD(atlas_batch_sink, ctx, 0);
  EXPECT_FIELD(atlas_batch_sink, result, 8);
  EXPECT_EQ(sizeof(atlas_batch_sink), 16u);
}

TEST_F(AbiLayout, CallContext) {
  EXPECT_FIELD(atlas_call_v1, struct_size, 0);
  EXPECT_FIELD(atlas_call_v1, call_ctx, 8);
  EXPECT_FIELD(atlas_call_v1, session_id, 16);
  EXPECT_FIELD(atlas_call_v1, step_id, 32);
  EXPECT_FIELD(atlas_call_v1, deadline_unix_ms, 48);
  EXPECT_EQ(sizeof(atlas_call_v1), 56u);
  EXPECT_EQ(ATLAS_CALL_V1_0_SIZE, 56u);
}

TEST_F(AbiLayout, HostServices) {
  EXPECT_FIELD(atlas_host_services_v1, struct_size, 0);
  EXPECT_FIELD(atlas_host_services_v1, host_ctx, 8);
  EXPECT_FIELD(atlas_host_services_v1, log, 16);
  EXPECT_FIELD(atlas_host_services_v1, emit_event, 24);
  EXPECT_FIELD(atlas_host_services_v1, llm_complete, 32);
  EXPECT_FIELD(atlas_host_services_v1, is_cancelled, 40);
  EXPECT_FIELD(atlas_host_services_v1, llm_complete_many, 48);
  EXPECT_EQ(sizeof(atlas_host_services_v1), 56u);
  EXPECT_EQ(ATLAS_HOST_SERVICES_V1_0_SIZE, 40u);
  EXPECT_EQ(ATLAS_HOST_SERVICES_V1_1_SIZE, 48u);
}

template <typename VT>
void expect_vtable_layout(const char* name) {
  SCOPED_TRACE(name);
  EXPECT_EQ(offsetof(VT, struct_size), 0u);
  EXPECT_EQ(offsetof(VT, create), 8u);
  EXPECT_EQ(offsetof(VT, destroy), 16u);
  EXPECT_EQ(offsetof(VT, cancel), 32u);
  EXPECT_EQ(sizeof(VT), 40u);
}

TEST_F(AbiLayout, Vtables) {
  expect_vtable_layout<atlas_adapter_vtable_v1>("adapter");
  expect_vtable_layout<atlas_judge_vtable_v1>("judge");
  expect_vtable_layout<atlas_probe_vtable_v1>("probe");
  expect_vtable_layout<atlas_storage_vtable_v1>("storage");
  EXPECT_FIELD(atlas_adapter_vtable_v1, invoke, 24);
  EXPECT_FIELD(atlas_judge_vtable_v1, judge, 24);
  EXPECT_FIELD(atlas_probe_vtable_v1, probe, 24);
  EXPECT_FIELD(atlas_storage_vtable_v1, execute, 24);
  EXPECT_EQ(ATLAS_VTABLE_V1_0_SIZE, 32u);
}

TEST_F(AbiLayout, Descriptor) {
  EXPECT_FIELD(atlas_plugin_desc, struct_size, 0);
  EXPECT_FIELD(atlas_plugin_desc, kind, 4);
  EXPECT_FIELD(atlas_plugin_desc, name, 8);
  EXPECT_FIELD(atlas_plugin_desc, version, 16);
  EXPECT_FIELD(atlas_plugin_desc, vendor, 24);
  EXPECT_FIELD(atlas_plugin_desc, license, 32);
  EXPECT_FIELD(atlas_plugin_desc, description, 40);
  EXPECT_FIELD(atlas_plugin_desc, capabilities, 48);
  EXPECT_FIELD(atlas_plugin_desc, config_schema_json, 56);
  EXPECT_FIELD(atlas_plugin_desc, vtable, 64);
  EXPECT_EQ(sizeof(atlas_plugin_desc), 72u);
  EXPECT_EQ(ATLAS_PLUGIN_DESC_V1_0_SIZE, 72u);
}

TEST_F(AbiLayout, Manifest) {
  EXPECT_FIELD(atlas_plugin_manifest, struct_size, 0);
  EXPECT_FIELD(atlas_plugin_manifest, abi_major, 4);
  EXPECT_FIELD(atlas_plugin_manifest, abi_minor, 6);
  EXPECT_FIELD(atlas_plugin_manifest, build_tag, 8);
  EXPECT_FIELD(atlas_plugin_manifest, count, 16);
  EXPECT_FIELD(atlas_plugin_manifest, plugins, 24);
  EXPECT_EQ(sizeof(atlas_plugin_manifest), 32u);
  EXPECT_EQ(ATLAS_PLUGIN_MANIFEST_V1_0_SIZE, 32u);
}

// The header of a later minor (one field appended to every size-prefixed struct) must keep
// the same ABI 1.0 minimums as today's, or a host built with it would refuse every plugin
// built before the append.
TEST(AbiFrozenMinimums, AppendingAFieldKeepsEveryV1_0Size) {
  const future_abi_sizes f = future_abi_sizes_get();
  EXPECT_GT(f.call_sizeof, sizeof(atlas_call_v1)) << "the field was not appended: the test proves nothing";
  EXPECT_GT(f.desc_sizeof, sizeof(atlas_plugin_desc)) << "the field was not appended: the test proves nothing";
  EXPECT_GT(f.manifest_sizeof, sizeof(atlas_plugin_manifest)) << "the field was not appended: the test proves nothing";
  EXPECT_GT(f.vtable_sizeof, sizeof(atlas_adapter_vtable_v1)) << "the field was not appended: the test proves nothing";
  EXPECT_EQ(f.call_v1_0, ATLAS_CALL_V1_0_SIZE);
  EXPECT_EQ(f.desc_v1_0, ATLAS_PLUGIN_DESC_V1_0_SIZE);
  EXPECT_EQ(f.manifest_v1_0, ATLAS_PLUGIN_MANIFEST_V1_0_SIZE);
  EXPECT_EQ(f.vtable_v1_0, ATLAS_VTABLE_V1_0_SIZE);
  EXPECT_EQ(f.services_v1_0, ATLAS_HOST_SERVICES_V1_0_SIZE);
  EXPECT_EQ(f.services_v1_1, ATLAS_HOST_SERVICES_V1_1_SIZE);
  // Today's full structs (what every current plugin writes) stay acceptable to that host.
  EXPECT_LE(f.desc_v1_0, sizeof(atlas_plugin_desc));
  EXPECT_LE(f.manifest_v1_0, sizeof(atlas_plugin_manifest));
}

}  // namespace
