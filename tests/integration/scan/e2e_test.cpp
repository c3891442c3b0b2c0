// End to end: `atlas-host scan` output is built against the SDK as installed from this build
// tree (cmake --install --component sdk) and the resulting .so is loaded through the C ABI and
// called, the way the host does.
//  - the real npm MCP filesystem server: scanned live, built, list_directory called through the
//    generated plugin, which starts the server itself;
//  - the JSON fixture's golden project: argument validation errors carry JSON pointers;
//  - the JSON fixture scanned by the CLI: its atlas.toml run as generated, its tool calls recorded.
#include <atlas/plugin_abi.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "support/mock_llm_fixture.hpp"

namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "atlas-scan-e2e-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string quote(const std::string& s) {
  return "'" + s + "'";
}

// Runs a shell command; returns exit status and combined output.
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return {-1, "popen failed"};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

// SDK installed from this build tree, once per test binary.
const fs::path& sdk_prefix() {
  static TempDir* dir = new TempDir();  // lives until exit: the staging is shared by the tests
  static bool done = false;
  if (!done) {
    auto [rc, out] = run(std::string(ATLAS_SCAN_CMAKE) + " --install " + quote(ATLAS_SCAN_BUILD_DIR) +
                         " --component sdk --prefix " + quote(dir->path.string()));
    EXPECT_EQ(rc, 0) << out;
    done = true;
  }
  return dir->path;
}

// Configures and builds a generated project; returns the path of the plugin .so.
fs::path build_project(const fs::path& project, const std::string& name) {
  fs::path build = project / "build";
  auto [rc, out] = run(std::string(ATLAS_SCAN_CMAKE) + " -S " + quote(project.string()) + " -B " +
                       quote(build.string()) + " -G " + quote(ATLAS_SCAN_GENERATOR) +
                       " -DCMAKE_BUILD_TYPE=Debug -DCMAKE_PREFIX_PATH=" + quote(sdk_prefix().string()));
  EXPECT_EQ(rc, 0) << out;
  auto [rc2, out2] = run(std::string(ATLAS_SCAN_CMAKE) + " --build " + quote(build.string()) + " -j2");
  EXPECT_EQ(rc2, 0) << out2;
  EXPECT_EQ(out2.find("warning:"), std::string::npos) << "generated code must compile without warnings:\n" << out2;
  return build / (name + ".so");
}

void append(void* ctx, const char* data, size_t len) {
  static_cast<std::string*>(ctx)->append(data, len);
}

// A loaded adapter plugin driven through the C ABI.
class Adapter {
 public:
  explicit Adapter(const fs::path& so, const std::string& config = "{}") {
    handle_ = dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      error_ = dlerror();
      return;
    }
    auto fn = reinterpret_cast<atlas_plugin_manifest_v1_fn>(dlsym(handle_, ATLAS_MANIFEST_SYMBOL));
    if (!fn) {
      error_ = "no manifest symbol";
      return;
    }
    const atlas_plugin_manifest* m = fn(ATLAS_ABI_MAJOR, ATLAS_ABI_MINOR);
    if (!m || m->count != 1 || m->plugins[0]->kind != ATLAS_KIND_ADAPTER) {
      error_ = "unexpected manifest";
      return;
    }
    desc_ = m->plugins[0];
    vt_ = static_cast<const atlas_adapter_vtable_v1*>(desc_->vtable);
    services_.struct_size = sizeof services_;
    std::string err;
    atlas_sink err_sink{&err, &append};
    if (vt_->create(&services_, atlas_str{config.data(), config.size()}, &instance_, &err_sink) != ATLAS_OK)
      error_ = "create failed: " + err;
  }
  ~Adapter() {
    if (instance_) vt_->destroy(instance_);
    // The library stays loaded until exit, as in the host.
  }
  const std::string& error() const { return error_; }
  const atlas_plugin_desc* desc() const { return desc_; }

  struct Outcome {
    atlas_status status;
    std::string out, err;
  };
  Outcome invoke(const std::string& request) {
    Outcome o{};
    atlas_sink out{&o.out, &append}, err{&o.err, &append};
    atlas_call_v1 call{};
    call.struct_size = sizeof call;
    o.status = vt_->invoke(instance_, &call, atlas_str{request.data(), request.size()}, &out, &err);
    return o;
  }
  Outcome call_tool(const std::string& name, const std::string& arguments_json) {
    return invoke(R"({"role":"executor","messages":[],"metadata":{"tool_call":{"name":")" + name + R"(","arguments":)" +
                  arguments_json + "}}}");
  }

 private:
  void* handle_ = nullptr;
  const atlas_plugin_desc* desc_ = nullptr;
  const atlas_adapter_vtable_v1* vt_ = nullptr;
  atlas_host_services_v1 services_{};
  void* instance_ = nullptr;
  std::string error_;
};

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

