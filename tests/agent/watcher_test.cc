#include "agent/standalone/watcher.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/fixtures/fixtures.h"

namespace xgate::standalone {
namespace {

namespace fs = std::filesystem;
using Event = DirectoryWatcher::Event;
constexpr std::chrono::milliseconds kQuiet{20};

// A pipe whose read end is readable from the start: Wait returns kStopped unless a change
// is already pending.
class StopPipe {
 public:
  StopPipe() {
    EXPECT_EQ(pipe(fds_), 0);
    EXPECT_EQ(write(fds_[1], "x", 1), 1);
  }
  ~StopPipe() {
    close(fds_[0]);
    close(fds_[1]);
  }
  int fd() const { return fds_[0]; }

 private:
  int fds_[2];
};

TEST(DirectoryWatcher, MissingFolderIsRefused) {
  fixtures::TempDir dir;
  EXPECT_FALSE(DirectoryWatcher::Create(dir.path() / "absent").ok());
}

TEST(DirectoryWatcher, FileAddedChangedAndRemoved) {
  fixtures::TempDir dir;
  auto w = DirectoryWatcher::Create(dir.path());
  ASSERT_TRUE(w.ok()) << w.status();
  fixtures::WriteFile(dir.path() / "a.yaml", "kind: Namespace\n");
  EXPECT_EQ((*w)->Wait(-1, kQuiet), Event::kChanged);
  fixtures::WriteFile(dir.path() / "a.yaml", "kind: Namespace\nmetadata: {name: x}\n");
  EXPECT_EQ((*w)->Wait(-1, kQuiet), Event::kChanged);
  fs::remove(dir.path() / "a.yaml");
  EXPECT_EQ((*w)->Wait(-1, kQuiet), Event::kChanged);
}

TEST(DirectoryWatcher, StopFdEndsTheWaitWhenNothingChanged) {
  fixtures::TempDir dir;
  auto w = DirectoryWatcher::Create(dir.path());
  ASSERT_TRUE(w.ok());
  StopPipe stop;
  EXPECT_EQ((*w)->Wait(stop.fd(), kQuiet), Event::kStopped);
}

TEST(DirectoryWatcher, EditorRenameOverIsAChange) {
  fixtures::TempDir dir;
  fixtures::WriteFile(dir.path() / "a.yaml", "kind: Namespace\n");
  auto w = DirectoryWatcher::Create(dir.path());
  ASSERT_TRUE(w.ok());
  fixtures::WriteFile(dir.path() / ".a.yaml.swp", "scratch");
  fs::rename(dir.path() / ".a.yaml.swp", dir.path() / "a.yaml");
  EXPECT_EQ((*w)->Wait(-1, kQuiet), Event::kChanged);
}

TEST(DirectoryWatcher, FilesInNewSubfoldersAreWatched) {
  fixtures::TempDir dir;
  auto w = DirectoryWatcher::Create(dir.path());
  ASSERT_TRUE(w.ok());
  fs::create_directory(dir.path() / "team");
  EXPECT_EQ((*w)->Wait(-1, kQuiet), Event::kChanged);
  fixtures::WriteFile(dir.path() / "team" / "route.yaml", "kind: Namespace\n");
  EXPECT_EQ((*w)->Wait(-1, kQuiet), Event::kChanged);
}

TEST(DirectoryWatcher, FolderGoneAndBack) {
  fixtures::TempDir dir;
  fs::path root = dir.path() / "manifests";
  fs::create_directory(root);
  auto w = DirectoryWatcher::Create(root);
  ASSERT_TRUE(w.ok());
  fs::remove_all(root);
  EXPECT_EQ((*w)->Wait(-1, kQuiet), Event::kChanged);
  fs::create_directory(root);
  EXPECT_EQ((*w)->Wait(-1, kQuiet), Event::kChanged);
  fixtures::WriteFile(root / "a.yaml", "kind: Namespace\n");
  EXPECT_EQ((*w)->Wait(-1, kQuiet), Event::kChanged);
}

}  // namespace
}  // namespace xgate::standalone
