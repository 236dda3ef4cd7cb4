// The admin API: the service in this process over a pipeline with no data plane (so no
// interface is touched), read and driven through its gRPC stub and through xgatectl.
#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "agent/admin/server.h"
#include "api/admin.grpc.pb.h"
#include "tests/fixtures/fixtures.h"
#include "tests/fixtures/folder_pipeline.h"

namespace xgate {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr char kBaz[] =
    "apiVersion: gateway.networking.k8s.io/v1\n"
    "kind: HTTPRoute\n"
    "metadata: {name: baz, namespace: foo}\n"
    "spec:\n"
    "  parentRefs: [{name: prod-web, namespace: default}]\n"
    "  hostnames: [baz.example.com]\n"
    "  rules: [{backendRefs: [{name: foo-home, port: 8080}]}]\n";

struct CtlRun {
  int code = -1;
  std::string out, err;
};

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    manifests_ = tmp_.path() / "manifests";
    fs::create_directory(manifests_);
    fixtures::WriteSeedV1(manifests_);
    socket_ = (tmp_.path() / "run" / "admin.sock").string();
    Start();
  }

  // An agent as xgate-agent builds one, on node address 198.18.0.1, without appliers.
  void Start(bool kubernetes_mode = false) {
    server_.reset();
    pipeline_ = std::make_unique<fixtures::FolderPipeline>(
        manifests_, std::vector<std::string>{"198.18.0.1"},
        std::vector<std::unique_ptr<appliers::Applier>>{});
    ASSERT_TRUE(pipeline_->Reload().ok());
    admin::AdminOptions options;
    if (!kubernetes_mode) options.folder = &pipeline_->folder_source();
    auto server = admin::AdminServer::Start(socket_, *pipeline_, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  CtlRun Ctl(const std::string& args) {
    fs::path out = tmp_.path() / "ctl.out", err = tmp_.path() / "ctl.err";
    std::string cmd = std::string(XGATECTL_PATH) + " --socket " + socket_ + " " + args + " >" +
                      out.string() + " 2>" + err.string();
    int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, fixtures::ReadFile(out),
            fixtures::ReadFile(err)};
  }

  json State() {
    auto stub = api::Admin::NewStub(
        grpc::CreateChannel("unix:" + socket_, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    api::GetStateResponse response;
    grpc::Status s = stub->GetState(&context, api::GetStateRequest(), &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    json state = json::parse(response.objects_json());
    state["generation"] = response.generation();
    return state;
  }

  static std::string Accepted(const json& list, const std::string& ns, const std::string& name) {
    for (const auto& item : list["items"]) {
      if (item["kind"] != "HTTPRoute" || item["metadata"]["namespace"] != ns ||
          item["metadata"]["name"] != name) {
        continue;
      }
      for (const auto& c : item["status"]["parents"][0]["conditions"]) {
        if (c["type"] == "Accepted") return c["status"];
      }
    }
    return "absent";
  }

  fixtures::TempDir tmp_;
  fs::path manifests_;
  std::string socket_;
  std::unique_ptr<fixtures::FolderPipeline> pipeline_;
  std::unique_ptr<admin::AdminServer> server_;
};

TEST_F(AdminTest, SocketIsOwnerOnly) {
  struct stat st {};
  ASSERT_EQ(stat(socket_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(AdminTest, SecondServerOnTheSameSocketIsRefused) {
  auto second = admin::AdminServer::Start(socket_, *pipeline_);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("another agent"));
  // The first one still answers.
  EXPECT_EQ(State()["kind"], "List");
}

TEST_F(AdminTest, GetStateIsTheCheckList) {
  json state = State();
  EXPECT_EQ(state["kind"], "List");
  EXPECT_EQ(state["generation"], 1);
  EXPECT_EQ(Accepted(state, "foo", "foo-route"), "True");
  EXPECT_EQ(Accepted(state, "bar", "bar-route"), "True");
  // The Gateway serves on (and reports) the node's addresses.
  for (const auto& item : state["items"]) {
    if (item["kind"] != "Gateway") continue;
    EXPECT_THAT(item["status"]["addresses"].dump(), HasSubstr("198.18.0.1"));
  }
}

TEST_F(AdminTest, GetCommands) {
  CtlRun gateways = Ctl("get gateways");
  EXPECT_EQ(gateways.code, 0) << gateways.err;
  EXPECT_THAT(gateways.out, HasSubstr("prod-web"));
  EXPECT_THAT(gateways.out, HasSubstr("198.18.0.1"));

  CtlRun routes = Ctl("get routes -o json");
  EXPECT_EQ(routes.code, 0) << routes.err;
  json list = json::parse(routes.out);
  EXPECT_EQ(list["items"].size(), 2u);
  EXPECT_EQ(Accepted(list, "foo", "foo-route"), "True");

  CtlRun yaml = Ctl("get routes -o yaml");
  EXPECT_EQ(yaml.code, 0);
  EXPECT_THAT(yaml.out, HasSubstr("kind: HTTPRoute"));

  CtlRun backends = Ctl("get backends");
  EXPECT_EQ(backends.code, 0) << backends.err;
  EXPECT_THAT(backends.out, HasSubstr("198.18.1.11:8080"));
  EXPECT_THAT(backends.out, HasSubstr("198.18.2.21:8080"));

  CtlRun status = Ctl("status");
  EXPECT_EQ(status.code, 0);
  EXPECT_THAT(status.out, HasSubstr("PathPrefix /login -> foo/foo-auth:8080"));
  EXPECT_THAT(status.out, HasSubstr("Snapshot 1 applied"));
}

TEST_F(AdminTest, ApplyAndDeleteGoThroughTheFolder) {
  fixtures::WriteFile(tmp_.path() / "baz.yaml", kBaz);
  CtlRun apply = Ctl("apply -f " + (tmp_.path() / "baz.yaml").string());
  EXPECT_EQ(apply.code, 0) << apply.err;
  EXPECT_THAT(apply.out, HasSubstr("HTTPRoute foo/baz configured"));
  EXPECT_THAT(apply.out, HasSubstr("snapshot 2 applied"));
  EXPECT_TRUE(fs::exists(manifests_ / "httproute-foo-baz.yaml"));
  EXPECT_EQ(Accepted(State(), "foo", "baz"), "True");

  // Survives a restart: the folder holds it.
  Start();
  EXPECT_EQ(Accepted(State(), "foo", "baz"), "True");

  CtlRun del = Ctl("delete -f " + (tmp_.path() / "baz.yaml").string());
  EXPECT_EQ(del.code, 0) << del.err;
  EXPECT_THAT(del.out, HasSubstr("HTTPRoute foo/baz deleted"));
  EXPECT_FALSE(fs::exists(manifests_ / "httproute-foo-baz.yaml"));
  EXPECT_EQ(Accepted(State(), "foo", "baz"), "absent");

  CtlRun again = Ctl("delete -f " + (tmp_.path() / "baz.yaml").string());
  EXPECT_EQ(again.code, 1);
  EXPECT_THAT(again.err, HasSubstr("HTTPRoute foo/baz not found"));
}

TEST_F(AdminTest, ApplyAndDeleteInKubernetesModeNameKubectl) {
  Start(/*kubernetes_mode=*/true);
  fixtures::WriteFile(tmp_.path() / "baz.yaml", kBaz);
  for (const char* verb : {"apply", "delete"}) {
    CtlRun run = Ctl(std::string(verb) + " -f " + (tmp_.path() / "baz.yaml").string());
    EXPECT_NE(run.code, 0) << verb;
    EXPECT_THAT(run.err, HasSubstr("kubectl " + std::string(verb) + " -f")) << verb;
  }
  EXPECT_FALSE(fs::exists(manifests_ / "httproute-foo-baz.yaml"));
  EXPECT_EQ(Accepted(State(), "foo", "baz"), "absent");
}

TEST_F(AdminTest, ManifestThatDoesNotLoadIsRefusedAndNothingWritten) {
  fixtures::WriteFile(tmp_.path() / "bad.yaml",
                      "apiVersion: gateway.networking.k8s.io/v1\n"
                      "kind: HTTPRoute\n"
                      "metadata: {name: bad, namespace: foo}\n"
                      "spec:\n"
                      "  rules:\n"
                      "  - matches: [{path: {type: PathPrefix, value: nope}}]\n");
  auto before = std::distance(fs::directory_iterator(manifests_), fs::directory_iterator());
  CtlRun apply = Ctl("apply -f " + (tmp_.path() / "bad.yaml").string());
  EXPECT_EQ(apply.code, 1);
  EXPECT_THAT(apply.err, HasSubstr("bad.yaml:6"));
  EXPECT_THAT(apply.err, HasSubstr("spec.rules[0].matches[0].path.value"));
  EXPECT_EQ(std::distance(fs::directory_iterator(manifests_), fs::directory_iterator()), before);
  EXPECT_EQ(State()["generation"], 1);
}

TEST(AdminClient, UnreachableAgentIsAClearError) {
  fixtures::TempDir tmp;
  std::string cmd = std::string(XGATECTL_PATH) + " --socket " +
                    (tmp.path() / "none.sock").string() + " get routes 2>" +
                    (tmp.path() / "err").string();
  int status = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_THAT(fixtures::ReadFile(tmp.path() / "err"), HasSubstr("cannot reach the agent"));
}

}  // namespace
}  // namespace xgate