TEST(ScanE2E, FilesystemMcpServerScannedBuiltLoadedAndCalled) {
  const fs::path node_dir = ATLAS_SCAN_NODE_DIR;
  const fs::path server = node_dir / "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js";
  if (!fs::exists(server)) {
    if (run("command -v npm").first != 0 || run("command -v node").first != 0)
      GTEST_SKIP() << "npm/node not installed: cannot install @modelcontextprotocol/server-filesystem";
    fs::create_directories(node_dir);
    for (const char* f : {"package.json", "package-lock.json"})
      fs::copy_file(fs::path(ATLAS_SCAN_NODE_SRC) / f, node_dir / f, fs::copy_options::overwrite_existing);
    auto [rc, out] = run("cd " + quote(node_dir.string()) + " && npm ci --no-audit --no-fund");
    ASSERT_EQ(rc, 0) << "npm ci failed:\n" << out;
  }
  TempDir work;
  fs::path files = work.path / "files";
  fs::create_directories(files / "sub");
  std::ofstream(files / "hello.txt") << "hello\n";

  // Scan the live server.
  fs::path project = work.path / "fs_adapter";
  std::string mcp = "node " + server.string() + " " + files.string();
  std::string scan_cmd = std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host scan --mcp " + quote(mcp) + " --out " +
                         quote(project.string()) + " --name fs_tools --json";
  auto [rc, out] = run(scan_cmd);
  ASSERT_EQ(rc, 0) << out;
  rapidjson::Document report;
  report.Parse(out.c_str());
  ASSERT_FALSE(report.HasParseError()) << out;
  std::set<std::string> names;
  for (const auto& t : report["tools"].GetArray()) {
    names.insert(t["name"].GetString());
    EXPECT_TRUE(t["forwards_to_mcp"].GetBool());
  }
  EXPECT_TRUE(names.count("list_directory")) << out;
  EXPECT_TRUE(names.count("read_text_file") || names.count("read_file")) << out;

  // Build it against the installed SDK only, load it, call a tool end to end.
  fs::path so = build_project(project, "fs_tools");
  ASSERT_TRUE(fs::exists(so));
  {
    Adapter adapter(so);
    ASSERT_EQ(adapter.error(), "");
    EXPECT_STREQ(adapter.desc()->name, "fs_tools");
    auto listed = adapter.call_tool("list_directory", "{\"path\":" + json_string(files.string()) + "}");
    ASSERT_EQ(listed.status, ATLAS_OK) << listed.err;
    rapidjson::Document resp;
    resp.Parse(listed.out.c_str());
    ASSERT_TRUE(resp.IsObject()) << listed.out;
    std::string content = resp["content"].GetString();
    EXPECT_NE(content.find("[FILE] hello.txt"), std::string::npos) << content;
    EXPECT_NE(content.find("[DIR] sub"), std::string::npos) << content;

    // Bad arguments never reach the server: the generated validator names the field.
    auto bad = adapter.call_tool("list_directory", R"({"path": 42})");
    EXPECT_EQ(bad.status, ATLAS_INVALID_ARGUMENT);
    EXPECT_NE(bad.err.find("/path: expected a string, found number 42"), std::string::npos) << bad.err;
    auto unknown = adapter.call_tool("no_such_tool", "{}");
    EXPECT_EQ(unknown.status, ATLAS_INVALID_ARGUMENT);
    EXPECT_NE(unknown.err.find("unknown tool \"no_such_tool\""), std::string::npos) << unknown.err;

    // The server is outside the allowed folder's sandbox for other paths: a tool error, not a crash.
    auto denied = adapter.call_tool("list_directory", R"({"path": "/"})");
    EXPECT_EQ(denied.status, ATLAS_OK) << denied.err;
    EXPECT_NE(denied.out.find("\"is_error\":true"), std::string::npos) << denied.out;
  }

  // Scanning again without a change rewrites nothing.
  auto [rc2, out2] = run(scan_cmd);
  ASSERT_EQ(rc2, 0) << out2;
  rapidjson::Document again;
  again.Parse(out2.c_str());
  for (const auto& f : again["files"].GetArray()) {
    std::string action = f["action"].GetString();
    EXPECT_TRUE(action == "unchanged" || action == "kept (user-owned)") << f["path"].GetString() << ": " << action;
  }
}

TEST(ScanE2E, GeneratedValidatorsReportJsonPointers) {
  TempDir work;
  fs::path project = work.path / "json_tools";
  fs::copy(fs::path(ATLAS_SCAN_GOLDEN) / "json/project", project, fs::copy_options::recursive);
  fs::path so = build_project(project, "json_tools");
  ASSERT_TRUE(fs::exists(so));
  Adapter adapter(so);
  ASSERT_EQ(adapter.error(), "");

  struct Case {
    const char* tool;
    const char* args;
    const char* expected;
  } cases[] = {
      {"get_weather", R"({"days": 3})", "/city: is required"},
      {"get_weather", R"({"city": "", "days": 3})", "/city: must be at least 1 characters long"},
      {"get_weather", R"({"city": "Oslo", "days": 0})", "/days: must be greater than 0"},
      {"get_weather", R"({"city": "Oslo", "days": 2, "unit": "kelvin"})",
       "/unit: must be one of \"celsius\", \"fahrenheit\""},
      {"get_weather", R"({"city": "Oslo", "days": 2, "api": "v1"})", "/api"},
      {"get_weather", R"({"city": "Oslo", "days": 2, "color": "red"})", "/color: unknown property"},
      {"plot_route", R"({"points": [{"lat": 1, "lon": 2}, {"lat": 100, "lon": 2}]})",
       "/points/1/lat: must be at most 90"},
      {"plot_route", R"({"points": [{"lat": 1, "lon": 2}, {"lat": 1}]})", "/points/1/lon: is required"},
      {"plot_route", R"({"points": [{"lat": 1, "lon": 2}, {"lat": 3, "lon": 4}], "tags": ["a", "B"]})",
       "/tags/1: must match the pattern"},
      {"plot_route", R"({"points": [{"lat": 1, "lon": 2}, {"lat": 3, "lon": 4}], "tags": ["a"]})", "/tags"},
      {"files.read", R"({"path": "a", "max_bytes": 0})", "/max_bytes: must be at least 1"},
      {"files_read_feef3122", R"({})", "/path: is required"},  // the OpenAI-safe name maps back
  };
  for (const Case& c : cases) {
    auto r = adapter.call_tool(c.tool, c.args);
    EXPECT_EQ(r.status, ATLAS_INVALID_ARGUMENT) << c.tool << " " << c.args << " -> " << r.out;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.tool << " " << c.args << "\n  got: " << r.err;
  }
  // Hostile nesting (a request, or tool arguments given as a JSON string, 200k levels deep) is
  // refused as invalid input by the generated code: its parser is the SDK's depth-limited one,
  // not RapidJSON's recursive default, which overflows the stack at this depth.
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  auto deep_args = adapter.call_tool("get_weather", json_string(deep));
  EXPECT_EQ(deep_args.status, ATLAS_INVALID_ARGUMENT) << deep_args.err.substr(0, 300);
  EXPECT_NE(deep_args.err.find("not JSON"), std::string::npos) << deep_args.err.substr(0, 300);
  auto deep_request = adapter.invoke(R"({"role":"executor","messages":)" + deep + "}");
  EXPECT_EQ(deep_request.status, ATLAS_INVALID_ARGUMENT) << deep_request.err.substr(0, 300);
  // Valid arguments reach the user-owned stub, which says where to write the code.
  auto ok = adapter.call_tool("get_weather", R"({"city": "Oslo", "days": 2, "api": "v2", "when": null})");
  EXPECT_EQ(ok.status, ATLAS_UNIMPLEMENTED) << ok.err;
  EXPECT_NE(ok.err.find("src/tools/get_weather.cpp"), std::string::npos) << ok.err;
}

}  // namespace

// The atlas.toml a scan writes runs as generated (against mock-llm standing in for OpenAI), and a
// tool the generated adapter runs in its own tool loop reaches the session like one the host ran:
// a tool_call event with its result in the trace and the export, the step's tool evidence (its
// tool_call_count, what the judges see), and the student's tokens counted once.
TEST(ScanE2E, GeneratedConfigRunsAsGeneratedAndItsToolCallsAreRecorded) {
  atlas::testing::MockLlm mock(R"({"models": [], "rules": [
    {"match": {"last_message_contains": "pong"}, "response": {"text": "the ping answered", "usage": {"prompt_tokens": 20, "completion_tokens": 4}}},
    {"match": {"has_tools": true}, "response": {"tool_calls": [{"id": "c1", "name": "ping", "arguments": {}}], "usage": {"prompt_tokens": 10, "completion_tokens": 2}}}]})");
  ASSERT_TRUE(mock.ok());
  TempDir work;
  fs::path project = work.path / "json_tools";
  const std::string host = std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host";
  auto [rc, out] =
      run(host + " scan " + quote(std::string(ATLAS_TEST_SOURCE_DIR) + "/tests/integration/scan/fixtures/json") +
          " --out " + quote(project.string()) + " --name json_tools");
  ASSERT_EQ(rc, 0) << out;
  std::ofstream(project / "src/tools/ping.cpp")
      << "#include \"gen/tools.hpp\"\nnamespace gen {\nstd::string run_ping(ToolContext&, const PingArgs&) {\n"
         "  return R\"({\"content\":[{\"type\":\"text\",\"text\":\"pong\"}]})\";\n}\n}  // namespace gen\n";
  fs::path so = build_project(project, "json_tools");
  ASSERT_TRUE(fs::exists(so));
  fs::create_directories(project / "plugins");
  fs::copy_file(so, project / "plugins/json_tools.so");

  const std::string env =
      "cd " + quote(project.string()) +
      " && env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY OPENAI_BASE_URL=" + quote(mock.openai_base()) +
      " " + quote(host);
  auto [run_rc, report] = run(env + " run --task 'ping the service' --json 2>/dev/null");
  ASSERT_EQ(run_rc, 0) << report;
  rapidjson::Document r;
  // The helper merges stderr into the output: the report is the line that starts with '{' (a
  // warning may precede it, e.g. the verifiable judge having no expected answer to check).
  const size_t json_start = report.find("\n{") == std::string::npos ? report.find('{') : report.find("\n{") + 1;
  ASSERT_NE(json_start, std::string::npos) << report;
  r.Parse(report.c_str() + json_start);
  ASSERT_TRUE(r.IsObject()) << report;
  EXPECT_STREQ(r["final_answer"].GetString(), "the ping answered") << report;
  // Two student calls (the tool call, then the answer): 36 tokens, billed once, to the student.
  ASSERT_TRUE(r["tokens"].IsObject()) << report;
  std::set<std::string> roles;
  for (auto m = r["tokens"].MemberBegin(); m != r["tokens"].MemberEnd(); ++m) roles.insert(m->name.GetString());
  EXPECT_EQ(roles, std::set<std::string>{"student"}) << report;
  EXPECT_EQ(r["total_tokens"].GetInt64(), 36) << report;

  auto [show_rc, session] = run(env + " review show " + r["session_id"].GetString() + " --json 2>/dev/null");
  ASSERT_EQ(show_rc, 0) << session;
  EXPECT_NE(session.find("\"type\":\"tool_call\""), std::string::npos) << session;
  EXPECT_NE(session.find("\"result\":\"pong\""), std::string::npos) << session;
  // The step counts the adapter's tool call, as the judges' tool evidence does (one list feeds both).
  EXPECT_NE(session.find("\"tool_call_count\":1"), std::string::npos) << session;
  auto [trace_rc, trace] = run(env + " export --format atlas-jsonl --output - --include-all-statuses 2>/dev/null");
  ASSERT_EQ(trace_rc, 0) << trace;
  EXPECT_NE(trace.find("\"call_id\":\"c1\""), std::string::npos) << trace;
  // Chat-format exports rebuild the tool turn from the event: the call and its result.
  auto [sft_rc, sft] = run(env + " export --format openai-ft --output - --include-all-statuses 2>/dev/null");
  ASSERT_EQ(sft_rc, 0) << sft;
  EXPECT_NE(sft.find("\"tool_call_id\":\"c1\""), std::string::npos) << sft;
  EXPECT_NE(sft.find("\"content\":\"pong\""), std::string::npos) << sft;
}
